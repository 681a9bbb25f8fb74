"""Real media for tests: files generated with ffmpeg and a local HTTP server that serves them.

Generated files are kept in the directory they were written to: calling a generator again
with the same directory and arguments returns the existing file, so a session-scoped
directory works as a cache.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

logger = logging.getLogger(__name__)

# Renditions of the HLS test stream: (name, width, height, video bitrate).
HLS_RENDITIONS = (
    ("360p", 640, 360, "300k"),
    ("720p", 1280, 720, "600k"),
    ("1080p", 1920, 1080, "1000k"),
)
HLS_AUDIO_GROUP = "audio"

_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_CHUNK_BYTES = 16 * 1024


class MediaError(RuntimeError):
    """ffmpeg failed to generate a test file."""


def make_mp4(
    directory: Path,
    *,
    name: str = "clip.mp4",
    seconds: float = 3,
    size: str = "320x240",
    video_bitrate: str | None = None,
) -> Path:
    """Write a progressive H.264/AAC MP4 (test pattern and a tone) and return its path.

    `video_bitrate` forces a constant bitrate, so a test can choose the file size. Without
    it the file is as small as the test pattern compresses, roughly 25 kB a second at 320x240.
    """
    target = directory / name
    if target.exists():
        return target

    video = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if video_bitrate:
        # Noise defeats compression, so the encoder really spends the requested bitrate.
        video += ["-vf", "noise=alls=60:allf=t", "-b:v", video_bitrate,
                  "-minrate", video_bitrate, "-maxrate", video_bitrate, "-bufsize", video_bitrate]
    _ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            *video,
            "-c:a", "aac", "-b:a", "64k",
            "-shortest", "-movflags", "+faststart",
        ],
        target,
    )
    return target


def make_hls(directory: Path, *, seconds: float = 4, segment_seconds: int = 1) -> Path:
    """Write an HLS stream with 360p, 720p and 1080p video and one AAC audio rendition.

    The video renditions carry no audio. Every variant in the master playlist refers to
    the audio group declared by `#EXT-X-MEDIA:TYPE=AUDIO`, as streaming sites publish it.
    Returns the path of `master.m3u8`.
    """
    root = directory / "hls"
    master = root / "master.m3u8"
    if master.exists():
        return master

    scratch = directory / f".hls-{time.monotonic_ns()}"
    scratch.mkdir(parents=True)
    for name, width, height, bitrate in HLS_RENDITIONS:
        _make_hls_video(scratch, name, width, height, bitrate, seconds, segment_seconds)
    _make_hls_audio(scratch, seconds, segment_seconds)
    (scratch / "master.m3u8").write_text(_master_playlist())

    with contextlib.suppress(FileExistsError, OSError):
        scratch.rename(root)
    shutil.rmtree(scratch, ignore_errors=True)
    return master


def _make_hls_video(
    directory: Path, name: str, width: int, height: int, bitrate: str, seconds: float,
    segment_seconds: int,
) -> None:
    # A keyframe every second lets the muxer cut segments of exactly `segment_seconds`.
    _ffmpeg(
        [
            "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate=25:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-profile:v", "main", "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate,
            "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
            *_hls_options(directory, name, segment_seconds),
        ],
        directory / f"{name}.m3u8",
    )


def _make_hls_audio(directory: Path, seconds: float, segment_seconds: int) -> None:
    _ffmpeg(
        [
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-c:a", "aac", "-b:a", "64k", "-ac", "2",
            *_hls_options(directory, "audio", segment_seconds),
        ],
        directory / "audio.m3u8",
    )


def _hls_options(directory: Path, name: str, segment_seconds: int) -> list[str]:
    return [
        "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(directory / f"{name}_%03d.ts"),
    ]


def _master_playlist() -> str:
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{HLS_AUDIO_GROUP}",NAME="English",LANGUAGE="en",'
        'DEFAULT=YES,AUTOSELECT=YES,URI="audio.m3u8"',
    ]
    for name, width, height, bitrate in HLS_RENDITIONS:
        bandwidth = int(bitrate.removesuffix("k")) * 1000 + 64_000
        lines.append(
            f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},'
            f'CODECS="avc1.4d401f,mp4a.40.2",AUDIO="{HLS_AUDIO_GROUP}"'
        )
        lines.append(f"{name}.m3u8")
    return "\n".join(lines) + "\n"


def _ffmpeg(arguments: Sequence[str], target: Path) -> None:
    """Run ffmpeg writing `target`, through a temporary name so a crash leaves no file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".partial-{target.name}")
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments]
    if target.suffix == ".m3u8":
        # ffmpeg names the HLS segments after -hls_segment_filename, so it writes the playlist
        # in place too.
        argv.append(str(target))
    else:
        argv += ["-f", target.suffix.lstrip("."), str(partial)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise MediaError(f"ffmpeg failed writing {target} (exit {result.returncode}): "
                         f"{result.stderr.strip()[-2000:]}")
    if partial.exists():
        partial.rename(target)


@dataclass
class MediaServer:
    """A threaded HTTP server on 127.0.0.1 serving one directory, optionally throttled."""

    directory: Path
    throttle_bytes_per_second: int | None = None

    def __post_init__(self) -> None:
        self.bytes_sent: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = _QuietHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: Path | str) -> str:
        """Return the URL of `path`, a file under the served directory or a relative path."""
        relative = Path(path).relative_to(self.directory) if Path(path).is_absolute() else path
        return f"{self.base_url}/{urllib.parse.quote(str(relative))}"

    def start(self) -> MediaServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def count_sent(self, path: str, sent: int) -> None:
        with self._lock:
            self.bytes_sent[path] += sent


