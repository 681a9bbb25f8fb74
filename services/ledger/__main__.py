"""Run the ledger service: `python -m services.ledger`."""

from __future__ import annotations

import asyncio

from services.ledger.config import LedgerSettings
from services.ledger.server import serve
from services.shared.config import load
from services.shared.logs import setup_logging
from services.shared.metrics import serve_metrics


def main() -> None:
    settings = load(LedgerSettings)
    setup_logging(settings.log, "ledger")
    serve_metrics(settings.metrics)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
