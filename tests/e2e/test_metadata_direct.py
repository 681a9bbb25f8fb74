"""GET /metadata on direct media files, whose streams the importer reads from their first bytes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests import direct_media, sources
from tests.e2e.test_first_import import api_client
from tests.e2e.test_metadata import finished_metadata
from tools.devstack import DevAccount, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def direct_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sources.SourceServer]:
    directory = direct_media.make_direct_sources(tmp_path_factory.mktemp("direct-sources"))
    direct_media.check_layout(directory)
    with sources.serve_sources(directory) as server:
        yield server


@pytest.fixture(scope="module")
def client(stack: Stack, create_account: Callable[..., DevAccount]) -> Iterator[httpx.Client]:
    account = create_account(100)
    with api_client(stack, account.api_key) as api:
        api.timeout = httpx.Timeout(30)
        yield api


def _metadata(client: httpx.Client, url: str) -> dict[str, Any]:
    data = finished_metadata(client, "/metadata", client.get("/metadata", params={"url": url}))
    assert data["status"] == "completed", data
    return data


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("faststart.mp4", "files"),
        ("moov-last.mp4", "files"),
        ("faststart.mp4", "norange"),
    ],
    ids=["faststart", "moov-last", "faststart-no-range"],
)
def test_metadata_direct_mp4(client: httpx.Client, direct_server, name: str, mode: str):
    size = (direct_server.directory / name).stat().st_size

    data = _metadata(client, direct_server.url(name, mode))
    presets = {preset["preset"]: preset for preset in data["presets"]}
    video = presets["360p"]

    assert list(presets) == ["360p", "audio only"]
    assert data["duration"] == pytest.approx(direct_media.SECONDS, abs=0.1)
    assert video["height"] == direct_media.HEIGHT
    assert video["width"] == direct_media.WIDTH
    assert video["fps"] == pytest.approx(25)
    assert video["vcodec"] == "h264"
    assert video["acodec"] == "aac"
    assert video["ext"] == "mp4"
    assert video["estimatedSize"] == size
    assert video["estimatedCredits"] == math.ceil(size / 10**6)
    assert presets["audio only"]["ext"] == "m4a"
    assert presets["audio only"]["estimatedCredits"] == 1


def test_metadata_direct_webm(client: httpx.Client, direct_server):
    size = (direct_server.directory / "clip.webm").stat().st_size

    data = _metadata(client, direct_server.url("clip.webm"))
    video = data["presets"][0]

    assert [preset["preset"] for preset in data["presets"]] == ["360p", "audio only"]
    assert data["duration"] == pytest.approx(direct_media.SECONDS, abs=0.1)
    assert video["height"] == direct_media.HEIGHT
    assert video["vcodec"] == "vp9"
    assert video["acodec"] == "opus"
    assert video["ext"] == "webm"
    assert video["estimatedSize"] == size
    assert video["estimatedCredits"] == 1


def test_metadata_moov_last_no_range(client: httpx.Client, direct_server):
    # Without Range support the end of the file, where its index is, cannot be read alone.
    size = (direct_server.directory / "moov-last.mp4").stat().st_size

    data = _metadata(client, direct_server.url("moov-last.mp4", "norange"))
    best = data["presets"][0]

    assert [preset["preset"] for preset in data["presets"]] == ["best", "audio only"]
    assert data["duration"] is None
    assert best["height"] is None
    assert best["vcodec"] is None
    assert best["estimatedSize"] == size
    assert best["estimatedCredits"] == math.ceil(size / 10**6)
