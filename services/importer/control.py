"""CancelImport and ListImports: an account's control over its imports after StartImport."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from ferry.importer.v1 import importer_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from nats.aio.client import Client

from services.importer import cancel, events
from services.importer.records import (
    ImportRecords,
    RecordChanged,
    StoredImport,
    created_at_of,
    is_import_id,
)
from services.importer.storage import MediaStorage
from services.shared.errors import InvalidRequest

logger = logging.getLogger(__name__)

Status = importer_pb2.ImportStatus
CANCELLED_MESSAGE = "Import cancelled by DELETE /import"
DELETED_MESSAGE = "The media was deleted by DELETE /import before its retention period ended"
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


async def cancel_import(
    client: Client, records: ImportRecords, media: MediaStorage, record: importer_pb2.Import
) -> importer_pb2.Import:
    """Cancel a queued or running import, or delete a completed one's media; idempotent.

    A cancelled import ends CANCELLED and publishes `import.cancelled`, which releases
    its hold in the ledger and sends the webhook. A completed import ends EXPIRED, with
    its credits still charged. A failed, cancelled or expired import is returned as it is.
    Each write is a compare-and-set on the revision read, so a worker that stores
    `completed` at the same moment either loses (the import ends cancelled) or wins (its
    media is deleted as for any completed import).
    """
    stored = await records.read(record.import_id)
    while stored is not None:
        try:
            return await _cancel_stored(client, records, media, stored)
        except RecordChanged:
            stored = await records.read(record.import_id)
            status = "deleted" if stored is None else Status.Name(stored.record.status)
            logger.info("import changed while being cancelled, now %s; trying again", status)
    return record  # the janitor deleted the record meanwhile


async def _cancel_stored(
    client: Client, records: ImportRecords, media: MediaStorage, stored: StoredImport
) -> importer_pb2.Import:
    """Apply the cancel to one read of the record; raises RecordChanged when it is stale."""
    record = stored.record
    if record.status in (Status.IMPORT_STATUS_QUEUED, Status.IMPORT_STATUS_IMPORTING):
        now = _now()
        record.status = Status.IMPORT_STATUS_CANCELLED
        record.cancelled_at.CopyFrom(now)
        record.finished_at.CopyFrom(now)
        record.message = CANCELLED_MESSAGE
        record.media_url = ""
        record.credits_used = 0
        await records.update(record, stored.revision)
        await events.publish_final(client.jetstream(), record)
        await cancel.announce(client, record.import_id)
        logger.info("import cancelled")
    elif record.status == Status.IMPORT_STATUS_CANCELLED:
        # Repeated in case the first announcement found no worker listening.
        await cancel.announce(client, record.import_id)
    elif record.status == Status.IMPORT_STATUS_COMPLETED:
        if record.object_key:
            await media.delete(record.object_key)
        record.status = Status.IMPORT_STATUS_EXPIRED
        record.expired_at.CopyFrom(_now())
        record.media_url = ""
        record.message = DELETED_MESSAGE
        await records.update(record, stored.revision)
        logger.info("media of the completed import deleted on request: %s", record.object_key)
    return record


async def list_imports(
    records: ImportRecords, request: importer_pb2.ListImportsRequest
) -> importer_pb2.ListImportsResponse:
    """Return one page of the account's imports, newest first, after the cursor."""
    page_size = _page_size(request.page_size)
    if request.cursor and not is_import_id(request.cursor):
        raise InvalidRequest(
            f"cursor {request.cursor!r} is not valid; pass the nextCursor of the previous page",
            field="cursor",
        )
    after = request.created_after.ToDatetime(UTC) if request.HasField("created_after") else None
    before = request.created_before.ToDatetime(UTC) if request.HasField("created_before") else None
    statuses = set(request.statuses)

    response = importer_pb2.ListImportsResponse()
    candidates = await records.account_import_ids(request.account_id)
    for position, import_id in enumerate(candidates):
        if request.cursor and import_id >= request.cursor:
            continue
        created = created_at_of(import_id)
        if before is not None and created >= before:
            continue
        if after is not None and created < after:
            break  # ids are newest first, so every later one is older still
        record = await records.get(import_id)
        if record is None or record.account_id != request.account_id:
            continue
        if statuses and record.status not in statuses:
            continue
        response.imports.append(record)
        if len(response.imports) == page_size:
            if position + 1 < len(candidates):
                response.next_cursor = import_id
            break
    return response


def _page_size(requested: int) -> int:
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidRequest(
            f"limit must be from 1 to {MAX_PAGE_SIZE}, got {requested}",
            field="limit", value=requested,
        )
    return requested


def _now() -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(datetime.now(UTC))
    return timestamp
