"""Download one URL with yt-dlp, in a child process of the importer worker.

The job arrives as one JSON object on stdin. The child writes JSON lines on stdout:
`{"event": "progress", "downloaded": n, "total": m}` while downloading, then either
`{"event": "result", "path", "title", "duration", "ext", "has_audio", "has_video"}` or
`{"event": "error", "code", "message"}`. yt-dlp's own warnings and errors go to stderr.
"""

from __future__ import annotations

import ctypes
import ipaddress
import json
import os
import re
import signal
import socket
import sys
import time
import traceback
from typing import IO, Any

import yt_dlp
from yt_dlp.downloader.external import ExternalFD
from yt_dlp.downloader.rtmp import RtmpFD
from yt_dlp.networking.exceptions import HTTPError, RequestError
from yt_dlp.utils import DownloadError, ExtractorError, UnsupportedError

from services.importer.formats import MERGE_OUTPUT_FORMAT
from services.importer.messages import scrub_paths
from services.shared import netguard

PR_SET_PDEATHSIG = 1
PROGRESS_INTERVAL_SECONDS = 0.25
SOCKET_TIMEOUT_SECONDS = 30
RETRIES = 3
BLOCK_BYTES = 64 * 1024

# yt-dlp reports a download it skips for max_filesize with this phrase and raises nothing.
_TOO_LARGE_PHRASE = "larger than max-filesize"
PLAYLIST_MESSAGE = "playlists are not supported; pass one item's URL"
NO_MEDIA_MESSAGE = "no media found at this URL"
# The start of yt-dlp's error when the selector matches none of the formats.
_NO_FORMAT_PHRASE = "Requested format is not available"
# yt-dlp's message for a body that ended before its announced end (http.client.IncompleteRead).
_INCOMPLETE_READ = re.compile(r"(\d+) bytes read")
# yt-dlp's message once its retries are used up.
_GAVE_UP = re.compile(r"^(?:\[download\] )?Got error: (.*)\. Giving up after (\d+) retries$")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
# requests' InvalidSchema message, raised when a redirect leads to a scheme it has no
# adapter for (file:, ftp:, data:): "No connection adapters were found for 'file:///x'".
_NO_ADAPTER = re.compile(r"No connection adapters were found for '([A-Za-z][A-Za-z0-9+.-]*):")


class BlockedConnection(OSError):
    """A connection to an address the URL policy forbids."""


class FileTooLarge(Exception):
    """The bytes downloaded so far exceed max_filesize; raised from the progress hook."""


def duration_message(duration: float, max_duration: float) -> str:
    """Return the failure message for media longer than the maximum duration."""
    return (
        f"the media lasts {duration:.0f} s, longer than the maximum duration of "
        f"{max_duration:.0f} s (FERRY_IMPORT_MAX_DURATION_SECONDS); choose a shorter media"
    )


