"""Structured logging: JSON lines carrying the ids of the request, account and import.

The ids live in context variables, so every record logged while handling a request or a
job carries them without being passed around. `bind()` sets them for a block.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator

from pythonjsonlogger.json import JsonFormatter

from services.shared.config import LogSettings

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
account_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("account_id", default="")
import_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("import_id", default="")

_CONTEXT_VARS = {
    "request_id": request_id_var,
    "account_id": account_id_var,
    "import_id": import_id_var,
}


class ContextFilter(logging.Filter):
    """Copy the ids from the context variables onto each record that lacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT_VARS.items():
            if not getattr(record, name, ""):
                setattr(record, name, var.get())
        return True


class TextFormatter(logging.Formatter):
    """A text formatter that escapes control characters in the message.

    A CR or LF taken from a request (a URL, a path) would otherwise start a forged log
    line. Tracebacks are appended after this step and keep their line breaks.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = _escape_controls(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


def _escape_controls(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


@contextlib.contextmanager
def bind(**ids: str) -> Iterator[None]:
    """Set request_id, account_id or import_id for the records logged inside the block."""
    tokens = [(_CONTEXT_VARS[name], _CONTEXT_VARS[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def setup_logging(settings: LogSettings, service: str) -> None:
    """Send every record to stderr as JSON (or text), tagged with the service name."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if settings.format == "text":
        handler.setFormatter(
            TextFormatter(
                f"%(asctime)s {service} %(levelname)s %(name)s: %(message)s"
                " [import=%(import_id)s account=%(account_id)s request=%(request_id)s]"
            )
        )
    else:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s"
                " %(request_id)s %(account_id)s %(import_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"service": service},
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level.upper())
    # Third-party libraries log at INFO for every request; keep them at WARNING.
    for noisy in ("httpx", "httpcore", "urllib3", "nats", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
