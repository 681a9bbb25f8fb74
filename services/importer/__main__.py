"""Run the importer: `python -m services.importer`."""

from __future__ import annotations

import asyncio

from services.importer.config import ImporterSettings
from services.importer.server import serve
from services.shared.config import load
from services.shared.logs import setup_logging


def main() -> None:
    settings = load(ImporterSettings)
    setup_logging(settings.log, "importer")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
