"""The janitor against real NATS key-value buckets and a real S3 endpoint."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from ferry.importer.v1 import importer_pb2

from services.importer.janitor import Janitor
from services.importer.records import ImportRecords, new_import_id
from services.importer.storage import MediaStorage
from services.shared import bus

LATER = timedelta(hours=1)


async def _setup(infra, js):
    await bus.ensure_streams(js, 3600)
    settings = infra.s3_settings()
    media = MediaStorage(settings)
    await media.ensure_bucket()
    records = await ImportRecords.open(js)
    return records, media, infra.minio(), settings.bucket


def _record(status: int, key: str = "") -> importer_pb2.Import:
    record = importer_pb2.Import(
        import_id=new_import_id(), account_id="acc_janitor", status=status, object_key=key
    )
    record.finished_at.FromDatetime(datetime.now(UTC))
    return record


async def test_sweep_expires_completed_import(infra, js):
    records, media, s3, bucket = await _setup(infra, js)
    record = _record(importer_pb2.IMPORT_STATUS_COMPLETED)
    record.object_key = f"acc_janitor/{record.import_id}/clip.mp4"
    record.media_url = "http://example.invalid/clip.mp4"
    record.expires_at.FromDatetime(datetime.now(UTC) - timedelta(seconds=1))
    await records.create(record)
    s3.put_object(bucket, record.object_key, io.BytesIO(b"media"), 5)

    report = await Janitor(records, media, 60).sweep()

    stored = await records.get(record.import_id)
    assert report.expired == 1
    assert stored.status == importer_pb2.IMPORT_STATUS_EXPIRED
    assert stored.media_url == ""
    assert stored.HasField("expired_at")
    assert list(s3.list_objects(bucket, recursive=True)) == []


async def test_sweep_deletes_orphaned_object(infra, js):
    records, media, s3, bucket = await _setup(infra, js)
    failed = _record(importer_pb2.IMPORT_STATUS_FAILED)
    await records.create(failed)
    orphan = f"acc_janitor/{failed.import_id}/left.mp4"
    s3.put_object(bucket, orphan, io.BytesIO(b"x"), 1)
    janitor = Janitor(records, media, 60)

    young = await janitor.sweep()
    old = await janitor.sweep(datetime.now(UTC) + LATER)

    assert young.orphans_deleted == 0
    assert old.orphans_deleted == 1
    assert list(s3.list_objects(bucket, recursive=True)) == []


async def test_abandoned_upload_is_aborted(infra, js):
    records, media, s3, bucket = await _setup(infra, js)
    cancelled = _record(importer_pb2.IMPORT_STATUS_CANCELLED)
    await records.create(cancelled)
    key = f"acc_janitor/{cancelled.import_id}/part.mp4"
    s3._create_multipart_upload(bucket, key, {})
    assert len(await media.multipart_uploads()) == 1

    aborted = await Janitor(records, media, 60).abort_abandoned_uploads(
        now=datetime.now(UTC) + LATER
    )

    assert aborted == 1
    assert await media.multipart_uploads() == []


async def test_running_import_upload_is_kept(infra, js):
    records, media, s3, bucket = await _setup(infra, js)
    running = _record(importer_pb2.IMPORT_STATUS_IMPORTING)
    await records.create(running)
    s3._create_multipart_upload(bucket, f"acc_janitor/{running.import_id}/part.mp4", {})

    aborted = await Janitor(records, media, 60).abort_abandoned_uploads(
        now=datetime.now(UTC) + LATER
    )

    assert aborted == 0
