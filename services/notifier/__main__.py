"""Run the notifier: `python -m services.notifier`."""

from __future__ import annotations

import asyncio

from services.notifier.config import NotifierSettings
from services.notifier.server import serve
from services.shared.config import load
from services.shared.logs import setup_logging
from services.shared.metrics import serve_metrics


def main() -> None:
    settings = load(NotifierSettings)
    setup_logging(settings.log, "notifier")
    serve_metrics(settings.metrics)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
