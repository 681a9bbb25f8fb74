"""Extract one URL's metadata with yt-dlp, without downloading, in a child process.

The job arrives as one JSON object on stdin (`url`, `basic`, `allow_private`, `directory`,
`parent_pid`); `directory` is a scratch directory for a direct file's first bytes.
The child writes one JSON line on stdout: `{"event": "result", "title", "duration",
"thumbnail", "uploader", "presets"}` or `{"event": "error", "code", "message"}`. Every
connection goes through the same address guard as a download (ytdlp_child.AddressGuard).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, UnsupportedError

from services.importer import direct_probe, presets
from services.importer.ytdlp_child import (
    NO_MEDIA_MESSAGE,
    PLAYLIST_MESSAGE,
    SOCKET_TIMEOUT_SECONDS,
    AddressGuard,
    RecordingYoutubeDL,
    Reporter,
    StderrLogger,
    _clean,
    _die_with_parent,
    _forbid_external_downloaders,
    _source_duration,
    _take_stdout,
    http_failure,
)


def main() -> int:
    _die_with_parent()
    spec = json.loads(sys.stdin.read())
    if os.getppid() != spec["parent_pid"]:
        return 1  # the parent died before the death signal was armed

    reporter = Reporter(_take_stdout())
    guard = AddressGuard(spec["allow_private"])
    guard.install()
    _forbid_external_downloaders()
    ydl = RecordingYoutubeDL(_options())
    try:
        with ydl:
            result = _extract(ydl, guard, spec["url"], spec["basic"], Path(spec["directory"]))
    except (DownloadError, ExtractorError) as exc:
        # process_ie_result raises ExtractorError itself; extract_info wraps it.
        code, message = _failure_reason(exc, guard)
        reporter.emit("error", code=code, message=message)
        return 1
    reporter.emit("result", **result)
    return 0


def _options() -> dict[str, Any]:
    return {
        "noplaylist": True,
        "skip_download": True,
        # Check nothing beyond the manifests: probing each format costs a request apiece.
        "check_formats": False,
        "socket_timeout": SOCKET_TIMEOUT_SECONDS,
        "retries": 1,
        "logger": StderrLogger(),
        "noprogress": True,
        "color": {"stdout": "no_color", "stderr": "no_color"},
    }


def _extract(
    ydl: RecordingYoutubeDL, guard: AddressGuard, url: str, basic: bool, directory: Path
) -> dict[str, Any]:
    if basic:
        # Without processing, yt-dlp neither sorts nor selects formats. A result that only
        # points at another URL (an og:video page) still needs one processing pass.
        info = ydl.extract_info(url, download=False, process=False)
        if info and info.get("_type") in ("url", "url_transparent", "playlist", "multi_video"):
            info = ydl.process_ie_result(info, download=False)
    else:
        info = ydl.extract_info(url, download=False)
    if info is None:
        raise DownloadError("yt-dlp returned no media for this URL")

    direct_format = direct_probe.needs_probe(info)
    if direct_format is not None:
        # The probe reports its network errors as warnings, so a connection the guard
        # blocked (a redirect to a private address, say) is looked up here.
        guard.blocked_message = ""
        found = direct_probe.probe_direct(ydl, direct_format, directory)
        if guard.blocked_message:
            raise DownloadError(guard.blocked_message)
        if found.get("duration") and not info.get("duration"):
            info["duration"] = found["duration"]

    duration = _duration(info)
    result: dict[str, Any] = {
        "title": info.get("title") or "",
        "duration": duration,
        "thumbnail": info.get("thumbnail") or "",
        "uploader": info.get("uploader") or "",
        "presets": [],
    }
    if not basic:
        formats = info.get("formats") or [info]

        def select(selector: str) -> list[dict[str, Any]]:
            return ydl._select_formats(formats, ydl.build_format_selector(selector))

        result["presets"] = presets.describe_presets(select, duration)
    return result


def _duration(info: dict[str, Any]) -> float:
    """Return the announced duration, else the longest format's sum of HLS or DASH fragments."""
    if info.get("duration"):
        return float(info["duration"])
    candidates = [_source_duration(fmt) or 0.0 for fmt in info.get("formats") or ()]
    return max(candidates, default=0.0) or (_source_duration(info) or 0.0)


def _failure_reason(
    error: DownloadError | ExtractorError, guard: AddressGuard
) -> tuple[str, str]:
    if guard.blocked_message:
        return "blocked_address", guard.blocked_message
    cause = (error.exc_info[1] if error.exc_info else None) or error
    message = _clean(error.msg or str(error))
    if isinstance(cause, UnsupportedError):
        return "no_media", NO_MEDIA_MESSAGE
    if PLAYLIST_MESSAGE in message:
        return "playlist_unsupported", PLAYLIST_MESSAGE
    if isinstance(cause, HTTPError):
        return http_failure(cause)
    if isinstance(cause, TransportError):
        return "unreachable_url", f"could not reach the source: {_clean(str(cause))}"
    if isinstance(cause, ExtractorError):
        return "extraction_failed", _clean(cause.orig_msg or message)
    return "extraction_failed", message


if __name__ == "__main__":
    sys.exit(main())
