"""gRPC clients of the importer, ledger and notifier, each call with the configured deadline."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

from ferry.importer.v1 import importer_pb2, importer_pb2_grpc
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from ferry.notifier.v1 import notifier_pb2, notifier_pb2_grpc
from starlette.requests import Request

from services.shared import rpc
from services.shared.config import PeerSettings
from services.shared.errors import Unavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

TEST_WEBHOOK_EXTRA_SECONDS = 10.0


class Peers:
    """The calls the gateway makes to the other services."""

    def __init__(
        self,
        importer: importer_pb2_grpc.ImporterServiceStub,
        ledger: ledger_pb2_grpc.LedgerServiceStub,
        notifier: notifier_pb2_grpc.NotifierServiceStub,
        timeout_seconds: float,
    ) -> None:
        self._importer = importer
        self._ledger = ledger
        self._notifier = notifier
        self._timeout = timeout_seconds

    async def authenticate(self, api_key: str) -> str:
        """Return the id of the account that owns `api_key`; raise Unauthenticated if none."""
        request = ledger_pb2.AuthenticateRequest(api_key=api_key)
        response = await _call("ledger", self._ledger.Authenticate(request, timeout=self._timeout))
        return response.account_id

    async def admit(
        self, api_key: str, limit: str, endpoint: str, slot_id: str = ""
    ) -> ledger_pb2.AuthenticateResponse:
        """Authenticate `api_key` and count the request against the account's `limit`.

        Raises Unauthenticated for an unknown or revoked key and RateLimited when the
        account has used up the limit or has no free concurrency slot.
        """
        request = ledger_pb2.AuthenticateRequest(
            api_key=api_key, limit=limit, endpoint=endpoint, slot_id=slot_id
        )
        return await _call("ledger", self._ledger.Authenticate(request, timeout=self._timeout))

    async def release_slot(self, slot_id: str) -> None:
        request = ledger_pb2.ReleaseSlotRequest(slot_id=slot_id)
        await _call("ledger", self._ledger.ReleaseSlot(request, timeout=self._timeout))

    async def get_account(self, account_id: str) -> ledger_pb2.Account:
        request = ledger_pb2.GetAccountRequest(account_id=account_id)
        return await _call("ledger", self._ledger.GetAccount(request, timeout=self._timeout))

    async def list_entries(
        self, account_id: str, page_size: int, cursor: str
    ) -> ledger_pb2.ListEntriesResponse:
        request = ledger_pb2.ListEntriesRequest(
            account_id=account_id, page_size=page_size, cursor=cursor
        )
        return await _call("ledger", self._ledger.ListEntries(request, timeout=self._timeout))

    async def start_import(self, request: importer_pb2.StartImportRequest) -> importer_pb2.Import:
        return await _call("importer", self._importer.StartImport(request, timeout=self._timeout))

    async def get_import(self, account_id: str, import_id: str) -> importer_pb2.Import:
        request = importer_pb2.GetImportRequest(account_id=account_id, import_id=import_id)
        return await _call("importer", self._importer.GetImport(request, timeout=self._timeout))

    async def start_metadata(
        self, request: importer_pb2.StartMetadataRequest
    ) -> importer_pb2.MetadataJob:
        # The importer responds within FERRY_METADATA_WAIT_SECONDS, which is below this deadline.
        return await _call("importer", self._importer.StartMetadata(request, timeout=self._timeout))

    async def get_metadata(
        self, request: importer_pb2.GetMetadataRequest
    ) -> importer_pb2.MetadataJob:
        return await _call("importer", self._importer.GetMetadata(request, timeout=self._timeout))

    async def cancel_import(self, account_id: str, import_id: str) -> importer_pb2.Import:
        request = importer_pb2.CancelImportRequest(account_id=account_id, import_id=import_id)
        return await _call("importer", self._importer.CancelImport(request, timeout=self._timeout))

    async def list_imports(
        self, request: importer_pb2.ListImportsRequest
    ) -> importer_pb2.ListImportsResponse:
        return await _call("importer", self._importer.ListImports(request, timeout=self._timeout))

    async def list_deliveries(
        self, account_id: str, import_id: str
    ) -> notifier_pb2.ListDeliveriesResponse:
        request = notifier_pb2.ListDeliveriesRequest(account_id=account_id, import_id=import_id)
        call = self._notifier.ListDeliveries(request, timeout=self._timeout)
        return await _call("notifier", call)

    async def redeliver(self, account_id: str, import_id: str) -> notifier_pb2.RedeliverResponse:
        request = notifier_pb2.RedeliverRequest(account_id=account_id, import_id=import_id)
        return await _call("notifier", self._notifier.Redeliver(request, timeout=self._timeout))

    async def send_test_webhook(
        self, account_id: str, url: str, event_type: str
    ) -> notifier_pb2.SendTestWebhookResponse:
        request = notifier_pb2.SendTestWebhookRequest(
            account_id=account_id, url=url, event_type=event_type
        )
        # The notifier waits up to its webhook timeout for the receiver, so this call gets
        # that long on top of the usual deadline.
        # NOTE: the gateway doesn't know the notifier's FERRY_WEBHOOK_TIMEOUT_SECONDS, so
        # the extra time assumes the default of 10 s.
        call = self._notifier.SendTestWebhook(
            request, timeout=self._timeout + TEST_WEBHOOK_EXTRA_SECONDS
        )
        return await _call("notifier", call)


@contextlib.asynccontextmanager
async def open_peers(settings: PeerSettings) -> AsyncIterator[Peers]:
    """Open one channel per service and close them all when the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        importer = await stack.enter_async_context(rpc.open_channel(settings.importer))
        ledger = await stack.enter_async_context(rpc.open_channel(settings.ledger))
        notifier = await stack.enter_async_context(rpc.open_channel(settings.notifier))
        yield Peers(
            importer_pb2_grpc.ImporterServiceStub(importer),
            ledger_pb2_grpc.LedgerServiceStub(ledger),
            notifier_pb2_grpc.NotifierServiceStub(notifier),
            settings.timeout_seconds,
        )


def request_peers(request: Request) -> Peers:
    """Return the Peers that the app's lifespan opened."""
    peers: Peers = request.app.state.peers
    return peers


async def _call(service: str, call: Awaitable[T]) -> T:
    """Await `call`, replacing the transport details of an unreachable service by its name.

    The channel has already retried UNAVAILABLE by then. The original message, with addresses
    and connection errors, goes to the log and not to the client.
    """
    try:
        return await call
    except Unavailable as error:
        logger.warning("the %s service is unavailable: %s", service, error.message)
        raise Unavailable(
            f"the {service} service is unavailable; retry later", service=service
        ) from error
