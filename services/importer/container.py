"""Put a verified download into the container its codecs call for, without re-encoding video.

Video: MP4 when the codecs fit it (H.264, HEVC or AV1 with AAC, E-AC-3 or AC-4), WebM when
they fit WebM (VP8, VP9 or AV1 with Opus or Vorbis), Matroska otherwise. Audio only: M4A
for AAC, MP3 for MP3, and any other codec re-encoded to AAC in M4A.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from services.importer.downloader import Download
from services.importer.failures import ImportFailure
from services.importer.formats import Selection
from services.importer.messages import scrub_paths
from services.importer.probe import MediaProbe

logger = logging.getLogger(__name__)

# The codecs yt-dlp itself accepts in MP4 (utils.get_compatible_ext in yt-dlp 2026.11),
# by their ffprobe names.
MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1"})
MP4_AUDIO_CODECS = frozenset({"aac", "eac3", "ac4"})
# The codecs the WebM specification allows.
WEBM_VIDEO_CODECS = frozenset({"vp8", "vp9", "av1"})
WEBM_AUDIO_CODECS = frozenset({"opus", "vorbis"})
AAC_BITRATE = "192k"
CONVERT_TIMEOUT_SECONDS = 600

# Target extension -> (ffmpeg muxer, its extra options, ffprobe format names it may have).
_MUXERS = {
    "mp4": ("mp4", ["-movflags", "+faststart"], {"mov", "mp4"}),
    "m4a": ("ipod", ["-movflags", "+faststart"], {"mov", "mp4", "m4a"}),
    "webm": ("webm", [], {"matroska", "webm"}),
    "mkv": ("matroska", [], {"matroska", "webm"}),
    "mp3": ("mp3", [], {"mp3"}),
}


def target_ext(media: MediaProbe, audio_only: bool) -> str:
    """Return the extension of the container that `media` is stored in."""
    if audio_only or not media.has_video:
        return {"aac": "m4a", "mp3": "mp3"}.get(media.acodec, "m4a")
    audio = media.acodec
    if media.vcodec in MP4_VIDEO_CODECS and (not audio or audio in MP4_AUDIO_CODECS):
        return "mp4"
    if media.vcodec in WEBM_VIDEO_CODECS and (not audio or audio in WEBM_AUDIO_CODECS):
        return "webm"
    return "mkv"


async def finalize(fetched: Download, media: MediaProbe, selection: Selection) -> Download:
    """Return the download in its target container, converting it when needed.

    An audio-only selection drops the video (and re-encodes audio that is neither AAC nor
    MP3); a video-only selection drops the audio. Streams are otherwise copied.
    """
    drop_video = selection.audio_only and media.has_video
    drop_audio = selection.video_only and media.has_audio and media.has_video
    output = dataclasses.replace(
        media,
        vcodec="" if drop_video else media.vcodec,
        acodec="" if drop_audio else media.acodec,
    )
    ext = target_ext(output, selection.audio_only)
    muxer, muxer_options, format_names = _MUXERS[ext]
    same_container = bool(format_names & set(media.container.split(",")))
    if fetched.ext == ext and same_container and not (drop_video or drop_audio):
        return fetched

    maps = ["-map", "0:a:0"] if drop_video or not output.vcodec else ["-map", "0:v:0"]
    if output.vcodec and output.acodec:
        maps += ["-map", "0:a:0"]
    reencode = ext == "m4a" and output.acodec != "aac"
    codecs = ["-c:a", "aac", "-b:a", AAC_BITRATE] if reencode else ["-c", "copy"]
    target = fetched.path.with_name(f"final.{ext}")
    await _convert(
        ["-i", str(fetched.path), *maps, *codecs, *muxer_options, "-f", muxer, str(target)],
        ext,
    )
    fetched.path.unlink()
    logger.info("stored the %s download as %s (%s)", fetched.ext, ext,
                "audio re-encoded to AAC" if reencode else "streams copied")
    return dataclasses.replace(fetched, path=target, ext=ext)


async def _convert(arguments: list[str], ext: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *arguments,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(CONVERT_TIMEOUT_SECONDS):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ImportFailure(
            "conversion_failed", f"ffmpeg did not finish within {CONVERT_TIMEOUT_SECONDS} s"
        ) from None
    if process.returncode != 0:
        detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        logger.warning("ffmpeg could not write the %s file: %s", ext, detail[0])
        raise ImportFailure(
            "conversion_failed",
            f"ffmpeg could not write the {ext} file: {scrub_paths(detail[0]) or 'no detail'}",
        )
