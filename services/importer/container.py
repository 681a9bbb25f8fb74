"""Move a merged Matroska download into MP4 when its codecs allow it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from services.importer.downloader import Download
from services.importer.probe import MediaProbe

logger = logging.getLogger(__name__)

# The codecs yt-dlp itself accepts in MP4 (utils.get_compatible_ext in yt-dlp 2026.11),
# by their ffprobe names.
MP4_VIDEO_CODECS = frozenset({"h264", "hevc", "av1"})
MP4_AUDIO_CODECS = frozenset({"aac", "eac3", "ac4"})
REMUX_TIMEOUT_SECONDS = 600


async def prefer_mp4(download: Download, media: MediaProbe) -> Download:
    """Copy the streams of an MKV download into MP4 when both codecs fit; else keep it.

    yt-dlp merges into MKV whenever it does not know a codec in advance, which is common
    for HLS audio renditions, even when the streams would fit MP4.
    """
    if download.ext != "mkv" or not _fits_mp4(media):
        return download

    target = download.path.with_suffix(".mp4")
    process = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(download.path), "-map", "0:v?", "-map", "0:a?", "-c", "copy",
        "-movflags", "+faststart", str(target),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(REMUX_TIMEOUT_SECONDS):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        stderr = f"timed out after {REMUX_TIMEOUT_SECONDS} s".encode()

    if process.returncode != 0:
        logger.warning(
            "could not copy %s into MP4, keeping MKV: %s",
            download.path.name, stderr.decode(errors="replace").strip(),
        )
        target.unlink(missing_ok=True)
        return download
    download.path.unlink()
    return dataclasses.replace(download, path=target, ext="mp4")


def _fits_mp4(media: MediaProbe) -> bool:
    video_fits = not media.vcodec or media.vcodec in MP4_VIDEO_CODECS
    audio_fits = not media.acodec or media.acodec in MP4_AUDIO_CODECS
    return video_fits and audio_fits
