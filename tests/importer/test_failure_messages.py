"""Failure messages that clients see name the cause without server paths or exception classes."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.importer import downloader, formats, probe, verify
from services.importer.failures import ImportFailure
from services.importer.messages import scrub_paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "/srv/ferry tmp/imp_1-0/media.mp4: Invalid data found when processing input",
            "Invalid data found when processing input",
            id="known-path-with-space",
        ),
        pytest.param(
            "/var/lib/other/media.mkv: moov atom not found", "moov atom not found", id="path-prefix"
        ),
        pytest.param(
            "No space left on device: '/var/tmp/imp_1-0/media.mp4.part'",
            "No space left on device: '<path>'",
            id="quoted-path",
        ),
        pytest.param(
            "HTTP Error 404: Not Found for http://127.0.0.1:8000/a/b.mp4?next=/c/d",
            "HTTP Error 404: Not Found for http://127.0.0.1:8000/a/b.mp4?next=/c/d",
            id="url-kept",
        ),
        pytest.param("HTTP Error 403: Forbidden", "HTTP Error 403: Forbidden", id="no-path"),
    ],
)
def test_scrub_paths(text: str, expected: str):
    assert scrub_paths(text, Path("/srv/ferry tmp/imp_1-0/media.mp4")) == expected


async def test_probe_message_has_no_path(media_dir: Path, tmp_path: Path):
    not_media = tmp_path / "deep" / "media.mp4"
    not_media.parent.mkdir()
    not_media.write_bytes((media_dir / "notes.txt").read_bytes())

    with pytest.raises(ImportFailure) as caught:
        await probe.probe(not_media)

    assert caught.value.code == "invalid_media"
    assert str(tmp_path) not in caught.value.message
    assert caught.value.message.startswith("the downloaded file is not readable media: ")


async def test_verify_message_has_no_path(media_dir: Path, tmp_path: Path):
    not_media = tmp_path / "deep" / "media.mp4"
    not_media.parent.mkdir()
    not_media.write_bytes(b"\x00" * 4096)
    media = probe.MediaProbe(
        duration=2.0, width=160, height=120, vcodec="h264", acodec="aac", fps=15.0
    )
    expected = verify.Expectation(audio=False, video=False, audio_only=False, duration=None)

    with pytest.raises(ImportFailure) as caught:
        await verify.verify(not_media, media, expected)

    assert caught.value.code == "truncated"
    assert str(tmp_path) not in caught.value.message


class _RedirectHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "file:///nonexistent-ferry-test/media.mp4")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def redirect_url() -> Iterator[str]:
    """Serve a 302 to a file: URL on 127.0.0.1 and return the URL that redirects."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RedirectHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/video.mp4"
    server.shutdown()
    server.server_close()
    thread.join()


async def _ignore_progress(downloaded: int, total: int) -> None:
    pass


async def test_redirect_to_file_scheme(redirect_url: str, tmp_path: Path):
    request = downloader.DownloadRequest(
        url=redirect_url,
        selector=formats.height_selector(720),
        directory=tmp_path,
        max_bytes=10**7,
        allow_private=True,
        timeout_seconds=60,
    )

    with pytest.raises(ImportFailure) as caught:
        await downloader.download(request, _ignore_progress)

    assert caught.value.code == "download_failed"
    assert caught.value.message == (
        "the source redirected to an unsupported URL scheme 'file'; "
        "only http and https sources can be imported"
    )
