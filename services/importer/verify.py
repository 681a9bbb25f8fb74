"""Check a downloaded file before it is stored: complete, decodable, with the requested streams.

yt-dlp exits 0 on several broken outputs (a body cut short without Content-Length, a skipped
fragment, an HTML error page saved as media), so nothing it reports about success is trusted.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from services.importer.downloader import Download
from services.importer.failures import ImportFailure
from services.importer.formats import Selection
from services.importer.messages import scrub_paths
from services.importer.probe import MediaProbe

logger = logging.getLogger(__name__)

# A duration may differ from the one the source announced by 0.5 s plus 1 %: sites round
# durations to whole seconds, and audio and video tracks rarely end on the same sample.
DURATION_TOLERANCE_SECONDS = 0.5
DURATION_TOLERANCE_RATIO = 0.01
# Seconds decoded at the start and at the end of the file. Decoding all of a long file
# would take minutes, but reading every packet (the completeness check) takes seconds.
DECODE_SAMPLE_SECONDS = 5
FFMPEG_TIMEOUT_SECONDS = 300
# ffmpeg starts its log lines with the component and its address: "[mov,mp4 @ 0x55d0] ".
_FFMPEG_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")


@dataclass(frozen=True)
class Expectation:
    """Streams and duration that a downloaded file must have."""

    audio: bool
    video: bool
    # Only the audio is kept, so a missing audio stream leaves nothing to import.
    audio_only: bool
    # The duration the source announced, in seconds; None when it did not announce one.
    duration: float | None

    @classmethod
    def of(cls, selection: Selection, fetched: Download) -> Expectation:
        """Return what a download made for `selection` must contain.

        Audio is required when the request requires it, or when the source announced an
        audio track and the request does not exclude audio. The same holds for video.
        """
        audio = selection.requires_audio or (fetched.has_audio and not selection.video_only)
        video = selection.requires_video or (fetched.has_video and not selection.audio_only)
        return cls(
            audio=audio,
            video=video,
            audio_only=selection.audio_only,
            duration=fetched.duration or None,
        )


async def verify(path: Path, media: MediaProbe, expected: Expectation) -> None:
    """Raise ImportFailure unless the file at `path` is complete, decodes and has its streams."""
    _check_streams(media, expected)

    demuxed = await _read_all_packets(path)
    if demuxed < media.duration - tolerance(media.duration):
        raise ImportFailure(
            "truncated",
            f"the downloaded file is cut short: it contains {demuxed:.1f} s of the "
            f"{media.duration:.1f} s its header announces; the server probably closed the "
            "connection early, so retry the import",
        )
    if expected.duration and abs(media.duration - expected.duration) > tolerance(
        expected.duration
    ):
        raise ImportFailure(
            "duration_mismatch",
            f"the downloaded file lasts {media.duration:.1f} s but the source announced "
            f"{expected.duration:.1f} s; part of the media is missing, so retry the import",
        )

    await _decode_sample(path, ["-t", str(DECODE_SAMPLE_SECONDS)], "start")
    if media.duration > 2 * DECODE_SAMPLE_SECONDS:
        await _decode_sample(path, ["-sseof", f"-{DECODE_SAMPLE_SECONDS}"], "end")


def tolerance(duration: float) -> float:
    """Return how far, in seconds, a duration of `duration` seconds may be off."""
    return DURATION_TOLERANCE_SECONDS + DURATION_TOLERANCE_RATIO * duration


def _check_streams(media: MediaProbe, expected: Expectation) -> None:
    if expected.audio_only and not media.has_audio:
        raise ImportFailure(
            "missing_audio",
            "the import requested audio only, but the media has no audio stream; "
            "import it with video",
        )
    if expected.audio and not media.has_audio:
        raise ImportFailure(
            "missing_audio",
            "the import requires audio, but the downloaded file has no audio stream; "
            "import it with includeAudio: false or try another format",
        )
    if expected.video and not media.has_video:
        raise ImportFailure(
            "missing_video",
            "the import requires video, but the downloaded file has no video stream; "
            "import it with includeVideo: false or try another format",
        )


async def _read_all_packets(path: Path) -> float:
    """Read every packet without decoding; return the seconds of media the packets cover."""
    returncode, stdout, stderr = await _ffmpeg(
        "-i", str(path), "-map", "0", "-c", "copy", "-f", "null", "-",
        "-progress", "pipe:1", "-nostats",
    )
    if returncode != 0 or "partial file" in stderr:
        raise ImportFailure(
            "truncated",
            f"the downloaded file is cut short or damaged ({_last_line(stderr, path)}); the server "
            "probably closed the connection early, so retry the import",
        )
    times = [
        int(value) for key, _, value in (line.partition("=") for line in stdout.splitlines())
        if key == "out_time_us" and value.strip().lstrip("-").isdigit()
    ]
    return max(times, default=0) / 1e6


async def _decode_sample(path: Path, position: list[str], where: str) -> None:
    returncode, _, stderr = await _ffmpeg(
        "-xerror", *position, "-i", str(path), "-map", "0:v:0?", "-map", "0:a:0?",
        "-f", "null", "-",
    )
    if returncode != 0:
        raise ImportFailure(
            "undecodable",
            f"the downloaded file does not decode at its {where}: {_last_line(stderr, path)}; "
            "try another format",
        )


async def _ffmpeg(*arguments: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(FFMPEG_TIMEOUT_SECONDS):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ImportFailure(
            "invalid_media", f"checking the file with ffmpeg took over {FFMPEG_TIMEOUT_SECONDS} s"
        ) from None
    assert process.returncode is not None
    return process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def _last_line(text: str, path: Path) -> str:
    """Return ffmpeg's last error line without its "[demuxer @ 0x...]" prefix or file paths."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "ffmpeg reported no detail"
    return scrub_paths(_FFMPEG_PREFIX.sub("", lines[-1]), path) or "ffmpeg reported no detail"
