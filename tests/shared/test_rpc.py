"""Errors and ids across a real gRPC server and client built with services.shared.rpc."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from ferry.notifier.v1 import notifier_pb2, notifier_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.shared import logs, rpc
from services.shared.errors import (
    InsufficientCredits,
    InternalError,
    InvalidRequest,
    NotFound,
)
from services.shared.netguard import BlockedAddressError


class ScriptedNotifier(notifier_pb2_grpc.NotifierServiceServicer):
    """Raise `error` from ListDeliveries, and record the ids bound while handling it."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.seen_ids: dict[str, str] = {}

    async def ListDeliveries(
        self, request: notifier_pb2.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> notifier_pb2.ListDeliveriesResponse:
        self.seen_ids = {
            "request_id": logs.request_id_var.get(),
            "account_id": logs.account_id_var.get(),
            "import_id": logs.import_id_var.get(),
        }
        if self.error is not None:
            raise self.error
        return notifier_pb2.ListDeliveriesResponse()


@dataclass
class Served:
    servicer: ScriptedNotifier
    health: health.aio.HealthServicer
    channel: grpc.aio.Channel
    stub: notifier_pb2_grpc.NotifierServiceStub


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    servicer = ScriptedNotifier()
    server, health_servicer = rpc.create_server()
    notifier_pb2_grpc.add_NotifierServiceServicer_to_server(servicer, server)
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    channel = rpc.open_channel(f"127.0.0.1:{port}")
    yield Served(servicer, health_servicer, channel, notifier_pb2_grpc.NotifierServiceStub(channel))
    await channel.close()
    await server.stop(None)


async def call(served: Served) -> notifier_pb2.ListDeliveriesResponse:
    request = notifier_pb2.ListDeliveriesRequest(account_id="acc_1", import_id="imp_1")
    return await served.stub.ListDeliveries(request, timeout=5)


async def test_rpc_insufficient_credits_round_trip(served: Served) -> None:
    served.servicer.error = InsufficientCredits(
        "balance 0 can't cover 5 credits; buy credits", required=5, balance=0, ratio=2.5
    )

    with pytest.raises(InsufficientCredits) as caught:
        await call(served)

    assert caught.value.message == "balance 0 can't cover 5 credits; buy credits"
    assert caught.value.code == "insufficient_credits"
    assert caught.value.details == {"required": 5, "balance": 0, "ratio": 2.5}
    assert isinstance(caught.value.details["required"], int)


async def test_rpc_custom_code_round_trip(served: Served) -> None:
    served.servicer.error = BlockedAddressError(
        "10.0.0.1 is a private address", host="intranet.test", address="10.0.0.1"
    )

    with pytest.raises(InvalidRequest) as caught:
        await call(served)

    assert caught.value.code == "blocked_address"
    assert caught.value.details == {"host": "intranet.test", "address": "10.0.0.1"}


async def test_rpc_unexpected_error_hides_text(served: Served) -> None:
    served.servicer.error = RuntimeError("password=hunter2 in /etc/ferry")

    with pytest.raises(InternalError) as caught:
        await call(served)

    assert "hunter2" not in caught.value.message
    assert caught.value.code == "internal_error"


async def test_rpc_unexpected_error_logged(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    served.servicer.error = RuntimeError("boom")

    with pytest.raises(InternalError):
        await call(served)

    assert "ListDeliveries failed with an unexpected error" in caplog.text


async def test_rpc_ids_travel_as_metadata(served: Served) -> None:
    with logs.bind(request_id="req_1", account_id="acc_1", import_id="imp_1"):
        await call(served)

    assert served.servicer.seen_ids == {
        "request_id": "req_1",
        "account_id": "acc_1",
        "import_id": "imp_1",
    }


async def test_rpc_success_passes_through(served: Served) -> None:
    assert await call(served) == notifier_pb2.ListDeliveriesResponse()


async def test_rpc_plain_status_maps_to_error() -> None:
    # A peer that aborts without Ferry's details still yields the matching error class.
    class PlainNotifier(notifier_pb2_grpc.NotifierServiceServicer):
        async def ListDeliveries(self, request, context):  # type: ignore[no-untyped-def]
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such import")

    server = grpc.aio.server()
    notifier_pb2_grpc.add_NotifierServiceServicer_to_server(PlainNotifier(), server)
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    channel = rpc.open_channel(f"127.0.0.1:{port}")
    try:
        stub = notifier_pb2_grpc.NotifierServiceStub(channel)
        with pytest.raises(NotFound, match="no such import"):
            await stub.ListDeliveries(notifier_pb2.ListDeliveriesRequest(), timeout=5)
    finally:
        await channel.close()
        await server.stop(None)


async def test_rpc_health_follows_set_serving(served: Served) -> None:
    checker = health_pb2_grpc.HealthStub(served.channel)

    await rpc.set_serving(served.health, True)
    serving = await checker.Check(health_pb2.HealthCheckRequest(), timeout=5)
    await rpc.set_serving(served.health, False)
    not_serving = await checker.Check(health_pb2.HealthCheckRequest(), timeout=5)

    assert serving.status == health_pb2.HealthCheckResponse.SERVING
    assert not_serving.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_status_for_carries_code_and_details() -> None:
    status = rpc.status_for(NotFound("import imp_1 not found", import_id="imp_1"))

    assert status.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert status.message == "import imp_1 not found"
    assert len(status.details) == 2


async def test_bind_port_in_use_raises() -> None:
    first, _ = rpc.create_server()
    port = rpc.bind_port(first, "127.0.0.1", 0)
    await first.start()
    second, _ = rpc.create_server()
    try:
        with pytest.raises(OSError, match=f"127.0.0.1:{port}; is the port in use"):
            rpc.bind_port(second, "127.0.0.1", port)
    finally:
        await first.stop(None)
