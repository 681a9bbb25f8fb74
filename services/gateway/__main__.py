"""Run the gateway: python -m services.gateway."""

from __future__ import annotations

import asyncio

from services.gateway.app import serve
from services.gateway.config import GatewaySettings
from services.shared.config import load
from services.shared.logs import setup_logging
from services.shared.metrics import serve_metrics


def main() -> None:
    settings = load(GatewaySettings)
    setup_logging(settings.log, "gateway")
    serve_metrics(settings.metrics)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
