"""Every source type and every way a download breaks, imported through the REST API.

All imports start together in one module fixture, each from its own account, and the tests
then check one finished import each. A completed import is checked with ffprobe for its
container, streams, height, duration and frame count; a failed one for its code, message,
cost and for nothing stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from minio import Minio

from tests import sources
from tests.e2e.test_first_import import (
    api_client,
    get_status,
    start_import,
    wait_for_settlement,
)
from tools.devstack import DevAccount, Stack

pytestmark = pytest.mark.e2e

INITIAL_CREDITS = 1000
IMPORTS_TIMEOUT_SECONDS = 240
DURATION_TOLERANCE_SECONDS = 0.5
FRAME_TOLERANCE = 2
MISSING_SEGMENT = "broken/240p_001.ts"
# ffprobe format names of each stored extension.
CONTAINER_NAMES = {
    "mp4": "mp4",
    "m4a": "mp4",
    "webm": "webm",
    "mkv": "matroska",
    "mp3": "mp3",
}


@dataclass(frozen=True)
class Case:
    path: str
    body: dict[str, Any] = field(default_factory=dict)
    mode: str = "files"
    # Completed imports:
    ext: str = ""
    height: int = 0
    audio: bool = True
    vcodec: str = ""
    acodec: str = ""
    # Part of the completed message, or of the failure message.
    message: str = ""
    # Failed imports:
    error_code: str = ""


LOWER_240 = "720p is not available, so the closest lower height, 240p, was imported"
COMPLETED = {
    "direct-mp4": Case("clip.mp4", ext="mp4", height=240, vcodec="h264", acodec="aac",
                       message=LOWER_240),
    "direct-webm": Case("clip.webm", ext="webm", height=240, vcodec="vp9", acodec="opus"),
    "direct-mkv": Case("clip.mkv", ext="mp4", height=240, vcodec="h264", acodec="aac"),
    "direct-mov": Case("clip.mov", ext="mp4", height=240, vcodec="h264", acodec="aac"),
    "hls-audio-group": Case("hls/master.m3u8", {"format": "1080p"}, ext="mp4", height=1080,
                            vcodec="h264", acodec="aac"),
    "hls-no-codecs": Case("hls/master-nocodecs.m3u8", {"format": "720p"}, ext="mp4",
                          height=720, vcodec="h264", acodec="aac"),
    "hls-muxed": Case("muxed/master.m3u8", {"format": "360p"}, ext="mp4", height=360,
                      vcodec="h264", acodec="aac"),
    "hls-media-playlist": Case("muxed/240p.m3u8", ext="mp4", height=240, vcodec="h264",
                               acodec="aac"),
    "dash": Case("dash/manifest.mpd", {"quality": "high"}, ext="mp4", height=240,
                 vcodec="h264", acodec="aac"),
    "dash-lower": Case("dash/manifest.mpd", {"videoQuality": "144p"}, ext="mp4", height=120,
                       vcodec="h264", acodec="aac",
                       message="144p is not available, so the closest lower height, 120p"),
    "audio-m4a": Case("tone.m4a", {"includeVideo": False}, ext="m4a", audio=True,
                      acodec="aac"),
    "audio-mp3": Case("tone.mp3", {"includeVideo": False}, ext="mp3", acodec="mp3"),
    "audio-opus": Case("tone.opus", {"includeVideo": False}, ext="m4a", acodec="aac"),
    "audio-from-video": Case("clip.mp4", {"includeVideo": False}, ext="m4a", acodec="aac"),
    "video-only": Case("clip.mp4", {"includeAudio": False}, ext="mp4", height=240,
                       audio=False, vcodec="h264"),
    "page-og-video": Case("og-video.html", ext="mp4", height=240, vcodec="h264",
                          acodec="aac"),
    "page-video-element": Case("video-tag.html", ext="mp4", height=240, vcodec="h264",
                               acodec="aac"),
    "redirect-chain": Case("clip.mp4", mode="redirect/3", ext="mp4", height=240,
                           vcodec="h264", acodec="aac"),
    "no-range-support": Case("clip.mp4", mode="norange", ext="mp4", height=240,
                             vcodec="h264", acodec="aac"),
    "chunked-no-length": Case("clip.mp4", mode="chunked", ext="mp4", height=240,
                              vcodec="h264", acodec="aac"),
    "wrong-content-type": Case("clip.mp4", mode="wrongtype", ext="mp4", height=240,
                               vcodec="h264", acodec="aac"),
    "non-ascii-attachment": Case("clip.mp4", mode="attachment", ext="mp4", height=240,
                                 vcodec="h264", acodec="aac"),
    "720p-unknown-height": Case("clip.mp4", {"format": "720p"}, ext="mp4", height=240,
                                vcodec="h264", acodec="aac", message=LOWER_240),
    "720p-audio-only-source": Case("tone.m4a", {"format": "720p"}, ext="m4a", acodec="aac",
                                   message="the source has no video, so only its audio"),
    "h264-opus-as-mp4": Case("h264-opus.mp4", {"format": "mp4"}, ext="mkv", height=240,
                             vcodec="h264", acodec="opus"),
    "webm-as-mp4": Case("webm-as.mp4", {"format": "mp4"}, ext="webm", height=240,
                        vcodec="vp9", acodec="opus"),
}
FAILED = {
    "page-without-media": Case("no-media.html", error_code="no_media",
                               message="no media found at this URL"),
    "playlist-page": Case("playlist.html", error_code="playlist_unsupported",
                          message="playlists are not supported; pass one item's URL"),
    "chunked-cut-halfway": Case("clip.mp4", mode="cut", error_code="truncated",
                                message="closed the connection before the end"),
    "close-delimited-cut-halfway": Case("clip.mp4", mode="cutclose", error_code="truncated",
                                        message="cut short"),
    "empty-body": Case("clip.mp4", mode="empty", error_code="empty_body",
                       message="empty body"),
    "hls-segment-404": Case("broken/240p.m3u8", error_code="download_failed",
                            message="a segment of the HLS or DASH stream could not be "
                                    "downloaded: HTTP Error 404"),
    "strict-selector": Case(
        "hls/master.m3u8", {"format": "bestvideo[height<=100]"},
        error_code="format_unavailable",
        message="no format matches bestvideo[height<=100]; available heights: 360, 720, 1080",
    ),
}


@dataclass
class Started:
    account: DevAccount
    import_id: str
    status: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sources.SourceServer]:
    directory = sources.make_sources(tmp_path_factory.mktemp("sources"))
    with sources.serve_sources(directory) as server:
        server.missing.add(MISSING_SEGMENT)
        yield server


@pytest.fixture(scope="module")
def finished(
    stack: Stack,
    create_account: Callable[..., DevAccount],
    source_server: sources.SourceServer,
) -> dict[str, Started]:
    """Start every case's import at once, each from a new account, and wait for them all."""
    started: dict[str, Started] = {}
    for name, case in {**COMPLETED, **FAILED}.items():
        account = create_account(INITIAL_CREDITS)
        with api_client(stack, account.api_key) as client:
            url = source_server.url(case.path, case.mode)
            started[name] = Started(account, start_import(client, url=url, **case.body))

    deadline = time.monotonic() + IMPORTS_TIMEOUT_SECONDS
    pending = dict(started)
    while pending and time.monotonic() < deadline:
        for name, item in list(pending.items()):
            with api_client(stack, item.account.api_key) as client:
                item.status = get_status(client, item.import_id)
            if item.status["status"] in ("completed", "failed"):
                del pending[name]
        time.sleep(0.5)
    return started


