"""Probe a direct media file from its first and last bytes, for the metadata child.

yt-dlp's generic extractor learns nothing about a plain media URL (such as /clip.mp4)
without downloading it: no height, codecs, size or duration. This module fetches the
file's size and its first HEAD_BYTES through yt-dlp's `urlopen`, so the child's address
guard checks every connection and redirect, and runs ffprobe on the local copy. An MP4
whose moov atom sits at the end needs its last TAIL_BYTES too, which only a server with
Range support can send. ffprobe reads local files only and never opens the URL itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yt_dlp
from yt_dlp.networking import Request
from yt_dlp.networking.exceptions import RequestError

HEAD_BYTES = 4 * 1024 * 1024
TAIL_BYTES = 4 * 1024 * 1024
FFPROBE_TIMEOUT_SECONDS = 20
READ_CHUNK_BYTES = 64 * 1024

# ffprobe may only read the local file, and only with a demuxer for media files, so a
# body that is really a playlist or a text file cannot make it open other files.
_FFPROBE_INPUT_OPTIONS = (
    "-protocol_whitelist", "file",
    "-format_whitelist", "mov,matroska,mp3,ogg,aac,flac,wav,mpegts,avi,flv,asf,mpeg",
)
# "bytes 0-4194303/52428800": the total after the slash, or "*" when unknown.
_CONTENT_RANGE = re.compile(r"bytes\s+\d+-\d+/(\d+)")


@dataclass(frozen=True)
class _Fetched:
    data: bytes
    # The whole file's size, or None when the server did not send it.
    size: int | None
    # The server returned 206 Partial Content, so it can send the tail too.
    ranged: bool


def needs_probe(info: dict[str, Any]) -> dict[str, Any] | None:
    """Return the format of a direct file that yt-dlp found no height or size for, else None.

    That is a result marked `direct` (by yt-dlp's generic extractor) with a single format.
    """
    if not info.get("direct"):
        return None
    formats = info.get("formats") or [info]
    if len(formats) != 1:
        return None
    fmt = formats[0]
    if fmt.get("height") or fmt.get("filesize") or not fmt.get("url"):
        return None
    return fmt


def probe_direct(ydl: yt_dlp.YoutubeDL, fmt: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Fill `fmt` with the size, streams and duration read from the file's first bytes.

    Returns the fields it found (a subset of filesize, width, height, vcodec, acodec, fps,
    duration, tbr, vbr and abr), which are also written into `fmt`. A field that the bytes
    do not reveal is left out. Network and ffprobe failures are reported on stderr and
    leave the format as it was.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "direct-probe"
    try:
        head = _fetch(ydl, fmt, 0, HEAD_BYTES - 1)
    except (RequestError, OSError) as exc:
        _warn(f"could not read the start of the media file: {exc}")
        return {}

    found: dict[str, Any] = {}
    if head.size is not None:
        found["filesize"] = head.size
    report = _write_and_probe(path, head.size, [(0, head.data)])

    whole = head.size is not None and len(head.data) >= head.size
    if report is None and head.ranged and head.size is not None and not whole:
        # The index (an MP4's moov atom) is not in the first bytes, so it is probably last.
        tail_start = max(len(head.data), head.size - TAIL_BYTES)
        try:
            tail = _fetch(ydl, fmt, tail_start, head.size - 1)
        except (RequestError, OSError) as exc:
            _warn(f"could not read the end of the media file: {exc}")
        else:
            report = _write_and_probe(path, head.size, [(0, head.data), (tail_start, tail.data)])

    if report is not None:
        found.update(_fields_from(report, size_known=head.size is not None))
    fmt.update(found)
    return found


def _fetch(ydl: yt_dlp.YoutubeDL, fmt: dict[str, Any], start: int, end: int) -> _Fetched:
    """GET bytes `start` to `end` (inclusive) of the format's URL, reading no more than that."""
    headers = {
        **(fmt.get("http_headers") or {}),
        "Range": f"bytes={start}-{end}",
        # A compressed body could not be cut at a byte offset.
        "Accept-Encoding": "identity",
    }
    limit = end - start + 1
    with ydl.urlopen(Request(fmt["url"], headers=headers)) as response:
        ranged = response.status == 206
        if start > 0 and not ranged:
            raise OSError(f"the server returned HTTP {response.status} to a range request")
        chunks: list[bytes] = []
        received = 0
        while received < limit:
            chunk = response.read(min(READ_CHUNK_BYTES, limit - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
        data = b"".join(chunks)

        size = _total_size(response.headers, ranged)
        if size is None and not ranged and received < limit:
            # The whole body ended before the limit (a chunked response, say): that is the file.
            size = received
    return _Fetched(data=data, size=size, ranged=ranged)


def _total_size(headers: Any, ranged: bool) -> int | None:
    if ranged:
        match = _CONTENT_RANGE.match(headers.get("Content-Range") or "")
        return int(match.group(1)) if match else None
    length = headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _write_and_probe(
    path: Path, size: int | None, pieces: list[tuple[int, bytes]]
) -> dict[str, Any] | None:
    try:
        _write(path, size, pieces)
    except OSError as exc:  # a size beyond what the file system allows, say
        _warn(f"could not write the fetched bytes: {exc}")
        return None
    return _ffprobe(path)


def _write(path: Path, size: int | None, pieces: list[tuple[int, bytes]]) -> None:
    """Write `pieces` at their offsets into a file of the source's size.

    The gap between the pieces is a hole (a sparse file on Linux file systems), so the
    file takes only the fetched bytes on disk. ffprobe then finds an index at its real
    offset and estimates a duration from the real size.
    """
    with open(path, "wb") as file:
        for offset, data in pieces:
            file.seek(offset)
            file.write(data)
        if size is not None:
            file.truncate(size)


def _ffprobe(path: Path) -> dict[str, Any] | None:
    """Return ffprobe's report on `path` when it found a stream, else None."""
    argv = [
        "ffprobe", "-v", "error", *_FFPROBE_INPUT_OPTIONS,
        "-print_format", "json", "-show_format", "-show_streams", str(path),
    ]
    try:
        result = subprocess.run(
            argv, capture_output=True, timeout=FFPROBE_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        _warn(f"ffprobe did not finish within {FFPROBE_TIMEOUT_SECONDS} s")
        return None
    if result.returncode != 0:
        _warn("ffprobe could not read the fetched bytes: "
              + result.stderr.decode(errors="replace").strip().replace(str(path), "<file>"))
        return None
    report: dict[str, Any] = json.loads(result.stdout)
    video, audio = _media_streams(report)
    return report if video or audio else None


def _media_streams(report: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Return the video and the audio stream of ffprobe's report, each None when missing."""
    streams = report.get("streams") or []
    # A cover image in an audio file shows up as a video stream marked attached_pic.
    video = next(
        (stream for stream in streams
         if stream.get("codec_type") == "video"
         and not stream.get("disposition", {}).get("attached_pic")),
        None,
    )
    audio = next((stream for stream in streams if stream.get("codec_type") == "audio"), None)
    return video, audio


def _fields_from(report: dict[str, Any], size_known: bool) -> dict[str, Any]:
    """Translate ffprobe's report into yt-dlp format fields, with ffprobe's codec names.

    ffprobe computes the overall bitrate from the file's size, so without the source's
    size (the local file is then only its first bytes) it comes from the streams instead.
    """
    video, audio = _media_streams(report)
    # yt-dlp's "none" marks a missing stream, and None a codec it does not know.
    fields: dict[str, Any] = {"vcodec": "none", "acodec": "none"}
    if video:
        fields.update(
            vcodec=video.get("codec_name") or None,
            width=_positive_int(video.get("width")),
            height=_positive_int(video.get("height")),
            fps=_frame_rate(video.get("avg_frame_rate") or ""),
            vbr=_kbits(video.get("bit_rate")),
        )
    if audio:
        fields["acodec"] = audio.get("codec_name") or None
        fields["abr"] = _kbits(audio.get("bit_rate"))
    if size_known:
        fields["tbr"] = _kbits(report.get("format", {}).get("bit_rate"))
    else:
        stream_rates = [_kbits(stream.get("bit_rate")) for stream in (video, audio) if stream]
        if stream_rates and None not in stream_rates:
            fields["tbr"] = sum(rate for rate in stream_rates if rate)
    fields["duration"] = _seconds(report.get("format", {}).get("duration"))
    return {name: value for name, value in fields.items() if value is not None}


def _positive_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _frame_rate(text: str) -> float | None:
    try:
        rate = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return None
    return rate or None


def _kbits(bits_per_second: Any) -> float | None:
    try:
        value = float(bits_per_second)
    except (TypeError, ValueError):
        return None
    return value / 1000 if value > 0 else None


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _warn(message: str) -> None:
    print(f"direct file probe: {message}", file=sys.stderr, flush=True)

