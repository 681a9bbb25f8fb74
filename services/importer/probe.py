"""Check a downloaded file with ffprobe and read its streams."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from services.importer.failures import ImportFailure
from services.importer.messages import scrub_paths

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class MediaProbe:
    """Streams ffprobe found in a media file. A codec is empty when its stream is missing."""

    duration: float
    width: int
    height: int
    vcodec: str
    acodec: str
    fps: float
    # ffprobe's format name, such as "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm".
    container: str = ""

    @property
    def has_video(self) -> bool:
        return bool(self.vcodec)

    @property
    def has_audio(self) -> bool:
        return bool(self.acodec)


async def probe(path: Path) -> MediaProbe:
    """Run ffprobe on `path`; raise ImportFailure unless it has audio or video and a duration."""
    report = await _run_ffprobe(path)
    streams = report.get("streams") or []
    if not streams:
        raise ImportFailure("invalid_media", "the downloaded file contains no media streams")

    # A cover image in an audio file shows up as a video stream marked attached_pic.
    video = next(
        (stream for stream in streams
         if stream.get("codec_type") == "video"
         and not stream.get("disposition", {}).get("attached_pic")),
        None,
    )
    audio = next((stream for stream in streams if stream.get("codec_type") == "audio"), None)
    if video is None and audio is None:
        raise ImportFailure(
            "invalid_media", "the downloaded file contains neither a video nor an audio stream"
        )

    duration = _duration(report, video or audio or {})
    if duration <= 0:
        raise ImportFailure(
            "invalid_media", "the downloaded file has no playable duration; try another format"
        )
    return MediaProbe(
        duration=duration,
        width=int((video or {}).get("width") or 0),
        height=int((video or {}).get("height") or 0),
        vcodec=(video or {}).get("codec_name", ""),
        acodec=(audio or {}).get("codec_name", ""),
        fps=_frame_rate((video or {}).get("avg_frame_rate", "")),
        container=str(report.get("format", {}).get("format_name", "")),
    )


async def _run_ffprobe(path: Path) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ImportFailure(
            "invalid_media", f"ffprobe did not finish within {PROBE_TIMEOUT_SECONDS} s"
        ) from None

    if process.returncode != 0:
        reason = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        logger.warning("ffprobe rejected the downloaded file: %s", reason[0])
        raise ImportFailure(
            "invalid_media",
            f"the downloaded file is not readable media: {scrub_paths(reason[0], path)}",
        )
    return json.loads(stdout)


def _duration(report: dict[str, Any], stream: dict[str, Any]) -> float:
    for source in (report.get("format", {}), stream):
        try:
            return float(source["duration"])
        except (KeyError, TypeError, ValueError):
            continue
    return 0.0


def _frame_rate(text: str) -> float:
    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return 0.0
