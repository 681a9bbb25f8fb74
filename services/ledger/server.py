"""The ledger's gRPC servicer and `serve()`, which also runs the settlement consumer."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable

import grpc
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from sqlalchemy.engine import Engine

from services.ledger import (
    accounts,
    credits,
    database,
    grants,
    keys,
    limits,
    messages,
    migrate,
    settlement,
    usage,
)
from services.ledger.config import LedgerSettings
from services.shared import bus, lifecycle, logs, readiness, rpc
from services.shared.errors import InvalidRequest

logger = logging.getLogger(__name__)


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):
    """Serve the LedgerService RPCs from the database behind `engine`."""

    def __init__(self, engine: Engine, settings: LedgerSettings | None = None) -> None:
        self._engine = engine
        self._settings = settings or LedgerSettings()

    async def CreateAccount(
        self, request: ledger_pb2.CreateAccountRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.CreateAccountResponse:
        created = await asyncio.to_thread(
            accounts.create_account, self._engine, request.name, request.credits,
            messages.limit_changes(request.limits),
        )
        return ledger_pb2.CreateAccountResponse(
            account=messages.account_message(created.account),
            api_key=created.api_key,
            webhook_secret=created.webhook_secret,
        )

    async def GetAccount(
        self, request: ledger_pb2.GetAccountRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Account:
        with logs.bind(account_id=request.account_id):
            account, account_usage = await asyncio.to_thread(
                _account_with_usage, self._engine, request.account_id
            )
        return messages.account_message(account, account_usage)

    async def Authenticate(
        self, request: ledger_pb2.AuthenticateRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.AuthenticateResponse:
        result = await asyncio.to_thread(
            functools.partial(
                accounts.authenticate, self._engine, request.api_key, request.limit,
                endpoint=request.endpoint, slot_id=request.slot_id,
                slot_lease_seconds=self._settings.request_slot_seconds,
            )
        )
        response = ledger_pb2.AuthenticateResponse(account_id=result.account_id)
        if result.rate_limit is not None:
            response.rate_limit.CopyFrom(messages.rate_limit_message(result.rate_limit))
        return response

    async def ReleaseSlot(
        self, request: ledger_pb2.ReleaseSlotRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ReleaseSlotResponse:
        await asyncio.to_thread(_release_slot, self._engine, request.slot_id)
        return ledger_pb2.ReleaseSlotResponse()

    async def GetWebhookSecrets(
        self,
        request: ledger_pb2.GetWebhookSecretsRequest,
        unused_context: grpc.aio.ServicerContext,
    ) -> ledger_pb2.GetWebhookSecretsResponse:
        secrets = await asyncio.to_thread(
            accounts.get_webhook_secrets, self._engine, request.account_id
        )
        return ledger_pb2.GetWebhookSecretsResponse(secrets=secrets)

    async def RotateWebhookSecret(
        self,
        request: ledger_pb2.RotateWebhookSecretRequest,
        unused_context: grpc.aio.ServicerContext,
    ) -> ledger_pb2.RotateWebhookSecretResponse:
        overlap = (request.overlap_seconds if request.HasField("overlap_seconds")
                   else self._settings.webhook_secret_overlap_seconds)
        with logs.bind(account_id=request.account_id):
            rotated = await asyncio.to_thread(
                keys.rotate_webhook_secret, self._engine, request.account_id, overlap
            )
        return ledger_pb2.RotateWebhookSecretResponse(
            webhook_secret=rotated.webhook_secret,
            previous_expires_at=messages.timestamp(rotated.previous_expires_at),
        )

    async def CreateApiKey(
        self, request: ledger_pb2.CreateApiKeyRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.CreateApiKeyResponse:
        with logs.bind(account_id=request.account_id):
            info, api_key = await asyncio.to_thread(
                keys.create_api_key, self._engine, request.account_id, request.name
            )
        return ledger_pb2.CreateApiKeyResponse(key=messages.api_key_message(info),
                                               api_key=api_key)

    async def ListApiKeys(
        self, request: ledger_pb2.ListApiKeysRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListApiKeysResponse:
        infos = await asyncio.to_thread(keys.list_api_keys, self._engine, request.account_id)
        return ledger_pb2.ListApiKeysResponse(keys=[messages.api_key_message(i) for i in infos])

    async def RevokeApiKey(
        self, request: ledger_pb2.RevokeApiKeyRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ApiKey:
        with logs.bind(account_id=request.account_id):
            info = await asyncio.to_thread(
                keys.revoke_api_key, self._engine, request.account_id, request.key_id
            )
        return messages.api_key_message(info)

    async def GrantCredits(
        self, request: ledger_pb2.ChangeCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.CreditChange:
        return await self._change_credits(grants.grant_credits, request)

    async def AdjustCredits(
        self, request: ledger_pb2.ChangeCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.CreditChange:
        return await self._change_credits(grants.adjust_credits, request)

    async def _change_credits(
        self,
        change: Callable[[Engine, str, int, str], tuple[accounts.Account, usage.EntryInfo]],
        request: ledger_pb2.ChangeCreditsRequest,
    ) -> ledger_pb2.CreditChange:
        with logs.bind(account_id=request.account_id):
            account, entry = await asyncio.to_thread(
                change, self._engine, request.account_id, request.credits, request.reason
            )
        return ledger_pb2.CreditChange(
            account=messages.account_message(account), entry=messages.entry_message(entry)
        )

    async def SetLimits(
        self, request: ledger_pb2.SetLimitsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Limits:
        with logs.bind(account_id=request.account_id):
            account_limits = await asyncio.to_thread(
                _set_limits, self._engine, request.account_id,
                messages.limit_changes(request.limits),
            )
        return messages.limits_message(account_limits)

    async def ListEntries(
        self, request: ledger_pb2.ListEntriesRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListEntriesResponse:
        page = await asyncio.to_thread(
            usage.list_entries, self._engine, request.account_id, request.page_size,
            request.cursor,
        )
        return ledger_pb2.ListEntriesResponse(
            entries=[messages.entry_message(entry) for entry in page.entries],
            next_cursor=page.next_cursor,
        )

    async def HoldCredits(
        self, request: ledger_pb2.HoldCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        with logs.bind(import_id=request.import_id, account_id=request.account_id):
            hold = await asyncio.to_thread(
                functools.partial(
                    credits.hold_credits, self._engine, request.import_id, request.account_id,
                    request.credits, take_slot=request.take_import_slot,
                    slot_lease_seconds=self._settings.import_slot_seconds,
                )
            )
        return messages.hold_message(hold)

    async def ResizeHold(
        self, request: ledger_pb2.ResizeHoldRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        with logs.bind(import_id=request.import_id):
            hold = await asyncio.to_thread(
                functools.partial(
                    credits.resize_hold, self._engine, request.import_id, request.credits,
                    slot_lease_seconds=self._settings.import_slot_seconds,
                )
            )
        return messages.hold_message(hold)

    async def CaptureCredits(
        self, request: ledger_pb2.CaptureCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        with logs.bind(import_id=request.import_id):
            hold = await asyncio.to_thread(
                credits.capture_credits, self._engine, request.import_id, request.credits
            )
        return messages.hold_message(hold)

    async def ReleaseCredits(
        self, request: ledger_pb2.ReleaseCreditsRequest, unused_context: grpc.aio.ServicerContext
    ) -> ledger_pb2.Hold:
        with logs.bind(import_id=request.import_id):
            hold = await asyncio.to_thread(
                credits.release_credits, self._engine, request.import_id
            )
        return messages.hold_message(hold)


def _account_with_usage(
    engine: Engine, account_id: str
) -> tuple[accounts.Account, usage.Usage]:
    with database.read_transaction(engine) as connection:
        account = accounts.load_account(connection, account_id)
        return account, usage.month_usage(connection, account_id, accounts.utc_now())


def _set_limits(engine: Engine, account_id: str, changes: dict[str, int]) -> limits.Limits:
    limits.validate_limits(changes)
    with database.write_transaction(engine) as connection:
        accounts.load_account(connection, account_id)
        limits.set_limits(connection, account_id, changes)
        return accounts.load_account(connection, account_id).limits


def _release_slot(engine: Engine, slot_id: str) -> None:
    if not slot_id.strip():
        raise InvalidRequest("slot_id is missing; pass the slot to release", field="slot_id")
    with database.write_transaction(engine) as connection:
        limits.release_slot(connection, slot_id)


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
    ledger_pb2_grpc.add_LedgerServiceServicer_to_server(LedgerServicer(engine, settings), server)
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
