"""StartImport's input checks: lengths, ports, characters and the field each error names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ferry.importer.v1 import importer_pb2

from services.importer import formats
from services.importer.config import ImporterSettings
from services.importer.credits import CreditHolds
from services.importer.metadata import MetadataJobs
from services.importer.records import ImportRecords
from services.importer.server import ImporterServicer
from services.shared import bus, netguard, rpc
from services.shared.config import NatsSettings, PeerSettings, UrlPolicy
from services.shared.errors import InvalidRequest
from tools.launch import free_port

MEDIA_URL = "http://127.0.0.1:9/a.mp4"


def _servicer_settings(infra, ledger_address: str, tmp_path, allow_private: bool):
    return ImporterSettings(
        port=free_port(),
        tmp_dir=str(tmp_path / "importer-tmp"),
        nats=NatsSettings(url=infra.nats_url),
        s3=infra.s3_settings(),
        peers=PeerSettings(ledger=ledger_address, timeout_seconds=5),
        urls=UrlPolicy(allow_private=allow_private),
    )


@pytest.fixture(params=[True, False], ids=["private-allowed", "private-blocked"])
async def servicer(request, infra, js, ledger_server, tmp_path) -> AsyncIterator[ImporterServicer]:
    await bus.ensure_streams(js, 3600)
    settings = _servicer_settings(infra, ledger_server.address, tmp_path, request.param)
    channel = rpc.open_channel(ledger_server.address)
    metadata = await MetadataJobs.open(settings, js)
    yield ImporterServicer(
        settings, js, await ImportRecords.open(js), CreditHolds(channel, 5), metadata
    )
    await channel.close()


async def _rejection(servicer: ImporterServicer, **fields) -> InvalidRequest:
    request = importer_pb2.StartImportRequest(account_id="acc_1", **fields)
    with pytest.raises(InvalidRequest) as caught:
        await servicer.StartImport(request, None)
    return caught.value


async def test_start_url_too_long(servicer):
    url = "http://127.0.0.1/" + "a" * 2 * 10**6

    error = await _rejection(servicer, url=url)

    assert error.code == "invalid_url"
    assert error.details == {"field": "url", "max_length": netguard.MAX_URL_LENGTH}
    assert f"the limit is {netguard.MAX_URL_LENGTH}" in error.message


async def test_start_webhook_url_too_long(servicer):
    webhook_url = "http://127.0.0.1/" + "h" * 3 * 10**6

    error = await _rejection(servicer, url="http://8.8.8.8/a.mp4", webhook_url=webhook_url)

    assert error.code == "invalid_url"
    assert error.details["field"] == "webhook_url"


async def test_start_format_too_long(servicer):
    request_format = importer_pb2.FormatRequest(format="b" * 10**6)

    error = await _rejection(servicer, url="http://8.8.8.8/a.mp4", format=request_format)

    assert error.details == {"field": "format", "max_length": formats.MAX_FORMAT_LENGTH}
    assert f"the limit is {formats.MAX_FORMAT_LENGTH}" in error.message


async def test_start_url_port_zero(servicer):
    error = await _rejection(servicer, url="http://127.0.0.1:0/x")

    assert error.code == "invalid_url"
    assert error.details == {"field": "url"}


@pytest.mark.parametrize("suffix", ["\r\nINFO forged line", "\x00", " x", "\x1b[31m"])
async def test_start_url_control_characters(servicer, suffix: str):
    error = await _rejection(servicer, url=MEDIA_URL + suffix)

    assert error.code == "invalid_url"
    assert error.details == {"field": "url"}


async def test_start_host_label_too_long(servicer):
    error = await _rejection(servicer, url=f"http://{'a' * 64}.example/x")

    assert error.code == "invalid_url"
    assert error.details == {"field": "url"}


async def test_start_blocked_webhook_names_field(infra, js, ledger_server, tmp_path):
    await bus.ensure_streams(js, 3600)
    settings = _servicer_settings(infra, ledger_server.address, tmp_path, allow_private=False)
    channel = rpc.open_channel(ledger_server.address)
    metadata = await MetadataJobs.open(settings, js)
    servicer = ImporterServicer(
        settings, js, await ImportRecords.open(js), CreditHolds(channel, 5), metadata
    )

    error = await _rejection(
        servicer, url="http://8.8.8.8/a.mp4", webhook_url="http://127.0.0.1:9/hook"
    )
    await channel.close()

    assert error.code == "blocked_address"
    assert error.details["field"] == "webhook_url"
    assert "webhook_url" in error.message