@contextlib.contextmanager
def serve_media(directory: Path, throttle_bytes_per_second: int | None = None
                ) -> Iterator[MediaServer]:
    """Run a MediaServer for `directory` for the duration of the block."""
    server = MediaServer(directory, throttle_bytes_per_second).start()
    try:
        yield server
    finally:
        server.stop()


class _QuietHTTPServer(ThreadingHTTPServer):
    """Drop the traceback socketserver prints when a client closes a kept-alive connection."""

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("media server: %s closed the connection", client_address)
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def _handler_for(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class MediaHandler(_MediaHandler):
        media = server

    return MediaHandler


class _MediaHandler(BaseHTTPRequestHandler):
    """GET and HEAD for files of `media.directory`, with single byte ranges."""

    media: MediaServer
    protocol_version = "HTTP/1.1"

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("media server: " + format, *args)

    def _respond(self, send_body: bool) -> None:
        path = self._resolve()
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "no such file")
            return

        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        requested = self._requested_range(size)
        if requested == "invalid":
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if requested is not None:
            start, end = requested
            status = HTTPStatus.PARTIAL_CONTENT

        self.send_response(status)
        self.send_header("Content-Type", _content_type(path))
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if send_body:
            self._send_file(path, start, end - start + 1)

    def _resolve(self) -> Path | None:
        relative = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        root = self.media.directory.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def _requested_range(self, size: int) -> tuple[int, int] | str | None:
        header = self.headers.get("Range")
        if not header:
            return None
        match = _RANGE.match(header.strip())
        if match is None or match.groups() == ("", ""):
            return "invalid"
        first, last = match.groups()
        if first == "":  # "bytes=-N" is the last N bytes
            return max(size - int(last), 0), size - 1
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            return "invalid"
        return start, end

    def _send_file(self, path: Path, offset: int, length: int) -> None:
        throttle = self.media.throttle_bytes_per_second
        chunk_size = min(_CHUNK_BYTES, throttle // 10) if throttle else _CHUNK_BYTES
        started = time.monotonic()
        sent = 0
        # The client going away mid-transfer (a killed downloader) is expected in tests.
        with open(path, "rb") as file, contextlib.suppress(BrokenPipeError, ConnectionResetError):
            file.seek(offset)
            while sent < length:
                chunk = file.read(min(chunk_size, length - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
                self.media.count_sent(self.path, len(chunk))
                if throttle:
                    ahead = sent / throttle - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)


def _content_type(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or (
        "application/octet-stream"
    )
