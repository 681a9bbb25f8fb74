"""Fixtures for the notifier: webhook receivers, a real ledger and a running notifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from ferry.ledger.v1 import ledger_pb2_grpc
from ferry.notifier.v1 import notifier_pb2_grpc
from nats.js import JetStreamContext

from services.ledger import database, migrate
from services.ledger.server import LedgerServicer
from services.notifier.config import NotifierSettings
from services.notifier.server import serve
from services.shared import bus, rpc
from services.shared.config import NatsSettings, PeerSettings, UrlPolicy
from tests.notifier.support import (
    LedgerServer,
    Receiver,
    RunningNotifier,
    start_receiver,
    stop_receiver,
)
from tools import launch


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:

    receivers: list[Receiver] = []

    def start(script: list[int | str], response_body: bytes = b"") -> Receiver:
        receiver = start_receiver(script, response_body)
        receivers.append(receiver)
        return receiver

    yield start

    for receiver in receivers:
        stop_receiver(receiver)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[LedgerServer]:
    engine = database.create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate.upgrade(engine)
    server, _ = rpc.create_server()
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(engine), server)
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    yield LedgerServer(engine, f"127.0.0.1:{port}")
    await server.stop(None)
    engine.dispose()


StartNotifier = Callable[..., Awaitable[RunningNotifier]]


@pytest.fixture
async def start_notifier(
    infra, js: JetStreamContext, ledger: LedgerServer
) -> AsyncIterator[StartNotifier]:
    running: list[tuple[asyncio.Event, asyncio.Task[None], grpc.aio.Channel]] = []

    async def start(
        *,
        allow_private: bool = True,
        retry_schedule: tuple[float, ...] = (0.2, 0.2, 0.2),
        timeout_seconds: float = 1.0,
        log_retention_seconds: int | None = None,
    ) -> RunningNotifier:
        # Every test shares one nats-server, so events left by earlier tests are dropped.
        await bus.ensure_streams(js, 3600)
        await js.purge_stream(bus.EVENTS_STREAM)

        settings = NotifierSettings(
            port=launch.free_port(),
            timeout_seconds=timeout_seconds,
            retry_schedule=retry_schedule,
            log_retention_seconds=log_retention_seconds,
            nats=NatsSettings(url=infra.nats_url),
            peers=PeerSettings(ledger=ledger.address, timeout_seconds=5.0),
            url_policy=UrlPolicy(allow_private=allow_private),
        )
        stopping = asyncio.Event()
        task = asyncio.create_task(serve(settings, stopping))
        channel = rpc.open_channel(f"127.0.0.1:{settings.port}")
        running.append((stopping, task, channel))
        await asyncio.wait_for(channel.channel_ready(), timeout=10)
        return RunningNotifier(settings, notifier_pb2_grpc.NotifierServiceStub(channel))

    yield start

    for stopping, task, channel in running:
        stopping.set()
        await task
        await channel.close()
