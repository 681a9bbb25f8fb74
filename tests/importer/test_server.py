"""The importer service end to end: gRPC, JetStream, the worker, S3 and a stand-in ledger."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import nats
import pytest
from ferry.events.v1 import events_pb2
from ferry.importer.v1 import importer_pb2, importer_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.importer.config import ImporterSettings
from services.importer.credits import CreditHolds
from services.importer.metadata import MetadataJobs
from services.importer.records import ImportRecords, new_import_id
from services.importer.server import ImporterServicer, serve
from services.shared import bus, rpc
from services.shared.config import NatsSettings, PeerSettings, UrlPolicy
from services.shared.errors import InsufficientCredits, InvalidRequest, NotFound, Unavailable
from tools.launch import free_port

Status = importer_pb2.ImportStatus
FINAL = (Status.IMPORT_STATUS_COMPLETED, Status.IMPORT_STATUS_FAILED)


@dataclass
class Importer:
    stub: importer_pb2_grpc.ImporterServiceStub
    settings: ImporterSettings
    ledger: Any  # conftest.FakeLedger
    service: asyncio.Task[None]
    stopping: asyncio.Event


def _settings(infra, ledger_address: str, tmp_path, allow_private: bool) -> ImporterSettings:
    return ImporterSettings(
        port=free_port(),
        tmp_dir=str(tmp_path / "importer-tmp"),
        ack_wait_seconds=4,
        heartbeat_seconds=1,
        max_deliver=3,
        timeout_seconds=60,
        # The stand-in ledger's accounts hold a few credits; the hold estimate fits them.
        hold_credits=1,
        nats=NatsSettings(url=infra.nats_url),
        s3=infra.s3_settings(),
        peers=PeerSettings(ledger=ledger_address, timeout_seconds=5),
        urls=UrlPolicy(allow_private=allow_private),
    )


async def _wait_until_serving(channel, deadline_seconds: float = 30) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + deadline_seconds
    while True:
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=2)
            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


async def _start_service(settings: ImporterSettings) -> tuple[asyncio.Task[None], asyncio.Event]:
    stopping = asyncio.Event()
    service = asyncio.create_task(serve(settings, stopping))
    channel = rpc.open_channel(f"127.0.0.1:{settings.port}")
    try:
        await _wait_until_serving(channel)
    finally:
        await channel.close()
    return service, stopping


@pytest.fixture
async def importer(infra, js, ledger_server, tmp_path) -> AsyncIterator[Importer]:
    await bus.ensure_streams(js, 3600)
    await js.purge_stream(bus.JOBS_STREAM)
    settings = _settings(infra, ledger_server.address, tmp_path, allow_private=True)
    service, stopping = await _start_service(settings)
    channel = rpc.open_channel(f"127.0.0.1:{settings.port}")

    running = Importer(
        importer_pb2_grpc.ImporterServiceStub(channel),
        settings,
        ledger_server.ledger,
        service,
        stopping,
    )
    yield running

    running.stopping.set()
    await asyncio.wait_for(running.service, timeout=30)
    await channel.close()


async def _start(importer: Importer, account_id: str, url: str, **fields) -> importer_pb2.Import:
    request = importer_pb2.StartImportRequest(account_id=account_id, url=url, **fields)
    return await importer.stub.StartImport(request, timeout=10)


async def _wait_final(importer: Importer, record: importer_pb2.Import) -> importer_pb2.Import:
    request = importer_pb2.GetImportRequest(
        account_id=record.account_id, import_id=record.import_id
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = await importer.stub.GetImport(request, timeout=10)
        if current.status in FINAL:
            return current
        await asyncio.sleep(0.2)
    raise AssertionError(f"import {record.import_id} did not finish: {current}")


async def _last_event(js, subject: str) -> events_pb2.ImportEvent:
    message = await js.get_last_msg(bus.EVENTS_STREAM, subject)
    return events_pb2.ImportEvent.FromString(message.data)


async def test_start_import_completes(importer, infra, js, media_url, media_dir):
    importer.ledger.balances["acc_ok"] = 10

    format_request = importer_pb2.FormatRequest(format="720p")
    queued = await _start(importer, "acc_ok", f"{media_url}/clip.mp4", format=format_request)
    record = await _wait_final(importer, queued)

    assert queued.status == Status.IMPORT_STATUS_QUEUED
    assert record.status == Status.IMPORT_STATUS_COMPLETED
    assert record.message == (
        "Import completed successfully; 720p is not available, so the closest lower height, "
        "120p, was imported"
    )
    assert record.credits_used == 1
    assert record.attempts == 1
    assert record.object_key == f"acc_ok/{record.import_id}/clip.mp4"
    assert record.media.title == "clip"
    assert record.media.width == 160
    assert record.media.acodec == "aac"
    assert record.media.size_bytes == (media_dir / "clip.mp4").stat().st_size
    assert record.expires_at.seconds - record.finished_at.seconds == 604800
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(record.media_url)
    assert response.content == (media_dir / "clip.mp4").read_bytes()
    assert importer.ledger.holds[record.import_id].credits == 1

    event = await _last_event(js, bus.EventType.IMPORT_COMPLETED.subject)
    assert event.event_id == f"{record.import_id}.completed"
    assert event.record == record


async def test_start_import_failed_download(importer, js, media_url):
    importer.ledger.balances["acc_fail"] = 10

    queued = await _start(importer, "acc_fail", f"{media_url}/missing.mp4")
    record = await _wait_final(importer, queued)

    assert record.status == Status.IMPORT_STATUS_FAILED
    assert record.error_code == "source_not_found"
    assert "404" in record.message
    assert record.credits_used == 0
    assert record.media_url == ""
    event = await _last_event(js, bus.EventType.IMPORT_FAILED.subject)
    assert event.event_id == f"{record.import_id}.failed"


async def test_start_import_missing_audio_fails(importer, media_url):
    importer.ledger.balances["acc_audio"] = 10

    queued = await _start(
        importer, "acc_audio", f"{media_url}/silent.mp4",
        format=importer_pb2.FormatRequest(include_video=False),
    )
    record = await _wait_final(importer, queued)

    assert record.status == Status.IMPORT_STATUS_FAILED
    assert record.error_code == "missing_audio"
    assert record.message == (
        "the import requested audio only, but the media has no audio stream; import it with video"
    )


async def test_start_import_insufficient_credits(importer, media_url):
    importer.ledger.balances["acc_empty"] = 0

    with pytest.raises(InsufficientCredits, match="balance is 0"):
        await _start(importer, "acc_empty", f"{media_url}/clip.mp4")


async def test_start_import_invalid_format(importer, media_url):
    importer.ledger.balances["acc_format"] = 10

    with pytest.raises(InvalidRequest, match="not a valid yt-dlp format selector") as caught:
        await _start(importer, "acc_format", f"{media_url}/clip.mp4",
                     format=importer_pb2.FormatRequest(format="bv*+"))
    assert caught.value.details["field"] == "format"
    assert importer.ledger.holds == {}


async def test_get_import_other_account(importer, media_url):
    importer.ledger.balances["acc_owner"] = 10
    queued = await _start(importer, "acc_owner", f"{media_url}/clip.mp4")

    request = importer_pb2.GetImportRequest(account_id="acc_other", import_id=queued.import_id)
    with pytest.raises(NotFound, match=f"import '{queued.import_id}' not found"):
        await importer.stub.GetImport(request, timeout=10)


async def test_get_import_malformed_id(importer):
    request = importer_pb2.GetImportRequest(account_id="acc_1", import_id="../../etc")
    with pytest.raises(NotFound, match="import '../../etc' not found"):
        await importer.stub.GetImport(request, timeout=10)


async def test_worker_republishes_final_record(importer, js):
    records = await ImportRecords.open(js)
    record = importer_pb2.Import(
        import_id=new_import_id(),
        account_id="acc_done",
        status=Status.IMPORT_STATUS_FAILED,
        message="earlier failure",
    )
    await records.put(record)

    job = events_pb2.ImportJob(import_id=record.import_id, account_id="acc_done")
    await js.publish(bus.IMPORT_JOBS_SUBJECT, job.SerializeToString())

    deadline = time.monotonic() + 20
    event = await _last_event(js, bus.EventType.IMPORT_FAILED.subject)
    while event.record.import_id != record.import_id and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        event = await _last_event(js, bus.EventType.IMPORT_FAILED.subject)
    assert event.event_id == f"{record.import_id}.failed"
    assert event.record.message == "earlier failure"


@pytest.fixture
async def guarded_servicer(infra, js, ledger_server, tmp_path) -> AsyncIterator[ImporterServicer]:
    await bus.ensure_streams(js, 3600)
    settings = _settings(infra, ledger_server.address, tmp_path, allow_private=False)
    channel = rpc.open_channel(ledger_server.address)
    metadata = await MetadataJobs.open(settings, js)
    yield ImporterServicer(
        settings, js, await ImportRecords.open(js), CreditHolds(channel, 5), metadata
    )
    await channel.close()


async def test_start_import_blocked_url(guarded_servicer):
    request = importer_pb2.StartImportRequest(account_id="acc_1", url="http://127.0.0.1:9/a.mp4")

    with pytest.raises(InvalidRequest, match="a private address") as caught:
        await guarded_servicer.StartImport(request, None)
    assert caught.value.code == "blocked_address"


async def test_start_import_blocked_webhook(guarded_servicer):
    request = importer_pb2.StartImportRequest(
        account_id="acc_1", url="http://8.8.8.8/a.mp4", webhook_url="ftp://8.8.8.8/hook"
    )

    with pytest.raises(InvalidRequest, match="webhook_url") as caught:
        await guarded_servicer.StartImport(request, None)
    assert caught.value.details["field"] == "webhook_url"


async def test_start_import_releases_hold_when_nats_down(infra, ledger_server, tmp_path):
    ledger_server.ledger.balances["acc_down"] = 5
    settings = _settings(infra, ledger_server.address, tmp_path, allow_private=True)
    client = await nats.connect(infra.nats_url)
    js = client.jetstream()
    await bus.ensure_streams(js, 3600)
    records = await ImportRecords.open(js)
    metadata = await MetadataJobs.open(settings, js)
    await client.close()
    channel = rpc.open_channel(ledger_server.address)
    servicer = ImporterServicer(settings, js, records, CreditHolds(channel, 5), metadata)
    request = importer_pb2.StartImportRequest(account_id="acc_down", url="http://127.0.0.1/a.mp4")

    with pytest.raises(Unavailable, match="NATS JetStream is unavailable"):
        await servicer.StartImport(request, None)
    await channel.close()

    assert ledger_server.ledger.balances["acc_down"] == 5


async def test_restarted_worker_runs_job_again(importer, media_url, media_dir):
    importer.ledger.balances["acc_restart"] = 10
    queued = await _start(importer, "acc_restart", f"{media_url}/slow/clip.mp4")
    request = importer_pb2.GetImportRequest(account_id="acc_restart", import_id=queued.import_id)
    deadline = time.monotonic() + 20
    while (await importer.stub.GetImport(request, timeout=10)).progress.downloaded_bytes == 0:
        assert time.monotonic() < deadline, "the download never reported progress"
        await asyncio.sleep(0.1)

    # Cancelling serve() simulates a crash, and the running job goes back to JetStream.
    service = importer.service
    service.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await service
    importer.service, importer.stopping = await _start_service(importer.settings)
    record = await _wait_final(importer, queued)

    assert record.status == Status.IMPORT_STATUS_COMPLETED
    assert record.attempts == 2
    assert record.media.size_bytes == (media_dir / "clip.mp4").stat().st_size
