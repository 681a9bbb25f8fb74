"""The janitor: deletes media whose retention has ended and whatever imports left behind.

Every importer replica runs one. Each sweep is idempotent, so replicas sweeping at the
same time only repeat each other's deletes. One sweep:

1. marks completed imports whose `expires_at` has passed EXPIRED and deletes their media;
2. deletes records (and their index entries) 30 days after they expired, failed or were
   cancelled;
3. deletes objects that no completed import points at (a crash between upload and the
   final record, a cancel during the upload) once they are older than a grace period;
4. aborts multipart uploads of imports that are no longer running.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ferry.importer.v1 import importer_pb2

from services.importer.records import ImportRecords, is_import_id
from services.importer.storage import MediaStorage
from services.shared import bus
from services.shared.errors import Unavailable

logger = logging.getLogger(__name__)

Status = importer_pb2.ImportStatus
EXPIRED_MESSAGE = "The media was deleted because its retention period ended"
# An object or upload this young may belong to an import that is writing its record.
ORPHAN_GRACE_SECONDS = 300
_SETTLED = (
    Status.IMPORT_STATUS_FAILED, Status.IMPORT_STATUS_CANCELLED, Status.IMPORT_STATUS_EXPIRED
)


@dataclass
class SweepReport:
    expired: int = 0
    records_deleted: int = 0
    orphans_deleted: int = 0
    uploads_aborted: int = 0


class Janitor:
    """Sweep records and the bucket every `interval_seconds`."""

    def __init__(
        self,
        records: ImportRecords,
        media: MediaStorage,
        interval_seconds: float,
        orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS,
    ) -> None:
        self._records = records
        self._media = media
        self._interval = interval_seconds
        self._orphan_grace = timedelta(seconds=orphan_grace_seconds)

    async def run(self) -> None:
        """Sweep until cancelled; a failed sweep is logged and tried again next time."""
        while True:
            try:
                await self.sweep()
            except (Unavailable, OSError) as exc:
                logger.warning("the janitor's sweep failed: %s; retrying in %.0f s",
                               exc, self._interval)
            except Exception:
                logger.exception("the janitor's sweep failed; retrying in %.0f s", self._interval)
            await asyncio.sleep(self._interval)

    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """Run one sweep and return what it did."""
        now = now or datetime.now(UTC)
        report = SweepReport()
        statuses: dict[str, int] = {}
        for import_id in await self._records.all_import_ids():
            record = await self._records.get(import_id)
            if record is None:
                continue
            if record.status == Status.IMPORT_STATUS_COMPLETED and _expired(record, now):
                await self.expire(record, now)
                report.expired += 1
            elif record.status in _SETTLED and _past_grace(record, now):
                await self._records.delete(record)
                report.records_deleted += 1
                continue
            statuses[import_id] = record.status

        report.orphans_deleted = await self._delete_orphans(statuses, now)
        report.uploads_aborted = await self.abort_abandoned_uploads(statuses, now)
        if report != SweepReport():
            logger.info("janitor sweep: %s", report)
        return report

    async def expire(self, record: importer_pb2.Import, now: datetime) -> None:
        """Delete the media of a completed import and mark its record EXPIRED."""
        if record.object_key:
            await self._media.delete(record.object_key)
        record.status = Status.IMPORT_STATUS_EXPIRED
        record.expired_at.FromDatetime(now)
        record.media_url = ""
        record.message = EXPIRED_MESSAGE
        await self._records.put(record)
        logger.info("import %s expired; deleted %s", record.import_id, record.object_key)

    async def abort_abandoned_uploads(
        self, statuses: dict[str, int] | None = None, now: datetime | None = None
    ) -> int:
        """Abort multipart uploads of imports that no longer run; return how many."""
        now = now or datetime.now(UTC)
        aborted = 0
        for upload in await self._media.multipart_uploads():
            import_id = _import_id_of(upload.key)
            status = await self._status(import_id, statuses)
            running = status == Status.IMPORT_STATUS_IMPORTING
            young = upload.initiated is not None and now - upload.initiated < self._orphan_grace
            if running or (young and status is not None):
                continue
            await self._media.abort_upload(upload)
            aborted += 1
            logger.info("aborted the abandoned multipart upload of %s", upload.key)
        return aborted

    async def _delete_orphans(self, statuses: dict[str, int], now: datetime) -> int:
        deleted = 0
        for item in await self._media.list_objects():
            if item.last_modified is not None and now - item.last_modified < self._orphan_grace:
                continue
            import_id = _import_id_of(item.key)
            if statuses.get(import_id or "") == Status.IMPORT_STATUS_COMPLETED:
                continue
            await self._media.delete(item.key)
            deleted += 1
            logger.info("deleted %s, which no completed import points at", item.key)
        return deleted

    async def _status(self, import_id: str | None, statuses: dict[str, int] | None) -> int | None:
        if import_id is None:
            return None
        if statuses is not None:
            return statuses.get(import_id)
        record = await self._records.get(import_id)
        return None if record is None else record.status


def _expired(record: importer_pb2.Import, now: datetime) -> bool:
    return record.HasField("expires_at") and record.expires_at.ToDatetime(UTC) <= now


def _past_grace(record: importer_pb2.Import, now: datetime) -> bool:
    """Tell whether the record has been settled for longer than the 30 days it stays readable."""
    settled = record.expired_at if record.HasField("expired_at") else record.finished_at
    if not settled.seconds:
        return False
    return now - settled.ToDatetime(UTC) > timedelta(seconds=bus.RECORD_GRACE_SECONDS)


def _import_id_of(key: str) -> str | None:
    """Return the import id of an object key `<account>/<import id>/<file>`, if it has one."""
    parts = key.split("/")
    if len(parts) >= 2 and is_import_id(parts[1]):
        return parts[1]
    return None
