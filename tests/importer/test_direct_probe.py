"""Metadata of direct media files, read by the metadata child from their first and last bytes."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ferry.importer.v1 import importer_pb2
from yt_dlp.utils import DownloadError

from services.importer import direct_probe, extraction, metadata_child
from services.importer.ytdlp_child import AddressGuard, RecordingYoutubeDL
from tests import direct_media, sources


@pytest.fixture(scope="module")
def direct_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = direct_media.make_direct_sources(tmp_path_factory.mktemp("direct-media"))
    direct_media.check_layout(directory)
    return directory


@pytest.fixture(scope="module")
def server(direct_dir: Path) -> Iterator[sources.SourceServer]:
    with sources.serve_sources(direct_dir) as running:
        yield running


async def _extract(url: str, directory: Path, basic: bool = False) -> importer_pb2.MediaMetadata:
    return await extraction.extract(
        url, basic=basic, allow_private=True, timeout_seconds=60, directory=directory
    )


def _presets(metadata: importer_pb2.MediaMetadata) -> dict[str, importer_pb2.FormatPreset]:
    return {preset.name: preset for preset in metadata.presets}


@pytest.mark.parametrize("name", ["faststart.mp4", "moov-last.mp4"])
async def test_probe_mp4_with_ranges(server, direct_dir: Path, tmp_path: Path, name: str):
    metadata = await _extract(server.url(name), tmp_path / "job")
    presets = _presets(metadata)
    size = (direct_dir / name).stat().st_size

    assert list(presets) == ["360p", "audio only"]
    assert metadata.duration_seconds == pytest.approx(direct_media.SECONDS, abs=0.1)
    assert presets["360p"].height == direct_media.HEIGHT
    assert presets["360p"].width == direct_media.WIDTH
    assert presets["360p"].fps == pytest.approx(25)
    assert presets["360p"].vcodec == "h264"
    assert presets["360p"].acodec == "aac"
    assert presets["360p"].ext == "mp4"
    assert presets["360p"].estimated_size_bytes == size
    assert presets["360p"].estimated_credits == math.ceil(size / 10**6)
    # 64 kbit/s of AAC for 3 s, from the audio stream's bitrate.
    assert presets["audio only"].estimated_size_bytes == pytest.approx(64_000 / 8 * 3, rel=0.2)


async def test_probe_faststart_without_range(server, direct_dir: Path, tmp_path: Path):
    metadata = await _extract(server.url("faststart.mp4", "norange"), tmp_path / "job")
    preset = _presets(metadata)["360p"]

    assert preset.height == direct_media.HEIGHT
    assert preset.estimated_size_bytes == (direct_dir / "faststart.mp4").stat().st_size
    assert metadata.duration_seconds == pytest.approx(direct_media.SECONDS, abs=0.1)


async def test_probe_moov_last_without_range(server, direct_dir: Path, tmp_path: Path):
    # The end of the file cannot be fetched alone, so only the size is known.
    metadata = await _extract(server.url("moov-last.mp4", "norange"), tmp_path / "job")
    presets = _presets(metadata)

    assert list(presets) == ["best", "audio only"]
    assert presets["best"].height == 0
    assert presets["best"].estimated_size_bytes == (direct_dir / "moov-last.mp4").stat().st_size
    assert not presets["audio only"].HasField("estimated_size_bytes")
    assert metadata.duration_seconds == 0


async def test_probe_chunked_large_file(server, direct_dir: Path, tmp_path: Path):
    # No Content-Length and more than the first read: the size is estimated from bitrates.
    metadata = await _extract(server.url("faststart.mp4", "chunked"), tmp_path / "job")
    preset = _presets(metadata)["360p"]
    size = (direct_dir / "faststart.mp4").stat().st_size

    assert preset.height == direct_media.HEIGHT
    assert preset.estimated_size_bytes == pytest.approx(size, rel=0.05)


async def test_probe_chunked_small_file(server, direct_dir: Path, tmp_path: Path):
    # The whole body fits in the first read, so its length is the size.
    metadata = await _extract(server.url("clip.webm", "chunked"), tmp_path / "job")
    preset = _presets(metadata)["360p"]

    assert preset.estimated_size_bytes == (direct_dir / "clip.webm").stat().st_size
    assert preset.vcodec == "vp9"
    assert preset.acodec == "opus"
    assert preset.ext == "webm"


async def test_probe_basic_has_duration(server, tmp_path: Path):
    metadata = await _extract(server.url("clip.webm"), tmp_path / "job", basic=True)

    assert metadata.duration_seconds == pytest.approx(direct_media.SECONDS, abs=0.1)
    assert list(metadata.presets) == []


async def test_probe_deletes_its_directory(server, tmp_path: Path):
    directory = tmp_path / "job"

    await _extract(server.url("moov-last.mp4"), directory)

    assert not directory.exists()


async def test_probe_not_media_keeps_defaults(tmp_path: Path):
    (tmp_path / "site").mkdir()
    # A file served as video/mp4 that is not media: the probe finds nothing, extraction works.
    (tmp_path / "site" / "fake.mp4").write_bytes(b"\x00" * 4096)
    with sources.serve_sources(tmp_path / "site") as fake_server:
        metadata = await _extract(fake_server.url("fake.mp4"), tmp_path / "job")
    presets = _presets(metadata)

    assert list(presets) == ["best", "audio only"]
    assert presets["best"].estimated_size_bytes == 4096
    assert presets["best"].height == 0


def test_probe_blocked_connection_fails(server, tmp_path: Path, monkeypatch):
    # The extraction may reach the server; the policy then changes before the probe, so
    # the probe's own connection is the one the guard blocks.
    guard = AddressGuard(allow_private=True)
    monkeypatch.setattr(socket, "getaddrinfo", guard._guarded_getaddrinfo)
    probe = direct_probe.probe_direct

    def probe_under_strict_policy(*arguments: Any) -> dict[str, Any]:
        guard.allow_private = False
        return probe(*arguments)

    monkeypatch.setattr(direct_probe, "probe_direct", probe_under_strict_policy)
    ydl = RecordingYoutubeDL(metadata_child._options())

    with pytest.raises(DownloadError) as caught, ydl:
        metadata_child._extract(ydl, guard, server.url("clip.webm"), False, tmp_path / "job")
    code, message = metadata_child._failure_reason(caught.value, guard)

    assert code == "blocked_address"
    assert "127.0.0.1 resolves to 127.0.0.1, a private address" in message
