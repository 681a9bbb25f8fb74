"""The importer's gRPC service and its process lifecycle: the server, worker and janitor."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
import nats.errors
from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2, importer_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client
from nats.js import JetStreamContext

from services.importer import control, formats, idempotency
from services.importer.cancel import RunningImports
from services.importer.config import ImporterSettings
from services.importer.credits import CreditHolds
from services.importer.idempotency import IdempotencyKeys
from services.importer.janitor import Janitor
from services.importer.metadata import MetadataJobs
from services.importer.records import ImportRecords, is_import_id, new_import_id
from services.importer.storage import MediaStorage
from services.importer.worker import ImportWorker
from services.shared import bus, lifecycle, logs, netguard, readiness, rpc
from services.shared.errors import FerryError, InvalidRequest, NotFound, Unavailable

logger = logging.getLogger(__name__)

QUEUED_MESSAGE = "Import queued"


class ImporterServicer(importer_pb2_grpc.ImporterServiceServicer):
    """Validate and queue imports, and return their records."""

    def __init__(
        self,
        settings: ImporterSettings,
        js: JetStreamContext,
        records: ImportRecords,
        holds: CreditHolds,
        metadata: MetadataJobs,
        *,
        nats_client: Client | None = None,
        media: MediaStorage | None = None,
    ) -> None:
        self._allow_private = settings.urls.allow_private
        self._hold_credits = settings.hold_credits
        self._metadata = metadata
        self._js = js
        # CancelImport publishes on core NATS, through the client behind `js`.
        self._client: Client = nats_client or js._nc
        self._records = records
        self._holds = holds
        self._media = media or MediaStorage(settings.s3)
        self._keys = IdempotencyKeys(js)

    async def StartImport(
        self, request: importer_pb2.StartImportRequest, unused_context: grpc.aio.ServicerContext
    ) -> importer_pb2.Import:
        if not request.account_id:
            raise InvalidRequest("account_id is missing; pass the account that pays for the import")
        with logs.bind(account_id=request.account_id):
            url = await asyncio.to_thread(netguard.validate_url, request.url, self._allow_private)
            webhook_url = await self._validate_webhook_url(request.webhook_url)
            selection = formats.resolve(request.format)
            if not request.idempotency_key:
                return await self._start(request, url, webhook_url, selection)

            request_hash = idempotency.fingerprint(request)
            claim = await self._keys.claim(
                request.account_id, request.idempotency_key, request_hash
            )
            if claim.existing_import_id:
                logger.info("Idempotency-Key replayed; returning import %s",
                            claim.existing_import_id)
                return await self._owned_record(request.account_id, claim.existing_import_id)
            try:
                record = await self._start(request, url, webhook_url, selection)
            except BaseException:
                await self._keys.release(claim)
                raise
            await self._keys.complete(claim, request_hash, record.import_id)
            return record

    async def _start(
        self,
        request: importer_pb2.StartImportRequest,
        url: str,
        webhook_url: str,
        selection: formats.Selection,
    ) -> importer_pb2.Import:
        import_id = new_import_id()
        with logs.bind(import_id=import_id):
            # The size is unknown until a worker runs yt-dlp, so the hold is the
            # configured estimate; it also takes a concurrent import slot.
            await self._holds.hold(
                import_id, request.account_id, self._hold_credits, take_slot=True
            )
            record = importer_pb2.Import(
                import_id=import_id,
                account_id=request.account_id,
                status=importer_pb2.IMPORT_STATUS_QUEUED,
                url=url,
                format=request.format,
                format_selector=selection.selector,
                webhook_url=webhook_url,
                message=QUEUED_MESSAGE,
                created_at=_now(),
            )
            await self._queue(record)
            logger.info("import queued: %s with format %s", url, selection.selector)
            return record

    async def GetImport(
        self, request: importer_pb2.GetImportRequest, unused_context: grpc.aio.ServicerContext
    ) -> importer_pb2.Import:
        with logs.bind(account_id=request.account_id, import_id=request.import_id):
            return await self._owned_record(request.account_id, request.import_id)

    async def CancelImport(
        self, request: importer_pb2.CancelImportRequest, unused_context: grpc.aio.ServicerContext
    ) -> importer_pb2.Import:
        with logs.bind(account_id=request.account_id, import_id=request.import_id):
            record = await self._owned_record(request.account_id, request.import_id)
            return await control.cancel_import(self._client, self._records, self._media, record)

    async def ListImports(
        self, request: importer_pb2.ListImportsRequest, unused_context: grpc.aio.ServicerContext
    ) -> importer_pb2.ListImportsResponse:
        if not request.account_id:
            raise InvalidRequest("account_id is missing; pass the account whose imports to list")
        with logs.bind(account_id=request.account_id):
            return await control.list_imports(self._records, request)

    async def _owned_record(self, account_id: str, import_id: str) -> importer_pb2.Import:
        record = None
        if is_import_id(import_id):
            record = await self._records.get(import_id)
        # Another account's import is reported exactly like an unknown one.
        if record is None or record.account_id != account_id:
            raise NotFound(
                f"import '{import_id}' not found; check the id returned by POST /import",
                import_id=import_id,
            )
        return record

    async def StartMetadata(
        self, request: importer_pb2.StartMetadataRequest, unused_context: grpc.aio.ServicerContext
    ) -> importer_pb2.MetadataJob:
        with logs.bind(account_id=request.account_id):
            return await self._metadata.start(request)

    async def GetMetadata(
        self, request: importer_pb2.GetMetadataRequest, unused_context: grpc.aio.ServicerContext
    ) -> importer_pb2.MetadataJob:
        with logs.bind(account_id=request.account_id):
            return await self._metadata.get(request)

    async def _validate_webhook_url(self, webhook_url: str) -> str:
        if not webhook_url.strip():
            return ""
        return await asyncio.to_thread(
            netguard.validate_url, webhook_url, self._allow_private, "webhook_url"
        )

    async def _queue(self, record: importer_pb2.Import) -> None:
        """Store the record and publish its job; release the hold when either fails."""
        job = events_pb2.ImportJob(import_id=record.import_id, account_id=record.account_id)
        try:
            await self._records.create(record)
            await self._js.publish(
                bus.IMPORT_JOBS_SUBJECT,
                job.SerializeToString(),
                headers={"Nats-Msg-Id": record.import_id},
            )
        except nats.errors.Error as exc:
            logger.error("could not queue the import: %s: %s", type(exc).__name__, exc)
            await self._release_quietly(record.import_id)
            raise Unavailable(
                f"could not queue import '{record.import_id}' because NATS JetStream is "
                "unavailable; retry in a few seconds"
            ) from exc

    async def _release_quietly(self, import_id: str) -> None:
        try:
            await self._holds.release(import_id)
        except FerryError as exc:
            logger.error("could not release the hold of an unqueued import: %s", exc)


async def serve(settings: ImporterSettings, stopping: asyncio.Event | None = None) -> None:
    """Run the gRPC server and the worker until SIGTERM or SIGINT (or `stopping` is set)."""
    stopping = stopping or lifecycle.install_stop_handlers()
    async with contextlib.AsyncExitStack() as stack:
        client = await bus.connect(settings.nats.url, "ferry-importer")
        stack.push_async_callback(_close_nats, client)
        js = client.jetstream()
        await bus.ensure_streams(js, settings.retention.seconds, settings.nats.replicas)
        records = await ImportRecords.open(js)
        metadata = await MetadataJobs.open(settings, js)
        stack.push_async_callback(metadata.stop)

        media = MediaStorage(settings.s3)
        await media.ensure_bucket()
        await media.expire_with_lifecycle_rule(settings.retention.seconds)
        channel = rpc.open_channel(settings.peers.ledger)
        stack.push_async_callback(channel.close)
        holds = CreditHolds(channel, settings.peers.timeout_seconds)

        running = RunningImports()
        await running.listen(client)
        stack.push_async_callback(running.close)
        worker = ImportWorker(settings, js, records, media, holds, running)
        worker.reset_temp_dir()
        janitor = Janitor(records, media, settings.janitor_interval_seconds)
        await _abort_leftover_uploads(janitor)
        janitor_task = asyncio.create_task(janitor.run())
        stack.push_async_callback(_cancel_task, janitor_task)
        server, health = rpc.create_server()
        importer_pb2_grpc.add_ImporterServiceServicer_to_server(
            ImporterServicer(
                settings, js, records, holds, metadata, nats_client=client, media=media
            ),
            server,
        )
        grace = settings.shutdown.grace_seconds
        port = rpc.bind_port(server, settings.host, settings.port)
        await server.start()
        stack.push_async_callback(server.stop, grace)
        monitor = readiness.ReadinessMonitor(
            health, {"nats": readiness.nats_check(client), "s3": media.ensure_bucket}
        )
        await monitor.start()
        stack.push_async_callback(monitor.stop)
        logger.info("importer listening on %s:%d", settings.host, port)

        worker_task = asyncio.create_task(worker.run())
        try:
            await _wait_for_stop(worker_task, stopping)
            await monitor.stop()
            logger.info("importer stopping; running jobs get %.0f s to finish", grace)
            await worker.stop(grace)
        finally:
            # Runs at once when serve() is cancelled: running jobs are nak'ed for redelivery.
            await worker.stop(0)
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker_task  # re-raises the error of a crashed worker
        await client.drain()
    logger.info("importer stopped")


async def _wait_for_stop(worker_task: asyncio.Task[None], stopping: asyncio.Event) -> None:
    """Wait until `stopping` is set or the worker ends, which only a crash makes it do."""
    stop_task = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({worker_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_task.cancel()
    if worker_task.done() and not worker_task.cancelled() and worker_task.exception():
        logger.error("the import worker stopped: %s", worker_task.exception())


async def _abort_leftover_uploads(janitor: Janitor) -> None:
    """Abort multipart uploads that a crashed importer left behind."""
    try:
        aborted = await janitor.abort_abandoned_uploads()
    except Unavailable as exc:
        logger.warning("could not look for abandoned multipart uploads: %s", exc)
        return
    if aborted:
        logger.info("aborted %d multipart uploads left by a previous run", aborted)


async def _cancel_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_nats(client: Client) -> None:
    if not client.is_closed:
        await client.close()


def _now() -> Timestamp:
    timestamp = Timestamp()
    timestamp.GetCurrentTime()
    return timestamp
