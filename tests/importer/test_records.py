from ferry.importer.v1 import importer_pb2

from services.importer.records import ImportRecords, is_import_id, new_import_id
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
