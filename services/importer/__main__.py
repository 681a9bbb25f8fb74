"""Run the importer: `python -m services.importer`."""

from __future__ import annotations

import asyncio

from services.importer.config import ImporterSettings
from services.importer.server import serve
from services.shared.config import load
from services.shared.logs import setup_logging
from services.shared.metrics import serve_metrics


def main() -> None:
    settings = load(ImporterSettings)
    setup_logging(settings.log, "importer")
    serve_metrics(settings.metrics)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
