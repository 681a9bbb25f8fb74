"""Progress while importing, and the human title in the download's file name."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests import media, sources
from tests.e2e.test_first_import import api_client, get_status, start_import, wait_for_status
from tools.devstack import DevAccount, Stack

pytestmark = pytest.mark.e2e

# About 1.8 MB at 300 kB/s: a download of about six seconds.
THROTTLE_BYTES_PER_SECOND = 300_000
POLL_SECONDS = 0.2
# The status must change at least every 2 s; polling adds up to one interval of delay.
MAX_PROGRESS_GAP_SECONDS = 2 + POLL_SECONDS


@pytest.fixture(scope="module")
def throttled_server(media_dir: Path) -> Iterator[media.MediaServer]:
    media.make_mp4(media_dir, name="large.mp4", size="640x360", video_bitrate="4M")
    throttle = THROTTLE_BYTES_PER_SECOND
    with media.serve_media(media_dir, throttle_bytes_per_second=throttle) as server:
        yield server


def test_progress_reported_while_importing(
    stack: Stack, create_account: Callable[..., DevAccount],
    throttled_server: media.MediaServer, media_dir: Path,
):
    size = (media_dir / "large.mp4").stat().st_size
    account = create_account(100)
    samples: list[tuple[float, dict]] = []
    with api_client(stack, account.api_key) as client:
        import_id = start_import(client, url=throttled_server.url("large.mp4"), format="best")
        status = get_status(client, import_id)
        while status["status"] in ("queued", "importing"):
            if status["status"] == "importing" and "progress" in status:
                samples.append((time.monotonic(), status["progress"]))
            time.sleep(POLL_SECONDS)
            status = get_status(client, import_id)

    downloaded = [progress["downloadedBytes"] for _, progress in samples]
    pairs = zip(samples[1:], downloaded[:-1], strict=True)
    changes = [moment for (moment, progress), previous in pairs
               if progress["downloadedBytes"] != previous]
    gaps = [later - earlier for earlier, later in zip(changes[:-1], changes[1:], strict=True)]
    last = samples[-1][1]

    assert status["status"] == "completed", status
    assert len(set(downloaded)) >= 3, samples
    assert downloaded == sorted(downloaded)
    assert last["totalBytes"] == size
    assert last["percent"] == pytest.approx(last["downloadedBytes"] / size * 100, abs=0.1)
    assert max(gaps) <= MAX_PROGRESS_GAP_SECONDS, gaps


@pytest.fixture(scope="module")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sources.SourceServer]:
    directory = sources.make_sources(tmp_path_factory.mktemp("title-sources"))
    with sources.serve_sources(directory) as server:
        yield server


@pytest.mark.parametrize(
    ("path", "mode", "title"),
    [
        ("og-video.html", "files", "Open Graph clip"),
    ],
)
def test_download_name_carries_title(
    stack: Stack, create_account: Callable[..., DevAccount],
    source_server: sources.SourceServer, path: str, mode: str, title: str,
):
    account = create_account(100)
    with api_client(stack, account.api_key) as client:
        import_id = start_import(client, url=source_server.url(path, mode))
        status = wait_for_status(client, import_id, timeout=60)

    response = httpx.get(status["mediaUrl"], timeout=10)
    disposition = response.headers["Content-Disposition"]

    assert status["status"] == "completed", status
    assert status["title"] == title
    assert f"filename*=UTF-8''{urllib.parse.quote(title + '.mp4', safe='')}" in disposition
    assert disposition.startswith('attachment; filename="')
    assert disposition.split('"')[1].isascii()
