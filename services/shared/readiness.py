"""Readiness: check a service's dependencies and report the result as its gRPC health.

The overall health service ("") is SERVING only while every dependency check passes and the
service is not shutting down; Kubernetes uses it as the readiness probe. The service named
LIVENESS_SERVICE stays SERVING for as long as the process runs, so a dependency outage
takes a pod out of its Service without restarting it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping

from grpc_health.v1 import health, health_pb2
from nats.aio.client import Client
from sqlalchemy import text
from sqlalchemy.engine import Engine

from services.shared import metrics

logger = logging.getLogger(__name__)

LIVENESS_SERVICE = "liveness"
CHECK_INTERVAL_SECONDS = 5.0
CHECK_TIMEOUT_SECONDS = 3.0

# A check returns when the dependency is reachable and raises otherwise.
Check = Callable[[], Awaitable[None]]

_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class ReadinessMonitor:
    """Run `checks` every `interval` seconds and set the overall health from the results."""

    def __init__(
        self,
        health_servicer: health.aio.HealthServicer,
        checks: Mapping[str, Check],
        *,
        interval: float = CHECK_INTERVAL_SECONDS,
        timeout: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._health = health_servicer
        self._checks = dict(checks)
        self._interval = interval
        self._timeout = timeout
        self._failing: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Report LIVENESS_SERVICE as SERVING, run the first round of checks, keep checking."""
        await self._health.set(LIVENESS_SERVICE, _SERVING)
        await self.check_once()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop checking and report NOT_SERVING, so no new work is routed here."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._health.set("", _NOT_SERVING)

    async def check_once(self) -> bool:
        """Run every check once, set the overall health and return whether all passed."""
        results = await asyncio.gather(*(self._check(name) for name in self._checks))
        failing = {name: error for name, error in zip(self._checks, results, strict=True) if error}
        self._log_changes(failing)
        self._failing = failing
        await self._health.set("", _NOT_SERVING if failing else _SERVING)
        return not failing

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.check_once()

    async def _check(self, name: str) -> str:
        """Return "" when the check passes, else the reason it failed."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._checks[name]()
        except TimeoutError:
            error = f"timed out after {self._timeout:g} s"
        except Exception as exc:  # any failure means the dependency is unusable
            error = f"{type(exc).__name__}: {exc}"
        else:
            error = ""
        metrics.DEPENDENCY_UP.labels(dependency=name).set(0 if error else 1)
        return error

    def _log_changes(self, failing: Mapping[str, str]) -> None:
        # Only transitions are logged, so an outage produces two lines and not one per round.
        for name, error in failing.items():
            if name not in self._failing:
                logger.warning("%s is unreachable: %s; reporting NOT_SERVING", name, error)
        for name in self._failing:
            if name not in failing:
                logger.info("%s is reachable again", name)


def nats_check(client: Client) -> Check:
    """Return a check that JetStream responds on the connection `client`."""

    async def check() -> None:
        if not client.is_connected:
            raise ConnectionError("not connected to NATS")
        await client.jetstream().account_info()

    return check


def database_check(engine: Engine) -> Check:
    """Return a check that the database behind `engine` runs a query."""

    # NOTE: a timed-out check leaves its thread waiting on the driver, so a database that
    # accepts connections but never responds ties up one thread per round until it does.
    def query() -> None:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    async def check() -> None:
        await asyncio.to_thread(query)

    return check
