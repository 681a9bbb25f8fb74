import pytest
from ferry.importer.v1 import importer_pb2

from services.importer.records import ImportRecords, RecordChanged, is_import_id, new_import_id
from services.shared import bus


async def _records(js) -> ImportRecords:
    await bus.ensure_streams(js, 3600)
    return await ImportRecords.open(js)


async def test_records_put_then_get(js):
    records = await _records(js)
    record = importer_pb2.Import(
        import_id=new_import_id(),
        account_id="acc_1",
        status=importer_pb2.IMPORT_STATUS_QUEUED,
        url="https://example.com/video.mp4",
    )

    await records.put(record)

    assert await records.get(record.import_id) == record


async def test_records_put_replaces(js):
    records = await _records(js)
    record = importer_pb2.Import(import_id=new_import_id(), account_id="acc_1")
    await records.put(record)

    record.status = importer_pb2.IMPORT_STATUS_COMPLETED
    record.attempts = 2
    await records.put(record)

    stored = await records.get(record.import_id)
    assert stored.status == importer_pb2.IMPORT_STATUS_COMPLETED
    assert stored.attempts == 2


async def test_records_get_unknown(js):
    records = await _records(js)
    assert await records.get(new_import_id()) is None


async def test_records_update_stale_revision(js):
    records = await _records(js)
    record = importer_pb2.Import(import_id=new_import_id(), account_id="acc_1")
    first = await records.put(record)
    record.attempts = 1
    second = await records.update(record, first)

    record.attempts = 2
    with pytest.raises(RecordChanged, match=record.import_id):
        await records.update(record, first)
    stored = await records.read(record.import_id)
    assert stored.revision == second
    assert stored.record.attempts == 1


async def test_put_unless_cancelled_keeps_cancel(js):
    records = await _records(js)
    cancelled = importer_pb2.Import(
        import_id=new_import_id(), account_id="acc_1", status=importer_pb2.IMPORT_STATUS_CANCELLED
    )
    await records.put(cancelled)
    progress = importer_pb2.Import(
        import_id=cancelled.import_id, account_id="acc_1",
        status=importer_pb2.IMPORT_STATUS_IMPORTING,
    )

    returned = await records.put_unless_cancelled(progress)

    assert returned == cancelled
    assert await records.get(cancelled.import_id) == cancelled


async def test_put_unless_cancelled_stores(js):
    records = await _records(js)
    record = importer_pb2.Import(
        import_id=new_import_id(), account_id="acc_1", status=importer_pb2.IMPORT_STATUS_IMPORTING
    )
    await records.put(record)
    record.status = importer_pb2.IMPORT_STATUS_COMPLETED

    assert await records.put_unless_cancelled(record) is None
    assert await records.get(record.import_id) == record


def test_import_id_form():
    import_id = new_import_id()
    assert import_id.startswith("imp_")
    assert len(import_id) == 30
    assert is_import_id(import_id)


def test_import_id_rejects_other_forms():
    for text in ("", "imp_", "abc123", new_import_id().upper(), new_import_id() + "x", "imp_../x"):
        assert not is_import_id(text), text


def test_import_ids_sort_by_creation():
    first = new_import_id()
    second = new_import_id()
    assert first[:14] <= second[:14]