@pytest.fixture(scope="module")
def twice(
    stack: Stack,
    create_account: Callable[..., DevAccount],
    source_server: sources.SourceServer,
) -> list[dict[str, Any]]:
    """Import the same URL twice at the same moment from one account."""
    account = create_account(INITIAL_CREDITS)
    url = source_server.url("hls/master.m3u8")
    with api_client(stack, account.api_key) as client:
        ids = [start_import(client, url=url, format="360p") for _ in range(2)]
        deadline = time.monotonic() + IMPORTS_TIMEOUT_SECONDS
        statuses = [get_status(client, import_id) for import_id in ids]
        while any(s["status"] not in ("completed", "failed") for s in statuses):
            assert time.monotonic() < deadline, statuses
            time.sleep(0.3)
            statuses = [get_status(client, import_id) for import_id in ids]
    return statuses


def _download(status: dict[str, Any], directory: Path) -> tuple[httpx.Response, Path]:
    response = httpx.get(status["mediaUrl"], timeout=10)
    path = directory / f"media.{status['ext']}"
    path.write_bytes(response.content)
    return response, path


@pytest.mark.parametrize("name", list(COMPLETED))
def test_source_completes_checked_by_ffprobe(
    name: str, finished: dict[str, Started], tmp_path: Path
):
    case = COMPLETED[name]
    status = finished[name].status

    assert status["status"] == "completed", status
    response, path = _download(status, tmp_path)
    description = sources.describe(path)
    video = [s for s in description["streams"] if s["codec_type"] == "video"]
    audio = [s for s in description["streams"] if s["codec_type"] == "audio"]
    duration = float(description["format"]["duration"])

    assert status["ext"] == case.ext
    assert CONTAINER_NAMES[case.ext] in description["format"]["format_name"].split(",")
    assert status["filesize"] == path.stat().st_size
    assert abs(duration - sources.CLIP_SECONDS) <= DURATION_TOLERANCE_SECONDS
    assert abs(status["duration"] - duration) <= DURATION_TOLERANCE_SECONDS
    assert len(audio) == (1 if case.audio else 0)
    assert status["acodec"] == case.acodec
    if case.acodec:
        assert audio[0]["codec_name"] == case.acodec
    assert status["vcodec"] == case.vcodec
    if case.vcodec:
        frames = int(video[0]["nb_read_frames"])
        assert len(video) == 1
        assert video[0]["codec_name"] == case.vcodec
        assert video[0]["height"] == case.height
        assert status["height"] == case.height
        assert abs(frames - sources.CLIP_SECONDS * sources.CLIP_FPS) <= FRAME_TOLERANCE
    else:
        assert video == []
    assert case.message in status["message"]
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("name", list(FAILED))
def test_broken_source_fails_for_free(
    name: str, finished: dict[str, Started], stack: Stack, s3_client: Minio
):
    case = FAILED[name]
    item = finished[name]
    bucket = stack.env.get("FERRY_S3_BUCKET", "ferry-media")
    prefix = f"{item.account.account_id}/{item.import_id}/"

    assert item.status["status"] == "failed", item.status
    assert item.status["errorCode"] == case.error_code
    assert case.message in item.status["message"]
    assert item.status["creditsUsed"] == 0
    assert wait_for_settlement(stack, item.account.account_id).balance == INITIAL_CREDITS
    assert list(s3_client.list_objects(bucket, prefix=prefix, recursive=True)) == []


def test_same_url_twice_gives_two_files(twice: list[dict[str, Any]], tmp_path: Path):
    first, second = twice

    assert first["status"] == "completed", first
    assert second["status"] == "completed", second
    assert first["importId"] != second["importId"]
    assert first["mediaUrl"].split("?")[0] != second["mediaUrl"].split("?")[0]
    for status in twice:
        _, path = _download(status, tmp_path)
        description = sources.describe(path)
        heights = [s["height"] for s in description["streams"] if s["codec_type"] == "video"]
        assert heights == [360]
        assert abs(float(description["format"]["duration"]) - 3) <= DURATION_TOLERANCE_SECONDS
