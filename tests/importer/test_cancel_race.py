"""A cancel and the worker's final write at the same moment, with the order forced by the test.

The worker and CancelImport run against real NATS JetStream, the moto S3 server and the
stand-in ledger. A subclass of ImportRecords runs the other side's write between one
side's read of the record and its compare-and-set, which is the window of the race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import nats.errors
import pytest
from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2
from ferry.ledger.v1 import ledger_pb2
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.importer import control
from services.importer.cancel import RunningImports
from services.importer.config import ImporterSettings
from services.importer.credits import CreditHolds
from services.importer.metadata import MetadataJobs
from services.importer.records import ImportRecords
from services.importer.server import ImporterServicer
from services.importer.storage import MediaStorage
from services.importer.worker import ImportWorker
from services.shared import bus, rpc
from services.shared.config import NatsSettings, PeerSettings, UrlPolicy

Status = importer_pb2.ImportStatus
BALANCE = 10


class RacingRecords(ImportRecords):
    """ImportRecords that run `before_update` once, before a CAS write of status `status`."""

    def __init__(self, records: ImportRecords, status: int) -> None:
        super().__init__(records._kv, records._index)
        self.status = status
        self.before_update: Callable[[], Awaitable[None]] | None = None
        self.updates = 0

    async def update(self, record: importer_pb2.Import, revision: int) -> int:
        if record.status == self.status:
            self.updates += 1
            hook, self.before_update = self.before_update, None
            if hook is not None:
                await hook()
        return await super().update(record, revision)


@dataclass
class Race:
    js: JetStreamContext
    client: Client
    servicer: ImporterServicer
    worker: ImportWorker
    worker_records: RacingRecords
    cancel_records: RacingRecords
    media: MediaStorage
    ledger: object  # conftest.FakeLedger

    async def start(self, account_id: str, url: str) -> importer_pb2.Import:
        self.ledger.balances[account_id] = BALANCE
        request = importer_pb2.StartImportRequest(account_id=account_id, url=url)
        return await self.servicer.StartImport(request, None)

    async def cancel(self, record: importer_pb2.Import) -> importer_pb2.Import:
        request = importer_pb2.CancelImportRequest(
            account_id=record.account_id, import_id=record.import_id
        )
        return await self.servicer.CancelImport(request, None)

    async def next_job(self) -> Msg:
        """Fetch the queued job as the worker's consumer would."""
        subscription = await self.js.pull_subscribe(
            bus.IMPORT_JOBS_SUBJECT, durable=bus.IMPORTER_CONSUMER, stream=bus.JOBS_STREAM
        )
        [message] = await subscription.fetch(1, timeout=5)
        return message

    async def object_keys(self, record: importer_pb2.Import) -> list[str]:
        prefix = f"{record.account_id}/{record.import_id}/"
        return [item.key for item in await self.media.list_objects() if item.key.startswith(prefix)]

    async def event_ids(self, kind: bus.EventType) -> list[str]:
        """Return the id of the last event of `kind` as a list, empty when there is none."""
        try:
            message = await self.js.get_last_msg(bus.EVENTS_STREAM, kind.subject)
        except nats.js.errors.NotFoundError:
            return []
        return [events_pb2.ImportEvent.FromString(message.data).event_id]


@pytest.fixture
async def race(infra, js, nats_client, ledger_server, tmp_path) -> AsyncIterator[Race]:
    await bus.ensure_streams(js, 3600)
    await js.purge_stream(bus.JOBS_STREAM)
    settings = ImporterSettings(
        tmp_dir=str(tmp_path / "importer-tmp"),
        max_deliver=3,
        timeout_seconds=60,
        hold_credits=1,
        nats=NatsSettings(url=infra.nats_url),
        s3=infra.s3_settings(),
        peers=PeerSettings(ledger=ledger_server.address, timeout_seconds=5),
        urls=UrlPolicy(allow_private=True),
    )
    media = MediaStorage(settings.s3)
    await media.ensure_bucket()
    channel = rpc.open_channel(ledger_server.address)
    holds = CreditHolds(channel, 5)
    records = await ImportRecords.open(js)
    worker_records = RacingRecords(records, Status.IMPORT_STATUS_COMPLETED)
    cancel_records = RacingRecords(records, Status.IMPORT_STATUS_CANCELLED)
    running = RunningImports()
    await running.listen(nats_client)
    worker = ImportWorker(settings, js, worker_records, media, holds, running)
    worker.reset_temp_dir()
    servicer = ImporterServicer(
        settings, js, cancel_records, holds, await MetadataJobs.open(settings, js),
        nats_client=nats_client, media=media,
    )

    yield Race(js, nats_client, servicer, worker, worker_records, cancel_records, media,
               ledger_server.ledger)

    await running.close()
    await channel.close()


