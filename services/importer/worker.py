"""The import worker: takes queued jobs from JetStream and runs each to a final state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats.errors
from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2
from ferry.ledger.v1 import ledger_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from services.importer import (
    container,
    downloader,
    events,
    formats,
    probe,
    storage,
    verify,
    ytdlp_child,
)
from services.importer.cancel import ImportCancelled, RunningImports
from services.importer.config import ImporterSettings
from services.importer.credits import BYTES_PER_CREDIT, CreditHolds, HoldResizer, credits_for
from services.importer.failures import ImportFailure
from services.importer.records import ImportRecords
from services.importer.resources import DiskBudget, SizeLimit, size_limit
from services.shared import bus, logs, metrics
from services.shared.consumer import PullConsumer
from services.shared.errors import FerryError, Unavailable

logger = logging.getLogger(__name__)

Status = importer_pb2.ImportStatus
FINAL_STATUSES = (
    Status.IMPORT_STATUS_COMPLETED,
    Status.IMPORT_STATUS_FAILED,
    Status.IMPORT_STATUS_CANCELLED,
    Status.IMPORT_STATUS_EXPIRED,
)
COMPLETED_MESSAGE = "Import completed successfully"
PROGRESS_WRITE_INTERVAL_SECONDS = 1.0
RETRY_BASE_DELAY_SECONDS = 2.0
RETRY_MAX_DELAY_SECONDS = 60.0
# S3 rejects presigned URLs valid for longer than 7 days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

# Failures that go away when S3, the ledger or NATS is back.
TRANSIENT_ERRORS = (Unavailable, nats.errors.Error)


class ImportWorker:
    """Run import jobs: download, probe, charge, upload, then publish the final event."""

    def __init__(
        self,
        settings: ImporterSettings,
        js: JetStreamContext,
        records: ImportRecords,
        media: storage.MediaStorage,
        holds: CreditHolds,
        running: RunningImports | None = None,
    ) -> None:
        self._settings = settings
        self._running = running or RunningImports()
        self._disk = DiskBudget(settings.tmp_max_bytes)
        self._js = js
        self._records = records
        self._media = media
        self._holds = holds
        self._consumer = PullConsumer(
            js,
            stream=bus.JOBS_STREAM,
            subject=bus.IMPORT_JOBS_SUBJECT,
            durable=bus.IMPORTER_CONSUMER,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=settings.ack_wait_seconds,
                max_deliver=settings.max_deliver,
            ),
            handler=self.handle,
            concurrency=settings.concurrency,
        )

    def reset_temp_dir(self) -> None:
        """Delete what a previous process left in the temp dir, then create it."""
        temp_dir = self._settings.temp_dir
        shutil.rmtree(temp_dir, ignore_errors=True)
        temp_dir.mkdir(parents=True, exist_ok=True)
        logger.info("downloading into %s", temp_dir)

    async def run(self) -> None:
        """Consume jobs until `stop()` is called."""
        await self._consumer.run()

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking jobs and wait `grace_seconds` for running ones; the rest are nak'ed."""
        await self._consumer.stop(grace_seconds)

    async def handle(self, message: Msg) -> None:
        """Run one job message and ack it once its record is final."""
        job = events_pb2.ImportJob.FromString(message.data)
        with logs.bind(import_id=job.import_id, account_id=job.account_id):
            # Registered before the record is read, so a cancel stored after that read
            # reaches the task.
            work = asyncio.create_task(self._handle_job(job, message))
            try:
                await self._running.run(job.import_id, work)
            except ImportCancelled:
                await self._clean_up_cancelled(job)
                await message.ack()

    async def _handle_job(self, job: events_pb2.ImportJob, message: Msg) -> None:
        record = await self._records.get(job.import_id)
        if record is None:
            logger.error(
                "import %s has no record (expired or deleted); dropping its job", job.import_id
            )
            await message.term()
            return
        if record.status in FINAL_STATUSES:
            # Cancelled while queued, or a crash between storing the final record and
            # the ack: finish the job.
            if record.status != Status.IMPORT_STATUS_EXPIRED:
                await self._publish_event(record)
            await message.ack()
            return

        async with self._heartbeat(message):
            finished = await self._attempt(record, message)
        if finished:
            await message.ack()

    async def _attempt(self, record: importer_pb2.Import, message: Msg) -> bool:
        """Run the import once; return False when the job was nak'ed for a retry."""
        # NOTE: a worker killed during the last delivery leaves the record IMPORTING and
        # the hold in place, because JetStream delivers the job no more after max_deliver.
        delivery = message.metadata.num_delivered
        limit = self._settings.max_deliver
        try:
            await self._run_import(record)
            return True
        except ImportCancelled:
            raise
        except ImportFailure as failure:
            await self._fail(record, failure.code, failure.message)
            return True
        except TRANSIENT_ERRORS as exc:
            if delivery < limit:
                await self._retry_later(message, delivery, exc)
                return False
            logger.error("delivery %d of %d failed: %s; giving up", delivery, limit, exc)
            await self._fail(
                record,
                "unavailable",
                f"the import failed {limit} times because storage, the ledger or NATS "
                "was unavailable; start a new import later",
            )
            return True
        except Exception:
            logger.exception("delivery %d of %d failed with an unexpected error", delivery, limit)
            if delivery < limit:
                await message.nak(delay=_retry_delay(delivery))
                return False
            await self._fail(
                record, "internal_error", "the import failed because of an internal error"
            )
            return True

    async def _retry_later(self, message: Msg, delivery: int, error: Exception) -> None:
        delay = _retry_delay(delivery)
        logger.warning(
            "delivery %d of %d failed: %s: %s; retrying in %.0f s",
            delivery, self._settings.max_deliver, type(error).__name__, error, delay,
        )
        await message.nak(delay=delay)

    async def _clean_up_cancelled(self, job: events_pb2.ImportJob) -> None:
        """Remove what a cancelled import stored and release its hold.

        The record is CANCELLED already: every worker write yields to a stored cancel.
        """
        # The temporary directory and the yt-dlp child are gone: their `finally` blocks ran.
        prefix = storage.import_prefix(job.account_id, job.import_id)
        try:
            deleted = await self._media.delete_prefix(prefix)
        except Unavailable as exc:
            logger.error("could not delete the objects of a cancelled import: %s; the "
                         "janitor deletes them later", exc)
            deleted = 0
        try:
            # The ledger releases the hold on CancelImport's `import.cancelled` event too.
            # This release covers a CancelImport that stored the cancel but failed before
            # publishing the event, and a second release changes nothing.
            await self._holds.release(job.import_id)
        except FerryError as exc:
            logger.error("could not release the hold of a cancelled import: %s; the "
                         "import.cancelled event releases it", exc)
        logger.info("import cancelled while running; deleted %d objects", deleted)

    async def _run_import(self, record: importer_pb2.Import) -> None:
        limit = await self._download_allowance(record)
        selection = _selection(record)
        async with self._disk.reserve(limit.max_bytes * downloader.MERGE_SPACE_FACTOR):
            await self._mark_importing(record)
            await self._run_download(record, selection, limit)

    async def _run_download(
        self, record: importer_pb2.Import, selection: formats.Selection, limit: SizeLimit
    ) -> None:
        directory = self._settings.temp_dir / f"{record.import_id}-{record.attempts}"
        try:
            fetched = await self._download(record, selection, directory, limit)
            metrics.DOWNLOADED_BYTES.inc(fetched.path.stat().st_size)
            media = await probe.probe(fetched.path)
            self._check_duration(media.duration)
            await verify.verify(fetched.path, media, verify.Expectation.of(selection, fetched))
            stored = await container.finalize(fetched, media, selection)
            if stored.path != fetched.path:
                fetched, media = stored, await probe.probe(stored.path)
            size = fetched.path.stat().st_size
            credits = credits_for(size)
            await self._hold(record, credits)
            key = await self._upload(record, fetched)
            metrics.UPLOADED_BYTES.inc(size)
        finally:
            await asyncio.to_thread(shutil.rmtree, directory, True)

        note = formats.height_note(selection, media.height, media.has_video)
        await self._complete(record, fetched, media, size, credits, key, note)

    def _check_duration(self, duration: float) -> None:
        """Fail media whose source did not announce a duration above the maximum."""
        limit = self._settings.max_duration_seconds
        if duration > limit:
            raise ImportFailure("too_long", ytdlp_child.duration_message(duration, limit))

    async def _mark_importing(self, record: importer_pb2.Import) -> None:
        record.status = Status.IMPORT_STATUS_IMPORTING
        record.attempts += 1
        record.started_at.CopyFrom(_now())
        record.progress.Clear()
        record.message = "Import in progress"
        await self._store(record)
        logger.info(
            "import started: attempt %d, url %s, format %s",
            record.attempts, record.url, record.format_selector,
        )

    async def _download_allowance(self, record: importer_pb2.Import) -> SizeLimit:
        """Return the largest file the import may store, and the limit that sets it."""
        # The hold exists since StartImport; asking again for 1 credit changes nothing.
        hold = await self._hold(record, 1)
        return size_limit(
            balance_bytes=(hold.credits + hold.balance) * BYTES_PER_CREDIT,
            account_bytes=hold.max_file_bytes,
            disk_bytes=self._settings.tmp_max_bytes // downloader.MERGE_SPACE_FACTOR,
        )

    async def _hold(self, record: importer_pb2.Import, credits: int) -> ledger_pb2.Hold:
        try:
            return await self._holds.hold(record.import_id, record.account_id, credits)
        except Unavailable:
            raise
        except FerryError as error:  # insufficient credits, unknown account
            raise ImportFailure(error.code, error.message) from error

    async def _download(
        self,
        record: importer_pb2.Import,
        selection: formats.Selection,
        directory: Path,
        limit: SizeLimit,
    ) -> downloader.Download:
        request = downloader.DownloadRequest(
            url=record.url,
            selector=selection.selector,
            directory=directory,
            max_bytes=limit.max_bytes,
            allow_private=self._settings.urls.allow_private,
            timeout_seconds=self._settings.timeout_seconds,
            size_limit_text=limit.description,
            stall_seconds=self._settings.stall_seconds,
            max_duration_seconds=self._settings.max_duration_seconds,
        )
        last_write = 0.0
        resizer = HoldResizer(self._holds, record.import_id)

        async def record_progress(downloaded: int, total: int) -> None:
            nonlocal last_write
            await resizer.observe(total)
            if time.monotonic() - last_write < PROGRESS_WRITE_INTERVAL_SECONDS:
                return
            last_write = time.monotonic()
            percent = min(100.0, 100.0 * downloaded / total) if total else 0.0
            record.progress.CopyFrom(
                importer_pb2.Progress(
                    downloaded_bytes=downloaded, total_bytes=total, percent=percent
                )
            )
            try:
                await self._store(record)
            except nats.errors.Error as exc:  # progress is informative; the job goes on
                logger.warning("could not store progress: %s", exc)

        return await downloader.download(request, record_progress)

    async def _upload(self, record: importer_pb2.Import, fetched: downloader.Download) -> str:
        key = storage.object_key(record.account_id, record.import_id, fetched.title, fetched.ext)
        await self._media.upload(
            key,
            fetched.path,
            storage.content_type(fetched.ext),
            storage.content_disposition(fetched.title, fetched.ext),
        )
        return key

    async def _complete(
        self,
        record: importer_pb2.Import,
        fetched: downloader.Download,
        media: probe.MediaProbe,
        size: int,
        credits: int,
        key: str,
        note: str,
    ) -> None:
        retention = self._settings.retention.seconds
        url_lifetime = timedelta(seconds=min(retention, MAX_PRESIGN_SECONDS))
        media_url = await self._media.presign(key, url_lifetime)

        finished = _now()
        record.status = Status.IMPORT_STATUS_COMPLETED
        record.media.CopyFrom(_media_info(fetched, media, size))
        record.credits_used = credits
        record.media_url = media_url
        record.object_key = key
        record.message = f"{COMPLETED_MESSAGE}; {note}" if note else COMPLETED_MESSAGE
        record.error_code = ""
        record.progress.CopyFrom(
            importer_pb2.Progress(downloaded_bytes=size, total_bytes=size, percent=100.0)
        )
        record.finished_at.CopyFrom(finished)
        record.expires_at.FromDatetime(finished.ToDatetime() + timedelta(seconds=retention))
        try:
            # A cancel stored before this write wins: `_clean_up_cancelled` then deletes
            # the object and releases the hold, and no completed event is published.
            await self._store(record)
        except ImportCancelled:
            raise
        except BaseException:
            # Without a completed record nothing points at the object: remove it.
            await self._delete_quietly(key)
            raise

        metrics.IMPORTS.labels(status="completed").inc()
        waited = finished.ToDatetime() - record.created_at.ToDatetime()
        metrics.IMPORT_SECONDS.observe(waited.total_seconds())
        await self._publish_event(record)
        logger.info("import completed: %s, %d bytes, %d credits", key, size, credits)

    async def _fail(self, record: importer_pb2.Import, code: str, message: str) -> None:
        record.status = Status.IMPORT_STATUS_FAILED
        record.error_code = code
        record.message = message
        record.credits_used = 0
        record.media_url = ""
        record.object_key = ""
        record.finished_at.CopyFrom(_now())
        record.ClearField("expires_at")
        await self._store(record)
        metrics.IMPORTS.labels(status="failed").inc()
        metrics.IMPORT_FAILURES.labels(code=code).inc()
        await self._publish_event(record)
        logger.warning("import failed: %s (%s)", message, code)

    async def _store(self, record: importer_pb2.Import) -> None:
        """Store the record unless it was cancelled; raises ImportCancelled if it was."""
        cancelled = await self._records.put_unless_cancelled(record)
        if cancelled is not None:
            logger.info("import cancelled while running; keeping the cancelled record")
            raise ImportCancelled(record.import_id)

    async def _publish_event(self, record: importer_pb2.Import) -> None:
        await events.publish_final(self._js, record)

    async def _delete_quietly(self, key: str) -> None:
        try:
            await self._media.delete(key)
        except Unavailable as exc:
            logger.error("could not delete %s after a failed import: %s", key, exc)

    @contextlib.asynccontextmanager
    async def _heartbeat(self, message: Msg) -> AsyncIterator[None]:
        """Tell JetStream the job is still running, so it is not redelivered meanwhile."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self._settings.heartbeat_seconds)
                try:
                    await message.in_progress()
                except nats.errors.Error as exc:
                    logger.warning("could not send a heartbeat for the job: %s", exc)

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _selection(record: importer_pb2.Import) -> formats.Selection:
    try:
        return formats.resolve(record.format)
    except FerryError as error:  # StartImport validated it, so only a changed rule gets here
        raise ImportFailure(error.code, error.message) from error


def _media_info(
    fetched: downloader.Download, media: probe.MediaProbe, size: int
) -> importer_pb2.MediaInfo:
    return importer_pb2.MediaInfo(
        title=fetched.title,
        duration_seconds=media.duration,
        ext=fetched.ext,
        size_bytes=size,
        width=media.width,
        height=media.height,
        vcodec=media.vcodec,
        acodec=media.acodec,
        fps=media.fps,
    )


def _retry_delay(delivery: int) -> float:
    return min(RETRY_MAX_DELAY_SECONDS, RETRY_BASE_DELAY_SECONDS * 2 ** (delivery - 1))


def _now() -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(datetime.now(UTC))
    return timestamp
