"""The /metrics endpoint, the gRPC request metrics and the readiness monitor, on real parts."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import nats
import pytest
from ferry.notifier.v1 import notifier_pb2, notifier_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from services.ledger import database
from services.shared import metrics, readiness, rpc
from services.shared.errors import NotFound
from tests.conftest import Infra

NOTIFIER_METHOD = "/ferry.notifier.v1.NotifierService/ListDeliveries"
_SERVING = health_pb2.HealthCheckResponse.SERVING
_NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def sample(name: str, **labels: str) -> float:
    """Return a metric's current value in the default registry, 0 when it has none yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


class FailingNotifier(notifier_pb2_grpc.NotifierServiceServicer):
    async def ListDeliveries(self, request, context):  # type: ignore[no-untyped-def]
        if request.import_id == "missing":
            raise NotFound("import 'missing' not found")
        return notifier_pb2.ListDeliveriesResponse()


@pytest.fixture
async def notifier_address() -> AsyncIterator[str]:
    server, _ = rpc.create_server()
    notifier_pb2_grpc.add_NotifierServiceServicer_to_server(FailingNotifier(), server)
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


def test_serve_metrics_exports_ferry_metrics() -> None:
    port = metrics.serve_metrics(metrics.MetricsSettings(port=0))

    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)

    assert response.status_code == 200
    assert "ferry_downloaded_bytes_total" in response.text
    assert "ferry_credits_charged_total" in response.text


def test_serve_metrics_busy_port_names_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(OSError, match="set FERRY_METRICS_PORT to a free port"):
            metrics.serve_metrics(metrics.MetricsSettings(port=port))


async def test_grpc_requests_counted_by_code(notifier_address: str) -> None:
    ok_before = sample("ferry_grpc_requests_total", method=NOTIFIER_METHOD, code="OK")
    missing_before = sample("ferry_grpc_requests_total", method=NOTIFIER_METHOD, code="NOT_FOUND")
    timed_before = sample("ferry_grpc_request_duration_seconds_count", method=NOTIFIER_METHOD)

    async with rpc.open_channel(notifier_address) as channel:
        stub = notifier_pb2_grpc.NotifierServiceStub(channel)
        await stub.ListDeliveries(
            notifier_pb2.ListDeliveriesRequest(account_id="a", import_id="found"), timeout=5
        )
        with pytest.raises(NotFound):
            await stub.ListDeliveries(
                notifier_pb2.ListDeliveriesRequest(account_id="a", import_id="missing"), timeout=5
            )

    ok = sample("ferry_grpc_requests_total", method=NOTIFIER_METHOD, code="OK")
    missing = sample("ferry_grpc_requests_total", method=NOTIFIER_METHOD, code="NOT_FOUND")
    timed = sample("ferry_grpc_request_duration_seconds_count", method=NOTIFIER_METHOD)
    assert ok == ok_before + 1
    assert missing == missing_before + 1
    assert timed == timed_before + 2


# The readiness monitor, on a real gRPC server with the standard health service.


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[rpc.health.aio.HealthServicer, str]]:
    server, health_servicer = rpc.create_server()
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    yield health_servicer, f"127.0.0.1:{port}"
    await server.stop(None)


async def health_status(address: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        request = health_pb2.HealthCheckRequest(service=service)
        response = await health_pb2_grpc.HealthStub(channel).Check(request, timeout=5)
    return response.status


async def test_readiness_serving_when_checks_pass(health_server, infra: Infra) -> None:
    servicer, address = health_server
    client = await nats.connect(infra.nats_url)
    monitor = readiness.ReadinessMonitor(servicer, {"nats": readiness.nats_check(client)})

    await monitor.start()
    try:
        assert await health_status(address) == _SERVING
        assert await health_status(address, readiness.LIVENESS_SERVICE) == _SERVING
        assert sample("ferry_dependency_up", dependency="nats") == 1
    finally:
        await monitor.stop()
        await client.close()


async def test_readiness_not_serving_when_nats_closed(
    health_server, infra: Infra, caplog: pytest.LogCaptureFixture
) -> None:
    servicer, address = health_server
    client = await nats.connect(infra.nats_url)
    await client.close()
    monitor = readiness.ReadinessMonitor(servicer, {"nats": readiness.nats_check(client)})

    with caplog.at_level(logging.WARNING, logger="services.shared.readiness"):
        await monitor.start()
    try:
        assert await health_status(address) == _NOT_SERVING
        assert await health_status(address, readiness.LIVENESS_SERVICE) == _SERVING
        assert sample("ferry_dependency_up", dependency="nats") == 0
        assert "nats is unreachable: ConnectionError: not connected to NATS" in caplog.text
    finally:
        await monitor.stop()


async def test_readiness_recovers_and_logs_once(
    health_server, caplog: pytest.LogCaptureFixture
) -> None:
    servicer, address = health_server
    state = {"up": False}

    async def flaky() -> None:
        if not state["up"]:
            raise ConnectionError("refused")

    monitor = readiness.ReadinessMonitor(servicer, {"s3": flaky}, interval=60)
    with caplog.at_level(logging.INFO, logger="services.shared.readiness"):
        await monitor.start()
        await monitor.check_once()
        state["up"] = True
        await monitor.check_once()
    try:
        assert await health_status(address) == _SERVING
        assert caplog.text.count("s3 is unreachable") == 1
        assert "s3 is reachable again" in caplog.text
    finally:
        await monitor.stop()


async def test_readiness_timeout_counts_as_failure(health_server) -> None:
    servicer, address = health_server

    async def hangs() -> None:
        await asyncio.sleep(10)

    monitor = readiness.ReadinessMonitor(servicer, {"database": hangs}, timeout=0.1)

    passed = await monitor.check_once()

    assert passed is False
    assert await health_status(address) == _NOT_SERVING


async def test_readiness_stop_reports_not_serving(health_server, tmp_path: Path) -> None:
    servicer, address = health_server
    engine = database.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    monitor = readiness.ReadinessMonitor(servicer, {"database": readiness.database_check(engine)})
    await monitor.start()
    assert await health_status(address) == _SERVING

    await monitor.stop()

    assert await health_status(address) == _NOT_SERVING
    assert await health_status(address, readiness.LIVENESS_SERVICE) == _SERVING
    engine.dispose()
