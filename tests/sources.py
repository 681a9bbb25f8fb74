"""Media sources of every kind for import tests, and a local server that misbehaves on request.

`make_sources(directory)` writes every file with ffmpeg (once per directory). `SourceServer`
serves the directory on 127.0.0.1; the first path segment picks how it answers:

- `/files/<path>`: a normal file server with single byte ranges;
- `/norange/<path>`: always 200 with the whole file, ignoring Range;
- `/chunked/<path>`: chunked transfer encoding, no Content-Length;
- `/cut/<path>`: chunked, but the connection closes after half the file;
- `/cutclose/<path>`: no Content-Length and no chunks: half the file, then the connection
  closes, which a client cannot tell from the end of the body;
- `/empty/<path>`: 200 with an empty body and the file's Content-Type;
- `/wrongtype/<path>`: the file sent as text/html;
- `/redirect/<n>/<path>`: n redirects (302, 301, 307 in turn) before `/files/<path>`;
- `/attachment/<path>`: the file with a non-ASCII Content-Disposition file name.

Paths listed in `SourceServer.missing` answer 404 under every prefix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests import media

logger = logging.getLogger(__name__)

CLIP_SECONDS = 3
CLIP_FPS = 25
ATTACHMENT_FILENAME = "Café — démo 日本.mp4"
# HLS renditions with muxed audio: (name, width, height, video bitrate).
MUXED_RENDITIONS = (("240p", 320, 240, "200k"), ("360p", 640, 360, "400k"))

_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".m4s": "video/iso.segment",
    ".mpd": "application/dash+xml",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".mp3": "audio/mpeg",
    ".opus": "audio/ogg",
    ".html": "text/html; charset=utf-8",
}
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
_CHUNK_BYTES = 8192
_REDIRECT_STATUSES = (HTTPStatus.FOUND, HTTPStatus.MOVED_PERMANENTLY,
                      HTTPStatus.TEMPORARY_REDIRECT)


# ffmpeg's muxer for each extension, where the two names differ.
_MUXERS = {".mkv": "matroska", ".m4a": "ipod", ".opus": "ogg"}


def _ffmpeg(arguments: Sequence[str], target: Path) -> Path:
    """Run ffmpeg writing `target` unless it exists, through a temporary name."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".m3u8":
        media._ffmpeg(arguments, target)
        return target
    partial = target.with_name(f".partial-{target.name}")
    muxer = _MUXERS.get(target.suffix, target.suffix.lstrip("."))
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments,
            "-f", muxer, str(partial)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise media.MediaError(f"ffmpeg failed writing {target}: {result.stderr.strip()[-2000:]}")
    partial.rename(target)
    return target


def _av_inputs(size: str, seconds: float = CLIP_SECONDS) -> list[str]:
    return [
        "-f", "lavfi", "-i", f"testsrc=size={size}:rate={CLIP_FPS}:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
    ]


_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-g", str(CLIP_FPS), "-keyint_min", str(CLIP_FPS), "-sc_threshold", "0"]
_AAC = ["-c:a", "aac", "-b:a", "64k"]


def make_sources(directory: Path) -> Path:
    """Write every test source into `directory` and return it."""
    media.make_mp4(directory, name="clip.mp4", seconds=CLIP_SECONDS)
    media.make_hls(directory, seconds=CLIP_SECONDS)
    _ffmpeg([*_av_inputs("320x240"), "-c:v", "libvpx-vp9", "-deadline", "realtime",
             "-cpu-used", "8", "-b:v", "200k", "-c:a", "libopus", "-b:a", "48k"],
            directory / "clip.webm")
    _ffmpeg([*_av_inputs("320x240"), *_H264, *_AAC], directory / "clip.mkv")
    _ffmpeg([*_av_inputs("320x240"), *_H264, *_AAC], directory / "clip.mov")
    # H.264 with Opus in MP4, which yt-dlp and most players do not expect.
    _ffmpeg([*_av_inputs("320x240"), *_H264, "-c:a", "libopus", "-b:a", "48k",
             "-strict", "experimental"], directory / "h264-opus.mp4")
    # A WebM file whose URL and Content-Type claim MP4.
    target = directory / "webm-as.mp4"
    if not target.exists():
        target.write_bytes((directory / "clip.webm").read_bytes())

    tone = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={CLIP_SECONDS}"]
    _ffmpeg([*tone, *_AAC], directory / "tone.m4a")
    _ffmpeg([*tone, "-c:a", "libmp3lame", "-b:a", "64k"], directory / "tone.mp3")
    _ffmpeg([*tone, "-c:a", "libopus", "-b:a", "48k"], directory / "tone.opus")

    _make_hls_variants(directory)
    _make_dash(directory)
    _make_pages(directory)
    return directory


def _make_hls_variants(directory: Path) -> None:
    """Add a master without CODECS, and muxed renditions with their own master playlist."""
    hls = directory / "hls"
    original = (hls / "master.m3u8").read_text()
    (hls / "master-nocodecs.m3u8").write_text(
        re.sub(r',CODECS="[^"]*"', "", original)
    )

    muxed = directory / "muxed"
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for name, width, height, bitrate in MUXED_RENDITIONS:
        _ffmpeg(
            [*_av_inputs(f"{width}x{height}"), *_H264, "-b:v", bitrate, *_AAC,
             "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
             "-hls_segment_filename", str(muxed / f"{name}_%03d.ts")],
            muxed / f"{name}.m3u8",
        )
        bandwidth = int(bitrate.removesuffix("k")) * 1000 + 64_000
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height}",
                  f"{name}.m3u8"]
    (muxed / "master.m3u8").write_text("\n".join(lines) + "\n")
    # A copy for tests that make one of its segments answer 404.
    if not (directory / "broken").exists():
        shutil.copytree(muxed, directory / "broken")


