"""GET /readyz, the gateway's readiness probe; GET /healthz in routes.py is its liveness probe.

The gateway itself only talks to its gRPC peers, so it is ready when the importer, the
ledger and the notifier all report SERVING on the standard gRPC health service. Each of
them reports SERVING only while its own dependencies respond: NATS JetStream (all three),
the S3 bucket (importer) and the database (ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.shared.config import PeerSettings

logger = logging.getLogger(__name__)

# Below the readiness probe's timeoutSeconds (3 in deploy/k8s), so a peer that does not
# respond makes /readyz return 503 instead of the probe timing out.
PEER_CHECK_TIMEOUT_SECONDS = 2.0


class PeerHealth:
    """Ask each peer's gRPC health service whether it is SERVING."""

    def __init__(self, stubs: dict[str, health_pb2_grpc.HealthStub]) -> None:
        self._stubs = stubs
        self._unready: list[str] = []

    def record(self, statuses: dict[str, str]) -> list[str]:
        """Return the peers that are not SERVING, logging only when that list changes."""
        unready = sorted(name for name, status in statuses.items() if status != "SERVING")
        if unready and unready != self._unready:
            details = ", ".join(f"{name} is {statuses[name]}" for name in unready)
            logger.warning("not ready: %s", details)
        elif not unready and self._unready:
            logger.info("ready: every peer is SERVING")
        self._unready = unready
        return unready

    async def statuses(self) -> dict[str, str]:
        """Return each peer's status name: SERVING, NOT_SERVING, or the gRPC error code."""
        names = list(self._stubs)
        results = await asyncio.gather(*(self._status(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def _status(self, name: str) -> str:
        request = health_pb2.HealthCheckRequest(service="")
        try:
            response = await self._stubs[name].Check(request, timeout=PEER_CHECK_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


@contextlib.asynccontextmanager
async def open_peer_health(settings: PeerSettings) -> AsyncIterator[PeerHealth]:
    """Open one plain channel per peer for health checks, closed when the block ends."""
    addresses = {
        "importer": settings.importer,
        "ledger": settings.ledger,
        "notifier": settings.notifier,
    }
    async with contextlib.AsyncExitStack() as stack:
        stubs = {}
        for name, address in addresses.items():
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(address))
            stubs[name] = health_pb2_grpc.HealthStub(channel)
        yield PeerHealth(stubs)


async def readyz(request: Request) -> Response:
    peer_health: PeerHealth = request.app.state.peer_health
    statuses = await peer_health.statuses()
    if peer_health.record(statuses):
        return JSONResponse({"status": "unready", "peers": statuses}, status_code=503)
    return JSONResponse({"status": "ready", "peers": statuses})


ROUTES = [Route("/readyz", readyz, methods=["GET"])]
