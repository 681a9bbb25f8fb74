"""Metadata jobs: extraction without download, stored in a KV bucket, with webhook events.

A job runs in the importer process that received StartMetadata, at most
`metadata_concurrency` at a time. StartMetadata waits up to `metadata_wait_seconds` for it,
so a fast extraction is returned by the same call.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from ulid import ULID

from services.importer import extraction
from services.importer.config import ImporterSettings
from services.importer.failures import ImportFailure
from services.shared import bus, logs, netguard
from services.shared.errors import FerryError, InvalidRequest, NotFound
from services.shared.metadata_view import render_metadata_job

logger = logging.getLogger(__name__)

Status = importer_pb2.MetadataStatus
QUEUED_MESSAGE = "Metadata extraction queued"
COMPLETED_MESSAGE = "Metadata extracted"
# A job still processing this long after its extraction timeout lost its importer.
STALE_MARGIN_SECONDS = 60
# Failure codes that mean the page is not there, so the client gets a 404.
NOT_FOUND_CODES = frozenset({"source_not_found", "no_media"})

# A ULID is 26 characters of Crockford's base 32, which has no i, l, o or u.
_METADATA_ID_PATTERN = re.compile(r"meta_[0-9a-hjkmnp-tv-z]{26}")


class MetadataJobs:
    """Start metadata jobs, run them in this process and return their records."""

    def __init__(self, settings: ImporterSettings, js: JetStreamContext, kv: KeyValue) -> None:
        self._allow_private = settings.urls.allow_private
        # StartMetadata must return before the gateway's gRPC deadline.
        self._wait_seconds = min(
            settings.metadata_wait_seconds, max(0.0, settings.peers.timeout_seconds - 1)
        )
        self._timeout_seconds = settings.metadata_timeout_seconds
        self._temp_dir = settings.temp_dir
        self._js = js
        self._kv = kv
        self._slots = asyncio.Semaphore(settings.metadata_concurrency)
        self._tasks: set[asyncio.Task[importer_pb2.MetadataJob]] = set()

    @classmethod
    async def open(cls, settings: ImporterSettings, js: JetStreamContext) -> MetadataJobs:
        """Bind to the metadata bucket, which `bus.ensure_streams` creates."""
        return cls(settings, js, await js.key_value(bus.METADATA_BUCKET))

    async def start(self, request: importer_pb2.StartMetadataRequest) -> importer_pb2.MetadataJob:
        """Store a queued job, start it, and return it once done or after the wait.

        Raises the job's failure as InvalidRequest or NotFound when it fails within the wait.
        """
        if not request.account_id:
            raise InvalidRequest("account_id is missing; pass the account that sends the request")
        url = await asyncio.to_thread(netguard.validate_url, request.url, self._allow_private)
        webhook_url = ""
        if request.webhook_url.strip():
            webhook_url = await asyncio.to_thread(
                netguard.validate_url, request.webhook_url, self._allow_private, "webhook_url"
            )

        job = importer_pb2.MetadataJob(
            metadata_id=f"meta_{str(ULID()).lower()}",
            account_id=request.account_id,
            status=Status.METADATA_STATUS_QUEUED,
            url=url,
            basic=request.basic,
            webhook_url=webhook_url,
            message=QUEUED_MESSAGE,
            created_at=_now(),
        )
        await self._put(job)
        task = asyncio.create_task(self._run(_copy(job)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        done, _ = await asyncio.wait({task}, timeout=self._wait_seconds)
        if not done:
            return await self._get(job.metadata_id) or job
        finished = task.result()
        if finished.status == Status.METADATA_STATUS_FAILED:
            raise failure_error(finished)
        return finished

    async def get(self, request: importer_pb2.GetMetadataRequest) -> importer_pb2.MetadataJob:
        """Return a job of the account; a basic job read as full (or the reverse) is not found."""
        job = None
        if _METADATA_ID_PATTERN.fullmatch(request.metadata_id):
            job = await self._get(request.metadata_id)
        if job is None or job.account_id != request.account_id or job.basic != request.basic:
            route = "/metadata/basic" if request.basic else "/metadata"
            raise NotFound(
                f"metadata job '{request.metadata_id}' not found; check the id {route} returned",
                metadata_id=request.metadata_id,
            )
        return self._unless_stale(job)

    async def stop(self) -> None:
        """Cancel running jobs; each stores itself as failed first."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, job: importer_pb2.MetadataJob) -> importer_pb2.MetadataJob:
        # The log context has no metadata id field; import_id carries the job's id.
        with logs.bind(account_id=job.account_id, import_id=job.metadata_id):
            try:
                async with self._slots:
                    job.status = Status.METADATA_STATUS_PROCESSING
                    job.started_at.CopyFrom(_now())
                    await self._put(job)
                    job.metadata.CopyFrom(
                        await extraction.extract(
                            job.url,
                            basic=job.basic,
                            allow_private=self._allow_private,
                            timeout_seconds=self._timeout_seconds,
                            directory=self._temp_dir / job.metadata_id,
                        )
                    )
                job.status = Status.METADATA_STATUS_COMPLETED
                job.message = COMPLETED_MESSAGE
                logger.info("metadata extracted from %s", job.url)
            except ImportFailure as failure:
                _fail(job, failure.code, failure.message)
                logger.warning("metadata extraction failed: %s (%s)", failure.message, failure.code)
            except asyncio.CancelledError:
                _fail(job, "interrupted", "the importer stopped during the extraction; retry")
                await asyncio.shield(self._finish(job))
                raise
            except Exception as exc:  # the job boundary: record the failure, keep serving
                logger.exception("metadata job crashed")
                _fail(job, "internal_error", f"the extraction failed inside Ferry: {exc}")
            await self._finish(job)
            return job

    async def _finish(self, job: importer_pb2.MetadataJob) -> None:
        job.finished_at.CopyFrom(_now())
        try:
            await self._put(job)
            if job.webhook_url:
                await self._publish(job)
        except Exception as exc:  # NATS down: the record or webhook is lost, not the process
            logger.error("could not store metadata job %s: %s", job.metadata_id, exc)

    async def _publish(self, job: importer_pb2.MetadataJob) -> None:
        if job.status == Status.METADATA_STATUS_COMPLETED:
            event_type = events_pb2.EVENT_TYPE_METADATA_COMPLETED
            kind = bus.EventType.METADATA_COMPLETED
        else:
            event_type = events_pb2.EVENT_TYPE_METADATA_FAILED
            kind = bus.EventType.METADATA_FAILED
        event = events_pb2.MetadataEvent(
            event_id=f"{job.metadata_id}.{kind.value.rsplit('.', 1)[1]}",
            type=event_type,
            occurred_at=job.finished_at,
            job_id=job.metadata_id,
            account_id=job.account_id,
            webhook_url=job.webhook_url,
            message=job.message,
            error_code=job.error_code,
            created_at=job.created_at,
        )
        if job.status == Status.METADATA_STATUS_COMPLETED:
            # The webhook carries the result exactly as GET /metadata/status renders it.
            event.result.update(render_metadata_job(job))
        await self._js.publish(
            kind.subject, event.SerializeToString(), headers={"Nats-Msg-Id": event.event_id}
        )

    async def _put(self, job: importer_pb2.MetadataJob) -> None:
        await self._kv.put(job.metadata_id, job.SerializeToString())

    async def _get(self, metadata_id: str) -> importer_pb2.MetadataJob | None:
        try:
            entry = await self._kv.get(metadata_id)
        except KeyNotFoundError:  # also raised for a deleted or purged key
            return None
        if entry.value is None:
            return None
        return importer_pb2.MetadataJob.FromString(entry.value)

    def _unless_stale(self, job: importer_pb2.MetadataJob) -> importer_pb2.MetadataJob:
        """Report a job whose importer stopped mid-extraction as failed."""
        if job.status != Status.METADATA_STATUS_PROCESSING:
            return job
        limit = timedelta(seconds=self._timeout_seconds + STALE_MARGIN_SECONDS)
        started = job.started_at.ToDatetime(tzinfo=UTC)
        if datetime.now(UTC) - started <= limit:
            return job
        stale = _copy(job)
        _fail(stale, "interrupted", "the importer stopped during the extraction; retry")
        return stale


def failure_error(job: importer_pb2.MetadataJob) -> FerryError:
    """Return the client error for a failed job: 404 when the page is not there, else 400."""
    error_class = NotFound if job.error_code in NOT_FOUND_CODES else InvalidRequest
    return error_class(job.message, code=job.error_code, metadataId=job.metadata_id, url=job.url)


def _copy(job: importer_pb2.MetadataJob) -> importer_pb2.MetadataJob:
    copy = importer_pb2.MetadataJob()
    copy.CopyFrom(job)
    return copy


def _fail(job: importer_pb2.MetadataJob, code: str, message: str) -> None:
    job.status = Status.METADATA_STATUS_FAILED
    job.error_code = code
    job.message = message
    job.ClearField("metadata")


def _now() -> Timestamp:
    timestamp = Timestamp()
    timestamp.GetCurrentTime()
    return timestamp