def _make_dash(directory: Path) -> None:
    """Write a DASH manifest with 320x240 and 160x120 video and one AAC audio."""
    dash = directory / "dash"
    if (dash / "manifest.mpd").exists():
        return
    dash.mkdir(parents=True, exist_ok=True)
    argv = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *_av_inputs("320x240"),
        "-map", "0:v", "-map", "0:v", "-map", "1:a", *_H264,
        "-filter:v:0", "scale=320:240", "-filter:v:1", "scale=160:120", *_AAC,
        "-f", "dash", "-seg_duration", "1", "-use_template", "1", "-use_timeline", "1",
        "-adaptation_sets", "id=0,streams=v id=1,streams=a", str(dash / "manifest.mpd"),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


def _make_pages(directory: Path) -> None:
    pages = {
        "og-video.html": (
            '<html><head><title>Open Graph clip</title>'
            '<meta property="og:title" content="Open Graph clip">'
            '<meta property="og:video" content="/files/clip.mp4">'
            '<meta property="og:video:type" content="video/mp4">'
            "</head><body><p>A page about a clip.</p></body></html>"
        ),
        "video-tag.html": (
            "<html><head><title>Video element clip</title></head><body>"
            '<video controls><source src="/files/clip.mp4" type="video/mp4"></video>'
            "</body></html>"
        ),
        "no-media.html": (
            "<html><head><title>Nothing here</title></head><body><p>Just text.</p>"
            "</body></html>"
        ),
        "playlist.html": (
            "<html><head><title>Two clips</title></head><body>"
            '<video controls><source src="/files/clip.mp4" type="video/mp4"></video>'
            '<video controls><source src="/files/clip.webm" type="video/webm"></video>'
            "</body></html>"
        ),
    }
    for name, html in pages.items():
        (directory / name).write_text(html, encoding="utf-8")


class SourceServer:
    """A threaded HTTP server on 127.0.0.1 that serves `directory` in the ways listed above."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.missing: set[str] = set()
        self._httpd = media._QuietHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str, mode: str = "files") -> str:
        """Return the URL of `path` (relative to the directory) served in `mode`."""
        return f"{self.base_url}/{mode}/{urllib.parse.quote(path)}"

    def start(self) -> SourceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def serve_sources(directory: Path) -> Iterator[SourceServer]:
    server = SourceServer(directory).start()
    try:
        yield server
    finally:
        server.stop()


def _handler_for(server: SourceServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_SourceHandler):
        source = server

    return Handler


class _SourceHandler(BaseHTTPRequestHandler):
    source: SourceServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("source server: " + format, *args)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def _respond(self, send_body: bool) -> None:
        parts = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        mode, _, relative = parts.partition("/")
        if mode == "redirect":
            self._redirect(relative)
            return
        path = self._resolve(relative)
        if path is None or relative in self.source.missing:
            self.send_error(HTTPStatus.NOT_FOUND, "no such file")
            return

        data = path.read_bytes()
        content_type = _CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        if mode == "wrongtype":
            content_type = "text/html; charset=utf-8"
        if mode == "empty":
            data = b""

        if mode in ("chunked", "cut"):
            self._send_chunked(data, content_type, send_body, cut=mode == "cut")
            return
        if mode == "cutclose":
            self._send_until_close(data[: len(data) // 2], content_type, send_body)
            return
        status, body, headers = HTTPStatus.OK, data, {}
        if mode != "norange":
            headers["Accept-Ranges"] = "bytes"
            status, body, headers = self._apply_range(data, headers)
        if mode == "attachment":
            quoted = urllib.parse.quote(ATTACHMENT_FILENAME, safe="")
            headers["Content-Disposition"] = (
                f"attachment; filename=\"download.mp4\"; filename*=UTF-8''{quoted}"
            )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    def _redirect(self, relative: str) -> None:
        count, _, rest = relative.partition("/")
        remaining = int(count)
        if remaining > 0:
            target = f"/redirect/{remaining - 1}/{urllib.parse.quote(rest)}"
        else:
            target = f"/files/{urllib.parse.quote(rest)}"
        self.send_response(_REDIRECT_STATUSES[remaining % len(_REDIRECT_STATUSES)])
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _resolve(self, relative: str) -> Path | None:
        root = self.source.directory.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def _apply_range(
        self, data: bytes, headers: dict[str, str]
    ) -> tuple[HTTPStatus, bytes, dict[str, str]]:
        match = _RANGE.match(self.headers.get("Range", "").strip())
        if match is None:
            return HTTPStatus.OK, data, headers
        start = int(match.group(1))
        end = min(int(match.group(2)), len(data) - 1) if match.group(2) else len(data) - 1
        if start >= len(data):
            return HTTPStatus.OK, data, headers
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return HTTPStatus.PARTIAL_CONTENT, data[start:end + 1], headers

    def _send_until_close(self, body: bytes, content_type: str, send_body: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if send_body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    def _send_chunked(self, data: bytes, content_type: str, send_body: bool, cut: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if not send_body:
            self.wfile.write(b"0\r\n\r\n")
            return
        body = data[: len(data) // 2] if cut else data
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for offset in range(0, len(body), _CHUNK_BYTES):
                chunk = body[offset:offset + _CHUNK_BYTES]
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            if cut:
                # No terminating zero-length chunk: the body ends in the middle.
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(b"0\r\n\r\n")


def describe(path: Path) -> dict:
    """Return ffprobe's format and streams of `path`, with counted video frames."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_format", "-show_streams",
         "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )
    return json.loads(result.stdout)
