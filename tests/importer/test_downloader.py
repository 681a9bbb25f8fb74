"""The yt-dlp child process, driven through the parent side against a local media server."""

from pathlib import Path

import pytest

from services.importer import downloader, formats
from services.importer.failures import ImportFailure
from services.importer.ytdlp_child import _clean


def _request(url: str, directory: Path, **overrides) -> downloader.DownloadRequest:
    fields = {
        "url": url,
        "selector": formats.height_selector(720),
        "directory": directory,
        "max_bytes": 10**7,
        "allow_private": True,
        "timeout_seconds": 60,
    }
    return downloader.DownloadRequest(**{**fields, **overrides})


async def _ignore_progress(downloaded: int, total: int) -> None:
    pass


async def test_download_direct_mp4(media_url, media_dir, tmp_path):
    progress: list[tuple[int, int]] = []

    async def record(downloaded: int, total: int) -> None:
        progress.append((downloaded, total))

    result = await downloader.download(_request(f"{media_url}/clip.mp4", tmp_path), record)

    assert result.title == "clip"
    assert result.ext == "mp4"
    assert result.path.parent == tmp_path
    assert result.path.read_bytes() == (media_dir / "clip.mp4").read_bytes()
    assert progress[-1] == (result.path.stat().st_size, result.path.stat().st_size)


async def test_download_selector_matches_nothing(media_url, tmp_path):
    request = _request(f"{media_url}/clip.mp4", tmp_path, selector="bestvideo[height<=100]")

    with pytest.raises(ImportFailure) as caught:
        await downloader.download(request, _ignore_progress)

    assert caught.value.code == "format_unavailable"
    assert caught.value.message.startswith("no format matches bestvideo[height<=100]; ")


async def test_download_blocked_address(media_url, tmp_path):
    request = _request(f"{media_url}/clip.mp4", tmp_path, allow_private=False)

    with pytest.raises(ImportFailure) as caught:
        await downloader.download(request, _ignore_progress)

    assert caught.value.code == "blocked_address"
    assert "127.0.0.1 resolves to 127.0.0.1, a private address" in caught.value.message


async def test_download_larger_than_balance(media_url, tmp_path):
    request = _request(f"{media_url}/clip.mp4", tmp_path, max_bytes=1000)

    with pytest.raises(ImportFailure) as caught:
        await downloader.download(request, _ignore_progress)

    assert caught.value.code == "too_large"
    assert "larger than the 0 MB your balance covers" in caught.value.message


async def test_download_missing_file(media_url, tmp_path):
    request = _request(f"{media_url}/missing.mp4", tmp_path)

    with pytest.raises(ImportFailure) as caught:
        await downloader.download(request, _ignore_progress)

    assert caught.value.code == "source_not_found"
    assert caught.value.message == "the source answered HTTP 404 File not found; check the URL"


async def test_download_timeout_kills_child(media_url, tmp_path):
    request = _request(f"{media_url}/clip.mp4", tmp_path, timeout_seconds=0.01)

    with pytest.raises(ImportFailure) as caught:
        await downloader.download(request, _ignore_progress)

    assert caught.value.code == "timed_out"


def test_clean_strips_prefix_and_cause():
    message = "ERROR: [generic] x: Unable to download: refused (caused by TransportError('x'))"
    assert _clean(message) == "[generic] x: Unable to download: refused"
