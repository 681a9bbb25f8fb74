"""Run the notifier: `python -m services.notifier`."""

from __future__ import annotations

import asyncio

from services.notifier.config import NotifierSettings
from services.notifier.server import serve
from services.shared.config import load
from services.shared.logs import setup_logging


def main() -> None:
    settings = load(NotifierSettings)
    setup_logging(settings.log, "notifier")
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
