"""The permanent failure of an import: it ends FAILED and is not retried."""

from __future__ import annotations


class ImportFailure(Exception):
    """An import cannot succeed; `message` is shown to the client, `code` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