async def test_cancel_before_completed_write_wins(race, media_url):
    queued = await race.start("acc_race_cancel", f"{media_url}/clip.mp4")
    uploaded: list[str] = []

    async def cancel_now() -> None:
        # The worker has read the record (not cancelled) and uploaded the object.
        uploaded.extend(await race.object_keys(queued))
        await race.cancel(queued)

    race.worker_records.before_update = cancel_now
    await race.worker.handle(await race.next_job())

    record = await race.servicer.GetImport(
        importer_pb2.GetImportRequest(account_id=queued.account_id, import_id=queued.import_id),
        None,
    )
    hold = race.ledger.holds[queued.import_id]
    assert uploaded == [f"acc_race_cancel/{queued.import_id}/clip.mp4"]
    # The worker made one CAS write of `completed`, which failed, and its next read found
    # the cancel.
    assert race.worker_records.updates == 1
    assert record.status == Status.IMPORT_STATUS_CANCELLED
    assert record.credits_used == 0
    assert record.media_url == ""
    assert await race.object_keys(queued) == []
    assert hold.status == ledger_pb2.HOLD_STATUS_RELEASED
    assert race.ledger.balances["acc_race_cancel"] == BALANCE
    assert f"{queued.import_id}.completed" not in await race.event_ids(
        bus.EventType.IMPORT_COMPLETED
    )
    assert await race.event_ids(bus.EventType.IMPORT_CANCELLED) == [
        f"{queued.import_id}.cancelled"
    ]


async def test_cancel_after_completed_write_deletes_media(race, media_url):
    queued = await race.start("acc_race_complete", f"{media_url}/clip.mp4")
    cancel_read = asyncio.Event()
    completed_written = asyncio.Event()

    async def wait_for_completion() -> None:
        # CancelImport has read the queued record, and the worker completes the import now.
        cancel_read.set()
        await completed_written.wait()

    race.cancel_records.before_update = wait_for_completion
    cancelling = asyncio.create_task(race.cancel(queued))
    await asyncio.wait_for(cancel_read.wait(), timeout=10)
    await race.worker.handle(await race.next_job())
    completed_keys = await race.object_keys(queued)
    completed_written.set()
    returned = await cancelling

    stored = await race.cancel_records.get(queued.import_id)
    assert completed_keys == [f"acc_race_complete/{queued.import_id}/clip.mp4"]
    assert returned.status == Status.IMPORT_STATUS_EXPIRED
    assert returned.message == control.DELETED_MESSAGE
    assert returned.credits_used == 1
    assert stored == returned
    assert await race.object_keys(queued) == []
    assert await race.event_ids(bus.EventType.IMPORT_COMPLETED) == [
        f"{queued.import_id}.completed"
    ]
    assert f"{queued.import_id}.cancelled" not in await race.event_ids(
        bus.EventType.IMPORT_CANCELLED
    )


async def test_cancel_retries_after_progress_write(race, media_url):
    queued = await race.start("acc_race_progress", f"{media_url}/clip.mp4")
    importing = await race.cancel_records.get(queued.import_id)
    importing.status = Status.IMPORT_STATUS_IMPORTING
    await race.cancel_records.put(importing)

    async def write_progress() -> None:
        importing.progress.CopyFrom(importer_pb2.Progress(downloaded_bytes=1000, total_bytes=4000))
        await race.cancel_records.put(importing)

    race.cancel_records.before_update = write_progress
    returned = await race.cancel(queued)

    stored = await race.cancel_records.get(queued.import_id)
    assert race.cancel_records.updates == 2
    assert returned.status == Status.IMPORT_STATUS_CANCELLED
    assert stored == returned
    assert stored.progress.downloaded_bytes == 1000
    assert await race.event_ids(bus.EventType.IMPORT_CANCELLED) == [
        f"{queued.import_id}.cancelled"
    ]
