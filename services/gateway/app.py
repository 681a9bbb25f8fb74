"""The gateway's Starlette app and the uvicorn server that runs it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware

from services.gateway import health, openapi
from services.gateway.access import AccessLogMiddleware
from services.gateway.config import GatewaySettings
from services.gateway.errors import UnexpectedErrorMiddleware, exception_handlers
from services.gateway.limits import RateLimitHeadersMiddleware
from services.gateway.peers import open_peers
from services.gateway.request_metrics import RequestMetricsMiddleware
from services.gateway.routes import ROUTES

logger = logging.getLogger(__name__)


def create_app(settings: GatewaySettings) -> Starlette:
    """Build the app; its lifespan opens the gRPC channels and closes them at shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_peers(settings.peers) as peers, \
                health.open_peer_health(settings.peers) as peer_health:
            app.state.peers = peers
            app.state.peer_health = peer_health
            yield
        logger.info("gRPC channels closed")

    return Starlette(
        # The OpenAPI document is parsed here, once per app, rather than at import time.
        routes=[*ROUTES, *health.ROUTES, *openapi.create_routes()],
        # The first middleware is the outermost, so the access log records the 500 responses.
        middleware=[
            Middleware(RequestMetricsMiddleware),
            Middleware(AccessLogMiddleware),
            Middleware(RateLimitHeadersMiddleware),
            Middleware(UnexpectedErrorMiddleware),
        ],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )


async def serve(settings: GatewaySettings) -> None:
    """Serve the API until SIGTERM or SIGINT; uvicorn lets in-flight requests finish."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        lifespan="on",
        # Logging is set up by services.shared.logs, and AccessLogMiddleware writes the
        # access log with request and account ids.
        log_config=None,
        access_log=False,
        # On SIGTERM uvicorn stops accepting connections and waits this long for running
        # requests before it cancels them.
        timeout_graceful_shutdown=max(1, round(settings.shutdown.grace_seconds)),
    )
    server = uvicorn.Server(config)

    # Binding here, rather than inside uvicorn, gives the real port when the setting is 0.
    sock = config.bind_socket()
    host, port = sock.getsockname()[:2]
    logger.info("gateway listening on http://%s:%d", _url_host(host), port)

    await server.serve(sockets=[sock])
    logger.info("gateway stopped")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
