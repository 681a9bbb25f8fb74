"""GET /readyz against real gRPC health services, and the gateway's request metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from grpc_health.v1 import health

from services.shared import rpc
from tests.gateway.conftest import ClientFactory
from tests.shared.test_metrics import sample


@pytest.fixture
async def peer() -> AsyncIterator[tuple[str, health.aio.HealthServicer]]:
    """Run a gRPC server with only the health service, reporting SERVING."""
    server, health_servicer = rpc.create_server()
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    await rpc.set_serving(health_servicer, True)
    yield f"127.0.0.1:{port}", health_servicer
    await server.stop(None)


async def test_readyz_ready_when_peers_serving(make_client: ClientFactory, peer) -> None:
    address, _ = peer
    client = await make_client(importer=address, ledger=address, notifier=address)

    response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "peers": {"importer": "SERVING", "ledger": "SERVING", "notifier": "SERVING"},
    }


async def test_readyz_unready_when_peer_not_serving(make_client: ClientFactory, peer) -> None:
    address, health_servicer = peer
    client = await make_client(importer=address, ledger=address, notifier=address)
    await rpc.set_serving(health_servicer, False)

    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["status"] == "unready"
    assert response.json()["peers"]["ledger"] == "NOT_SERVING"


async def test_readyz_unready_when_peer_unreachable(make_client: ClientFactory, peer) -> None:
    address, _ = peer
    client = await make_client(ledger=address, notifier=address)

    response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["peers"]["importer"] == "UNAVAILABLE"
    assert response.json()["peers"]["ledger"] == "SERVING"


async def test_healthz_ok_without_peers(make_client: ClientFactory) -> None:
    client = await make_client()

    response = await client.get("/healthz")

    assert response.status_code == 200


async def test_request_metrics_use_route_template(make_client: ClientFactory) -> None:
    client = await make_client()
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    before = sample("ferry_http_requests_total", **labels)
    timed_before = sample(
        "ferry_http_request_duration_seconds_count", route="/healthz", method="GET"
    )

    await client.get("/healthz")

    assert sample("ferry_http_requests_total", **labels) == before + 1
    assert sample(
        "ferry_http_request_duration_seconds_count", route="/healthz", method="GET"
    ) == timed_before + 1


async def test_request_metrics_group_unknown_paths(make_client: ClientFactory) -> None:
    client = await make_client()
    labels = {"route": "unmatched", "method": "GET", "status": "404"}
    before = sample("ferry_http_requests_total", **labels)

    await client.get("/no-such-path/12345")
    await client.get("/another-unknown")

    assert sample("ferry_http_requests_total", **labels) == before + 2


async def test_request_metrics_count_errors(make_client: ClientFactory) -> None:
    client = await make_client()
    labels = {"route": "/import/status", "method": "GET", "status": "401"}
    before = sample("ferry_http_requests_total", **labels)

    response = await client.get("/import/status", params={"id": "x"})

    assert response.status_code == 401
    assert sample("ferry_http_requests_total", **labels) == before + 1
