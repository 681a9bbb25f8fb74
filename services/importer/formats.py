"""Turn an import's format parameters into a yt-dlp format selector (see docs/formats.md)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import yt_dlp
from ferry.importer.v1 import importer_pb2

from services.shared.errors import InvalidRequest

# yt-dlp merges separate video and audio into MP4 when the codecs fit it, else into MKV.
MERGE_OUTPUT_FORMAT = "mp4/mkv"

MIN_HEIGHT = 144
MAX_HEIGHT = 4320
# yt-dlp's documented selectors rarely exceed 100 characters; the cap keeps a record,
# which is stored in a NATS message, far below NATS's 1 MB default maximum payload.
MAX_FORMAT_LENGTH = 1024

# Matches "720p", "720P" and "720": a height in pixels.
_HEIGHT_PATTERN = re.compile(r"^(\d+)p?$", re.IGNORECASE)

# `quality` low and medium cap the height; high takes the best video and audio.
_QUALITY_HEIGHTS = {"low": 480, "medium": 720}
_BEST_SELECTOR = "bv*+ba/b"
_QUALITIES = ("low", "medium", "high")
_DEFAULT_QUALITY = "medium"

_VIDEO_HEIGHTS = {"144p": 144, "240p": 240, "360p": 360, "480p": 480, "720p": 720,
                  "1080p": 1080, "1440p": 1440, "2160p": 2160}
_VIDEO_QUALITIES = ("lowest", *_VIDEO_HEIGHTS, "best")

# The audio part of a selector for each audioQuality: the best audio up to a bitrate in
# kbit/s, falling back to the lowest bitrate when every track is above it.
_AUDIO_SELECTORS = {
    "lowest": "wa",
    "low": "ba[abr<=64]/wa",
    "medium": "ba[abr<=128]/wa",
    "high": "ba[abr<=192]/wa",
    "best": "ba",
}


@dataclass(frozen=True)
class Selection:
    """Selector an import downloads with, and the kind of media it requests."""

    selector: str
    # Keep only the audio, as M4A or MP3.
    audio_only: bool = False
    # Keep only the video when the source has a separate video stream.
    video_only: bool = False
    # The height the request caps the video at, when it names one; the import takes the
    # closest lower height (or the lowest there is) and says so in its message.
    requested_height: int | None = None
    # The request sets includeVideo or includeAudio to true, so the file must have that stream.
    requires_video: bool = False
    requires_audio: bool = False


def height_selector(height: int) -> str:
    """Return the selector for the best video no taller than `height`, with audio."""
    return f"bv*[height<={height}]+ba/b[height<={height}]/wv*+ba/w"


def resolve(request: importer_pb2.FormatRequest) -> Selection:
    """Validate every format parameter and return the selection the request makes.

    `format` wins over the Importly parameters includeVideo, includeAudio, videoQuality and
    audioQuality, which win over `quality`. Raises InvalidRequest naming the bad field.
    """
    quality = _parse_quality(request.quality)
    video_quality = _parse_choice("videoQuality", request.video_quality, _VIDEO_QUALITIES)
    audio_quality = _parse_choice("audioQuality", request.audio_quality, tuple(_AUDIO_SELECTORS))
    media_fields_set = (
        request.HasField("include_video")
        or request.HasField("include_audio")
        or video_quality is not None
        or audio_quality is not None
    )

    if len(request.format) > MAX_FORMAT_LENGTH:
        raise InvalidRequest(
            f"format is {len(request.format)} characters long; the limit is "
            f"{MAX_FORMAT_LENGTH}, so pass a height such as 720p or a shorter selector",
            field="format",
            max_length=MAX_FORMAT_LENGTH,
        )
    if request.format.strip():
        return _parse_format(request.format.strip())
    if media_fields_set:
        return _select_media(request, video_quality or "best", audio_quality or "best")
    if quality == "high":
        return Selection(_BEST_SELECTOR)
    height = _QUALITY_HEIGHTS[quality]
    return Selection(height_selector(height), requested_height=height)


def _parse_format(value: str) -> Selection:
    match = _HEIGHT_PATTERN.match(value)
    if match is None:
        _check_selector(value)
        return Selection(value)

    height = int(match.group(1))
    if not MIN_HEIGHT <= height <= MAX_HEIGHT:
        raise InvalidRequest(
            f"format '{value}' asks for a height of {height} pixels; use a height from "
            f"{MIN_HEIGHT} to {MAX_HEIGHT}, such as 720p",
            field="format",
        )
    return Selection(height_selector(height), requested_height=height)


def _check_selector(selector: str) -> None:
    try:
        _selector_parser().build_format_selector(selector)
    except SyntaxError as exc:
        # yt-dlp's message continues with the selector and a caret on later lines.
        reason = str(exc).splitlines()[0]
        raise InvalidRequest(
            f"format '{selector}' is not a valid yt-dlp format selector: {reason}",
            field="format",
        ) from None


@functools.cache
def _selector_parser() -> yt_dlp.YoutubeDL:
    return yt_dlp.YoutubeDL({"quiet": True})


def _parse_quality(value: str) -> str:
    return _parse_choice("quality", value, _QUALITIES) or _DEFAULT_QUALITY


def _parse_choice(field: str, value: str, choices: tuple[str, ...]) -> str | None:
    normalized = value.strip().lower()
    if not normalized:
        return None
    if normalized not in choices:
        raise InvalidRequest(
            f"{field} '{value}' is not valid; use one of {', '.join(choices)}", field=field
        )
    return normalized


def _select_media(
    request: importer_pb2.FormatRequest, video_quality: str, audio_quality: str
) -> Selection:
    include_video = request.include_video if request.HasField("include_video") else True
    include_audio = request.include_audio if request.HasField("include_audio") else True
    if not include_video and not include_audio:
        raise InvalidRequest(
            "includeVideo and includeAudio are both false; set at least one of them to true",
            field="includeVideo,includeAudio",
        )

    requires_video = request.HasField("include_video") and include_video
    requires_audio = request.HasField("include_audio") and include_audio
    height = _VIDEO_HEIGHTS.get(video_quality)
    if not include_video:
        fallback = "w" if audio_quality == "lowest" else "b"
        return Selection(
            f"{_AUDIO_SELECTORS[audio_quality]}/{fallback}", audio_only=True, requires_audio=True
        )
    if not include_audio:
        return Selection(
            _video_only_selector(video_quality),
            video_only=True,
            requested_height=height,
            requires_video=True,
        )
    return Selection(
        _video_with_audio_selector(video_quality, audio_quality),
        requested_height=height,
        requires_video=requires_video,
        requires_audio=requires_audio,
    )


def _video_only_selector(video_quality: str) -> str:
    if video_quality == "best":
        return "bv/b"
    if video_quality == "lowest":
        return "wv/w"
    height = _VIDEO_HEIGHTS[video_quality]
    return f"bv[height<={height}]/wv/b[height<={height}]/w"


def _video_with_audio_selector(video_quality: str, audio_quality: str) -> str:
    audio = _AUDIO_SELECTORS[audio_quality]
    if "/" in audio:
        audio = f"({audio})"
    if video_quality == "best":
        return f"bv*+{audio}/b"  # equals _BEST_SELECTOR when audioQuality is best
    if video_quality == "lowest":
        return f"wv*+{audio}/w"
    height = _VIDEO_HEIGHTS[video_quality]
    return f"bv*[height<={height}]+{audio}/b[height<={height}]/wv*+{audio}/w"


def height_note(selection: Selection, height: int, has_video: bool) -> str:
    """Return why the imported height differs from the requested one, or "" when it does not."""
    requested = selection.requested_height
    if selection.audio_only:
        return ""
    if not has_video:
        return "the source has no video, so only its audio was imported"
    if requested is None or height == requested or not height:
        return ""
    if height < requested:
        return (
            f"{requested}p is not available, so the closest lower height, {height}p, "
            "was imported"
        )
    return (
        f"no format is {requested}p or lower, so the lowest available height, {height}p, "
        "was imported"
    )
