"""The ledger's gRPC servicer and `serve()`, which also runs the settlement consumer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import Engine

from services.ledger import accounts, credits, database, migrate, settlement
from services.ledger.config import LedgerSettings
from services.shared import bus, lifecycle, logs, readiness, rpc

logger = logging.getLogger(__name__)

_HOLD_STATUSES = {
    credits.HELD: ledger_pb2.HOLD_STATUS_HELD,
    credits.CAPTURED: ledger_pb2.HOLD_STATUS_CAPTURED,
    credits.RELEASED: ledger_pb2.HOLD_STATUS_RELEASED,
}


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):
    """Serve the LedgerService RPCs from the database behind `engine`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def CreateAccount(
        self, request: ledger_pb2.CreateAccountRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.CreateAccountResponse:
        created = await asyncio.to_thread(
            accounts.create_account, self._engine, request.name, request.credits
        )
        return ledger_pb2.CreateAccountResponse(
            account=_account_message(created.account),
            api_key=created.api_key,
            webhook_secret=created.webhook_secret,
        )

    async def GetAccount(
        self, request: ledger_pb2.GetAccountRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Account:
        account = await asyncio.to_thread(accounts.get_account, self._engine, request.account_id)
        return _account_message(account)

    async def Authenticate(
        self, request: ledger_pb2.AuthenticateRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.AuthenticateResponse:
        account_id = await asyncio.to_thread(
            accounts.authenticate, self._engine, request.api_key
        )
        return ledger_pb2.AuthenticateResponse(account_id=account_id)

    async def GetWebhookSecrets(
        self,
        request: ledger_pb2.GetWebhookSecretsRequest,
        unused_context: grpc.aio.ServicerContext,
    ) -> ledger_pb2.GetWebhookSecretsResponse:
        secrets = await asyncio.to_thread(
            accounts.get_webhook_secrets, self._engine, request.account_id
        )
        return ledger_pb2.GetWebhookSecretsResponse(secrets=secrets)

    async def HoldCredits(
        self, request: ledger_pb2.HoldCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        with logs.bind(import_id=request.import_id, account_id=request.account_id):
            hold = await asyncio.to_thread(
                credits.hold_credits,
                self._engine, request.import_id, request.account_id, request.credits,
            )
        return _hold_message(hold)

    async def CaptureCredits(
        self, request: ledger_pb2.CaptureCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        with logs.bind(import_id=request.import_id):
            hold = await asyncio.to_thread(
                credits.capture_credits, self._engine, request.import_id, request.credits
            )
        return _hold_message(hold)

    async def ReleaseCredits(
        self, request: ledger_pb2.ReleaseCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        with logs.bind(import_id=request.import_id):
            hold = await asyncio.to_thread(
                credits.release_credits, self._engine, request.import_id
            )
        return _hold_message(hold)


def _account_message(account: accounts.Account) -> ledger_pb2.Account:
    created_at = Timestamp()
    created_at.FromDatetime(account.created_at)
    return ledger_pb2.Account(
        account_id=account.account_id,
        name=account.name,
        balance=account.balance,
        held=account.held,
        created_at=created_at,
    )


def _hold_message(hold: credits.Hold) -> ledger_pb2.Hold:
    return ledger_pb2.Hold(
        import_id=hold.import_id,
        account_id=hold.account_id,
        status=_HOLD_STATUSES[hold.status],
        credits=hold.credits,
        captured=hold.captured,
        balance=hold.balance,
    )


async def serve(settings: LedgerSettings) -> None:
    """Run the gRPC server and the settlement consumer until SIGTERM or SIGINT."""
    stopping = lifecycle.install_stop_handlers()
    engine = database.create_engine(settings.resolved_database_url())
    try:
        if settings.migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, engine)
        await _run(settings, engine, stopping)
    finally:
        engine.dispose()


async def _run(settings: LedgerSettings, engine: Engine, stopping: asyncio.Event) -> None:
    nats_client = await bus.connect(settings.nats.url, "ferry-ledger")
    js = nats_client.jetstream()
    await bus.ensure_streams(js, settings.retention.seconds, settings.nats.replicas)

    server, health = rpc.create_server()
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(engine), server)
    port = rpc.bind_port(server, settings.host, settings.port)
    await server.start()

    consumer = settlement.create_consumer(js, engine)
    consumer_task = asyncio.create_task(consumer.run())
    monitor = readiness.ReadinessMonitor(
        health,
        {"nats": readiness.nats_check(nats_client), "database": readiness.database_check(engine)},
    )
    await monitor.start()
    logger.info("ledger listening on %s:%d", settings.host, port)

    stop_wait = asyncio.create_task(stopping.wait())
    await asyncio.wait({stop_wait, consumer_task}, return_when=asyncio.FIRST_COMPLETED)
    failure = consumer_task.exception() if consumer_task.done() else None
    if failure is not None:
        logger.error("the settlement consumer failed: %s: %s; shutting down",
                     type(failure).__name__, failure)

    await monitor.stop()
    await consumer.stop(settings.shutdown.grace_seconds)
    stop_wait.cancel()
    consumer_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(consumer_task, return_exceptions=True)
    await nats_client.drain()
    await server.stop(settings.shutdown.grace_seconds)
    logger.info("ledger stopped")

    if failure is not None:
        # Exit non-zero, so the supervisor restarts the ledger.
        raise failure