class AddressGuard:
    """Check every address `socket.getaddrinfo` returns against the URL policy."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.blocked_message = ""
        self._getaddrinfo = socket.getaddrinfo

    def install(self) -> None:
        """Route every name lookup in this process, IP literals included, through the check."""
        socket.getaddrinfo = self._guarded_getaddrinfo  # type: ignore[assignment]

    def _guarded_getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        infos = self._getaddrinfo(host, port, *args, **kwargs)
        name = host.decode() if isinstance(host, bytes) else str(host)
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            try:
                netguard.check_address(address, self.allow_private, name)
            except netguard.BlockedAddressError as exc:
                self.blocked_message = exc.message
                raise BlockedConnection(exc.message) from None
        return infos


class Reporter:
    """Write the JSON lines the parent reads, at most ~4 progress lines a second."""

    def __init__(self, stream: IO[str], max_bytes: int = 0) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._last_progress = 0.0
        self._finished_bytes = 0
        self._finished_totals = 0
        # A download of HLS or DASH fragments has started.
        self.fragmented = False

    def emit(self, event: str, **fields: Any) -> None:
        self._stream.write(json.dumps({"event": event, **fields}) + "\n")
        self._stream.flush()

    def progress_hook(self, status: dict[str, Any]) -> None:
        """Report bytes summed over every file of the download (video and audio parts)."""
        self.fragmented = self.fragmented or bool(status.get("fragment_count"))
        downloaded = status.get("downloaded_bytes") or 0
        total = status.get("total_bytes") or status.get("total_bytes_estimate") or 0
        if status.get("status") == "finished":
            self._finished_bytes += downloaded
            self._finished_totals += total or downloaded
            self._send_progress(self._finished_bytes, self._finished_totals)
            return

        # yt-dlp checks max_filesize against an announced size only, so a body without
        # Content-Length is stopped here, one block after it crosses the limit.
        if self._max_bytes and self._finished_bytes + downloaded > self._max_bytes:
            raise FileTooLarge(f"{self._finished_bytes + downloaded} bytes downloaded")
        now = time.monotonic()
        if now - self._last_progress < PROGRESS_INTERVAL_SECONDS:
            return
        self._last_progress = now
        known_total = self._finished_totals + total if total else 0
        self._send_progress(self._finished_bytes + downloaded, int(known_total))

    def _send_progress(self, downloaded: int, total: int) -> None:
        self.emit("progress", downloaded=int(downloaded), total=int(total))


class RecordingYoutubeDL(yt_dlp.YoutubeDL):
    """A YoutubeDL that rejects playlists and keeps the formats of the last video it chose from.

    The formats explain a selector that matches nothing.
    """

    last_formats: list[dict[str, Any]] = []
    # Maximum media duration accepted, in seconds. 0 means no limit.
    max_duration: float = 0.0

    def process_ie_result(
        self, ie_result: dict[str, Any], download: bool = True, extra_info: Any = None
    ) -> Any:
        if ie_result.get("_type") in ("playlist", "multi_video"):
            entries = list(ie_result.get("entries") or ())
            if not entries:
                raise UnsupportedError(ie_result.get("webpage_url") or "")
            if len(entries) > 1:
                raise ExtractorError(PLAYLIST_MESSAGE, expected=True)
        return super().process_ie_result(ie_result, download, extra_info)

    def process_video_result(self, info_dict: dict[str, Any], download: bool = True) -> Any:
        duration = _source_duration(info_dict)
        if self.max_duration and duration and duration > self.max_duration:
            raise ExtractorError(duration_message(duration, self.max_duration), expected=True)
        formats = info_dict.get("formats") or []
        _assume_separate_hls_audio(formats)
        self.last_formats = list(formats or [info_dict])
        return super().process_video_result(info_dict, download)


def _assume_separate_hls_audio(formats: list[dict[str, Any]]) -> None:
    """Mark HLS variants of unknown codecs as video only when their playlist has audio renditions.

    Without a CODECS attribute yt-dlp (2026.11) cannot tell that a variant's sound is in a
    separate audio rendition, so `bv*+ba` takes the variant alone and the file is silent.
    Marking the variant video only makes yt-dlp merge the audio rendition in; a variant
    that does carry its own audio then gets the rendition's audio instead.
    """
    with_audio = {
        fmt.get("manifest_url") for fmt in formats
        if str(fmt.get("protocol", "")).startswith("m3u8") and fmt.get("vcodec") == "none"
    }
    for fmt in formats:
        if (
            str(fmt.get("protocol", "")).startswith("m3u8")
            and fmt.get("manifest_url") in with_audio
            and fmt.get("vcodec") != "none"
            and fmt.get("acodec") is None
        ):
            fmt["acodec"] = "none"


class StderrLogger:
    """yt-dlp's logger: warnings and errors to stderr, debug lines only inspected."""

    def __init__(self) -> None:
        self.too_large_message = ""

    def debug(self, message: str) -> None:
        if _TOO_LARGE_PHRASE in message:
            self.too_large_message = _clean(message)

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        print(_clean(message), file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        print(_clean(message), file=sys.stderr, flush=True)


def main() -> int:
    _die_with_parent()
    spec = json.loads(sys.stdin.read())
    if os.getppid() != spec["parent_pid"]:
        return 1  # the parent died before the death signal was armed

    reporter = Reporter(_take_stdout(), spec["max_filesize"])
    guard = AddressGuard(spec["allow_private"])
    guard.install()
    _forbid_external_downloaders()
    logger = StderrLogger()
    ydl = RecordingYoutubeDL(_options(spec, reporter, logger))
    ydl.max_duration = float(spec.get("max_duration") or 0)
    try:
        info = _download(ydl, spec["url"])
    except FileTooLarge as exc:
        reporter.emit("error", code="too_large", message=str(exc))
        return 1
    except DownloadError as exc:
        code, message = _failure_reason(
            exc, guard, spec["selector"], ydl.last_formats, reporter.fragmented
        )
        reporter.emit("error", code=code, message=scrub_paths(message))
        return 1
    except Exception as exc:  # yt-dlp lets some request errors escape extract_info
        traceback.print_exc(file=sys.stderr)
        reporter.emit("error", code="download_failed", message=_unexpected_reason(exc, guard))
        return 1

    path = _downloaded_path(info)
    if path is None:
        code, message = _missing_file_reason(logger)
        reporter.emit("error", code=code, message=message)
        return 1
    reporter.emit(
        "result",
        path=path,
        title=info.get("title") or "",
        duration=_source_duration(info),
        ext=os.path.splitext(path)[1].lstrip("."),
        has_audio=_has_audio(info),
        has_video=_has_video(info),
    )
    return 0


def _die_with_parent() -> None:
    # Linux only: the kernel sends SIGKILL to this process when the parent exits.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _take_stdout() -> IO[str]:
    # Keep the real stdout for the JSON lines and point fd 1 at stderr, so nothing that
    # yt-dlp, a library or ffmpeg prints can corrupt the protocol.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


def _forbid_external_downloaders() -> None:
    # ffmpeg and rtmpdump would open their own connections, outside the address guard.
    # yt-dlp (downloader/__init__.py in 2026.11) picks them for live streams, RTMP and HLS
    # features its native downloader lacks, so those downloads fail here instead.
    def reject_download(self: Any, filename: str, info_dict: dict[str, Any]) -> bool:
        raise DownloadError(
            f"format {info_dict.get('format_id')} needs the external downloader "
            f"{type(self).__name__}, which is not allowed; choose another format"
        )

    ExternalFD.real_download = reject_download  # type: ignore[method-assign]
    RtmpFD.real_download = reject_download  # type: ignore[method-assign]


def _options(spec: dict[str, Any], reporter: Reporter, logger: StderrLogger) -> dict[str, Any]:
    # The importer converts audio-only downloads itself (container.py), after ffprobe.
    return {
        "format": spec["selector"],
        "noplaylist": True,
        "outtmpl": {"default": os.path.join(spec["directory"], "media.%(ext)s")},
        "merge_output_format": MERGE_OUTPUT_FORMAT,
        "hls_prefer_native": True,
        # yt-dlp skips a fragment that keeps failing and still exits 0, leaving a gap.
        "skip_unavailable_fragments": False,
        "external_downloader": {"default": "native"},
        "max_filesize": spec["max_filesize"],
        # Fixed blocks bound how far a body without Content-Length can overshoot the
        # limit before the progress hook stops it.
        "buffersize": BLOCK_BYTES,
        "noresizebuffer": True,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "retries": RETRIES,
        "fragment_retries": RETRIES,
        "progress_hooks": [reporter.progress_hook],
        "logger": logger,
        "noprogress": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
    }


def _download(ydl: yt_dlp.YoutubeDL, url: str) -> dict[str, Any]:
    with ydl:
        info = ydl.extract_info(url, download=True)
    if info is None:
        raise DownloadError("yt-dlp returned no media for this URL")
    return info


# HTTP statuses meaning the URL names nothing, so retrying the same URL can't help.
GONE_STATUSES = (404, 410)


def _failure_reason(
    error: DownloadError,
    guard: AddressGuard,
    selector: str,
    formats: list[dict[str, Any]],
    fragmented: bool,
) -> tuple[str, str]:
    if guard.blocked_message:
        return "blocked_address", guard.blocked_message
    cause = error.exc_info[1] if error.exc_info else None
    message = _clean(error.msg or str(error))
    if isinstance(cause, UnsupportedError):
        return "no_media", NO_MEDIA_MESSAGE
    if "(FERRY_IMPORT_MAX_DURATION_SECONDS)" in message:
        return "too_long", message
    if PLAYLIST_MESSAGE in message:
        return "playlist_unsupported", PLAYLIST_MESSAGE
    if _NO_FORMAT_PHRASE in message:
        return "format_unavailable", f"no format matches {selector}; {_available(formats)}"
    if "Did not get any data blocks" in message:
        return "empty_body", "the server returned an empty body; check that the URL is a media file"
    if isinstance(cause, HTTPError) and not fragmented:
        return http_failure(cause)
    return _transfer_failure(message, fragmented)


def http_failure(cause: HTTPError) -> tuple[str, str]:
    """Classify the source's HTTP error status as a missing resource or a transient fault."""
    if cause.status in GONE_STATUSES:
        return "source_not_found", (
            f"the source answered HTTP {cause.status} {cause.reason}; check the URL"
        )
    return "source_error", f"the source answered HTTP {cause.status} {cause.reason}; retry later"


def _unexpected_reason(error: Exception, guard: AddressGuard) -> str:
    """Describe an error that yt-dlp did not wrap in DownloadError, without its class name."""
    if guard.blocked_message:
        return guard.blocked_message
    text = str(error)
    if isinstance(error, RequestError):
        redirect = _NO_ADAPTER.search(text)
        if redirect is not None:
            scheme = redirect.group(1).lower()
            return (
                f"the source redirected to an unsupported URL scheme '{scheme}'; "
                "only http and https sources can be imported"
            )
        return f"the request to the source failed: {scrub_paths(_clean(text))}"
    return "the downloader failed with an unexpected error; retry the import later"


def _transfer_failure(message: str, fragmented: bool) -> tuple[str, str]:
    gave_up = _GAVE_UP.match(message)
    if gave_up is None:
        return "download_failed", message
    reason, retries = gave_up.groups()
    if _INCOMPLETE_READ.fullmatch(reason):
        return "truncated", (
            "the server closed the connection before the end of the media, "
            f"{int(retries) + 1} times in a row; retry the import later"
        )
    part = "a segment of the HLS or DASH stream" if fragmented else "the media"
    return "download_failed", (
        f"{part} could not be downloaded: {reason} (gave up after {retries} retries); "
        "nothing was imported"
    )


def _available(formats: list[dict[str, Any]]) -> str:
    """Describe the formats a source offers: their heights, else their ids."""
    heights = sorted({int(fmt["height"]) for fmt in formats if fmt.get("height")})
    has_audio_only = any(
        fmt.get("vcodec") == "none" and fmt.get("acodec") not in (None, "none") for fmt in formats
    )
    if heights:
        text = "available heights: " + ", ".join(str(height) for height in heights)
        return text + (", and audio only" if has_audio_only else "")
    if has_audio_only and all(fmt.get("vcodec") == "none" for fmt in formats):
        return "the source offers audio only"
    ids = [str(fmt.get("format_id")) for fmt in formats if fmt.get("format_id")]
    if not ids:
        return "the source offers no formats"
    return "available formats (height unknown): " + ", ".join(ids)


def _downloaded_path(info: dict[str, Any]) -> str | None:
    for download in info.get("requested_downloads") or ():
        path = download.get("filepath")
        if path and os.path.isfile(path):
            return str(path)
    return None


def _missing_file_reason(logger: StderrLogger) -> tuple[str, str]:
    if logger.too_large_message:
        return "too_large", logger.too_large_message
    return "download_failed", "yt-dlp finished without writing a file; try another format"


def _source_duration(info: dict[str, Any]) -> float | None:
    """Return the duration the source announces, or the sum of an HLS or DASH format's fragments."""
    if info.get("duration"):
        return float(info["duration"])
    totals = [
        sum(float(fragment.get("duration") or 0) for fragment in fmt.get("fragments") or ())
        for fmt in info.get("requested_formats") or [info]
    ]
    return max(totals, default=0.0) or None


def _has_video(info: dict[str, Any]) -> bool:
    # An unknown codec (None) counts as no video, as for audio: ffprobe decides then.
    formats = info.get("requested_formats") or [info]
    return any(fmt.get("vcodec") not in (None, "none") for fmt in formats)


def _has_audio(info: dict[str, Any]) -> bool:
    # An unknown codec (None) counts as no audio, so the worker requires no audio stream,
    # unless the format is audio only.
    formats = info.get("requested_formats") or [info]
    return any(
        fmt.get("acodec") not in (None, "none") or fmt.get("vcodec") == "none" for fmt in formats
    )


def _clean(message: str) -> str:
    """Return yt-dlp's message without colours, the "ERROR:" prefix or a traceback."""
    text = _ANSI_ESCAPE.sub("", message).strip()
    for prefix in ("ERROR: ", "WARNING: "):
        text = text.removeprefix(prefix)
    text = text.split("\nTraceback", 1)[0]
    # "(caused by TransportError(...))" repeats the message in Python syntax.
    return text.split(" (caused by ", 1)[0].strip()


if __name__ == "__main__":
    sys.exit(main())
