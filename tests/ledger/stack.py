"""An in-process Ferry for the concurrency proofs: ledger, settlement, importer and gateway.

Every part is the real service code on real infrastructure (nats-server, the moto S3
server, SQLite or PostgreSQL), run in the test's event loop so a test can start and stop
the import worker on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
from ferry.importer.v1 import importer_pb2_grpc
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from nats.js import JetStreamContext
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.importer.config import ImporterSettings
from services.importer.credits import CreditHolds
from services.importer.metadata import MetadataJobs
from services.importer.records import ImportRecords
from services.importer.server import ImporterServicer
from services.importer.storage import MediaStorage
from services.importer.worker import ImportWorker
from services.ledger import settlement
from services.ledger.config import LedgerSettings
from services.ledger.schema import entries
from services.ledger.server import LedgerServicer
from services.shared import bus, rpc
from services.shared.config import NatsSettings, PeerSettings, UrlPolicy
from tools.launch import free_port

CALL_TIMEOUT_SECONDS = 20


@dataclass
class MiniStack:
    engine: Engine
    js: JetStreamContext
    ledger_address: str
    ledger: ledger_pb2_grpc.LedgerServiceStub
    gateway: httpx.AsyncClient
    worker: ImportWorker
    records: ImportRecords
    _worker_task: asyncio.Task[None] | None = None

    def start_worker(self) -> None:
        self._worker_task = asyncio.create_task(self.worker.run())

    async def stop_worker(self) -> None:
        if self._worker_task is not None:
            await self.worker.stop(0)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._worker_task, timeout=10)
            self._worker_task = None

    async def create_account(self, credits: int, **limit_values: int) -> tuple[str, str]:
        """Create an account and return its id and API key."""
        request = ledger_pb2.CreateAccountRequest(
            name="proof", credits=credits, limits=ledger_pb2.LimitsUpdate(**limit_values)
        )
        created = await self.ledger.CreateAccount(request, timeout=CALL_TIMEOUT_SECONDS)
        return created.account.account_id, created.api_key

    async def account(self, account_id: str) -> ledger_pb2.Account:
        request = ledger_pb2.GetAccountRequest(account_id=account_id)
        return await self.ledger.GetAccount(request, timeout=CALL_TIMEOUT_SECONDS)

    def entry_amounts(self, account_id: str) -> list[int]:
        """Return the account's entry amounts in the order they were appended."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(entries.c.amount)
                .where(entries.c.account_id == account_id)
                .order_by(entries.c.id)
            )
            return [row.amount for row in rows]

    def entry_count(self, import_id: str, kind: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                select(func.count())
                .select_from(entries)
                .where(entries.c.import_id == import_id)
                .where(entries.c.kind == kind)
            ).scalar_one()


@contextlib.asynccontextmanager
async def run_stack(
    engine: Engine, nats_url: str, s3_settings, tmp_path: Path, hold_credits: int
) -> AsyncIterator[MiniStack]:
    """Run the services on `engine`; the worker stays stopped until start_worker()."""
    async with contextlib.AsyncExitStack() as stack:
        client = await nats.connect(nats_url)
        stack.push_async_callback(client.close)
        js = client.jetstream()
        await bus.ensure_streams(js, 3600)
        for stream in (bus.JOBS_STREAM, bus.EVENTS_STREAM):
            await js.purge_stream(stream)

        ledger_address = await _start_ledger(stack, engine)
        consumer = settlement.create_consumer(js, engine)
        consumer_task = asyncio.create_task(consumer.run())
        stack.push_async_callback(_stop_consumer, consumer, consumer_task)

        settings = ImporterSettings(
            tmp_dir=str(tmp_path / f"importer-{uuid.uuid4().hex[:6]}"),
            ack_wait_seconds=4,
            heartbeat_seconds=1,
            max_deliver=3,
            timeout_seconds=60,
            hold_credits=hold_credits,
            nats=NatsSettings(url=nats_url),
            s3=s3_settings,
            peers=PeerSettings(ledger=ledger_address, timeout_seconds=CALL_TIMEOUT_SECONDS),
            urls=UrlPolicy(allow_private=True),
        )
        records = await ImportRecords.open(js)
        media = MediaStorage(settings.s3)
        await media.ensure_bucket()
        ledger_channel = await stack.enter_async_context(rpc.open_channel(ledger_address))
        holds = CreditHolds(ledger_channel, CALL_TIMEOUT_SECONDS)
        worker = ImportWorker(settings, js, records, media, holds)
        worker.reset_temp_dir()
        importer_address = await _start_importer(stack, settings, js, records, holds)

        gateway = await _open_gateway(stack, ledger_address, importer_address)
        running = MiniStack(engine, js, ledger_address,
                            ledger_pb2_grpc.LedgerServiceStub(ledger_channel), gateway, worker,
                            records)
        try:
            yield running
        finally:
            await running.stop_worker()


async def _start_ledger(stack: contextlib.AsyncExitStack, engine: Engine) -> str:
    server, _ = rpc.create_server()
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(
        LedgerServicer(engine, LedgerSettings()), server
    )
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    stack.push_async_callback(server.stop, None)
    return f"127.0.0.1:{port}"


async def _start_importer(stack, settings, js, records, holds) -> str:
    server, _ = rpc.create_server()
    importer_pb2_grpc.add_ImporterServiceServicer_to_server(
        ImporterServicer(settings, js, records, holds, await MetadataJobs.open(settings, js)),
        server,
    )
    port = rpc.bind_port(server, "127.0.0.1", 0)
    await server.start()
    stack.push_async_callback(server.stop, None)
    return f"127.0.0.1:{port}"


async def _open_gateway(stack, ledger_address: str, importer_address: str) -> httpx.AsyncClient:
    peers = PeerSettings(
        importer=importer_address, ledger=ledger_address,
        notifier=f"127.0.0.1:{free_port()}", timeout_seconds=CALL_TIMEOUT_SECONDS,
    )
    app = create_app(GatewaySettings(peers=peers))
    # httpx's ASGITransport sends no lifespan events, so the lifespan runs here.
    await stack.enter_async_context(app.router.lifespan_context(app))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                               base_url="http://gateway.test", timeout=60)
    return await stack.enter_async_context(client)


async def _stop_consumer(consumer, task: asyncio.Task[None]) -> None:
    await consumer.stop(5)
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
