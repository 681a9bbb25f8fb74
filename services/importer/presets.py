"""The format presets a source offers, described from yt-dlp's format dicts (see docs/formats.md).

A preset is what POST /import would do with one parameter: `format` "2160p" … "360p",
`includeVideo: false` (audio only), or `quality: "high"` (best). Each preset is run through
yt-dlp's own format selection on the source's formats, so it describes the format the import
would really download.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ferry.importer.v1 import importer_pb2

from services.importer import container, formats
from services.importer.probe import MediaProbe

PRESET_HEIGHTS = (2160, 1440, 1080, 720, 480, 360)
AUDIO_ONLY = "audio only"
BEST = "best"
BYTES_PER_CREDIT = 10**6
# container.py re-encodes audio other than AAC and MP3 to AAC at this bitrate (kbit/s).
REENCODED_AUDIO_KBITS = 192

# yt-dlp codec string prefix -> ffprobe codec name, for the container rules.
_CODEC_NAMES = {
    "avc": "h264", "h264": "h264", "hvc": "hevc", "hev": "hevc", "h265": "hevc",
    "av01": "av1", "av1": "av1", "vp09": "vp9", "vp9": "vp9", "vp8": "vp8",
    "mp4a": "aac", "aac": "aac", "opus": "opus", "vorbis": "vorbis", "mp3": "mp3",
    "ec-3": "eac3", "eac3": "eac3", "ac-4": "ac4", "ac-3": "ac3", "ac3": "ac3", "flac": "flac",
}

# Selects formats from a list with one yt-dlp selector; returns what yt-dlp would download.
SelectFormats = Callable[[str], list[dict[str, Any]]]


def preset_requests() -> list[tuple[str, importer_pb2.FormatRequest]]:
    """Return each preset's name and the import parameters it represents."""
    requests = [
        (f"{height}p", importer_pb2.FormatRequest(format=f"{height}p"))
        for height in PRESET_HEIGHTS
    ]
    requests.append((AUDIO_ONLY, importer_pb2.FormatRequest(include_video=False)))
    return requests


def describe_presets(select: SelectFormats, duration: float) -> list[dict[str, Any]]:
    """Return the presets that really exist, best first, as JSON-ready dicts.

    A height preset exists when the format it selects is taller than the next lower preset
    (any height for 360p), so presets that fall back to the same format appear once. When
    no height preset exists but the source has video (its height unknown until downloaded,
    say), a single "best" preset represents it.
    """
    presets: list[dict[str, Any]] = []
    for index, (name, request) in enumerate(preset_requests()):
        selection = formats.resolve(request)
        chosen = select(selection.selector)
        if not chosen:
            continue
        preset = _describe(name, selection, chosen[0], duration)
        if name == AUDIO_ONLY:
            if preset["acodec"] != "none":
                presets.append(preset)
            continue
        lower = PRESET_HEIGHTS[index + 1] if index + 1 < len(PRESET_HEIGHTS) else 0
        height = preset["height"]
        if preset["vcodec"] != "none" and height and lower < height <= PRESET_HEIGHTS[index]:
            presets.append(preset)

    if not any(preset["height"] for preset in presets):
        selection = formats.resolve(importer_pb2.FormatRequest(quality="high"))
        chosen = select(selection.selector)
        if chosen and _parts(chosen[0])[0].get("vcodec") != "none":
            presets.insert(0, _describe(BEST, selection, chosen[0], duration))
    return [_without_unknown_codecs(preset) for preset in presets]


def estimated_credits(size_bytes: int | None) -> int | None:
    """Return the credits an import of `size_bytes` costs: one per started 10^6 bytes."""
    if size_bytes is None:
        return None
    return max(1, math.ceil(size_bytes / BYTES_PER_CREDIT))


def _describe(
    name: str, selection: formats.Selection, chosen: dict[str, Any], duration: float
) -> dict[str, Any]:
    parts = _parts(chosen)
    video = next((part for part in parts if part.get("vcodec") != "none"), None)
    audio = next((part for part in parts if part.get("acodec") != "none"), None)
    if selection.audio_only:
        video = None
    vcodec = "none" if video is None else (video.get("vcodec") or "")
    acodec = "none" if audio is None else (audio.get("acodec") or "")

    ext = _target_ext(vcodec, acodec, chosen, selection.audio_only)
    size = _estimate_size(parts, selection.audio_only, acodec, duration)
    return {
        "name": name,
        "selector": selection.selector,
        "ext": ext,
        "height": int(video.get("height") or 0) if video else 0,
        "width": int(video.get("width") or 0) if video else 0,
        "fps": float(video.get("fps") or 0) if video else 0.0,
        "vcodec": vcodec,
        "acodec": acodec,
        "estimated_size_bytes": size,
        "estimated_credits": estimated_credits(size),
    }


def _parts(chosen: dict[str, Any]) -> Sequence[dict[str, Any]]:
    # A merged selection (video+audio) lists its two formats in requested_formats.
    return chosen.get("requested_formats") or [chosen]


def _codec_name(codec: str) -> str:
    lowered = codec.lower()
    for prefix, name in _CODEC_NAMES.items():
        if lowered.startswith(prefix):
            return name
    return lowered


def _target_ext(vcodec: str, acodec: str, chosen: dict[str, Any], audio_only: bool) -> str:
    """Return the container the importer would store, by the rules of container.py."""
    has_video = vcodec != "none"
    if (has_video and not vcodec) or (acodec == "" and (audio_only or not has_video)):
        # A codec yt-dlp does not know yet: ffprobe decides after the download.
        if audio_only or not has_video:
            return "mp3" if chosen.get("ext") == "mp3" else "m4a"
        return {"mov": "mp4", "m4v": "mp4"}.get(chosen.get("ext") or "", chosen.get("ext") or "")
    probe = MediaProbe(
        duration=0,
        width=0,
        height=0,
        vcodec=_codec_name(vcodec) if has_video else "",
        acodec=_codec_name(acodec) if acodec not in ("", "none") else "",
        fps=0,
    )
    return container.target_ext(probe, audio_only)


def _estimate_size(
    parts: Sequence[dict[str, Any]], audio_only: bool, acodec: str, duration: float
) -> int | None:
    """Add up the parts' sizes, from bitrate x duration where no size is announced."""
    if audio_only:
        if acodec and _codec_name(acodec) not in ("aac", "mp3"):
            return _from_bitrate(REENCODED_AUDIO_KBITS, duration)
        audio = next((part for part in parts if part.get("acodec") != "none"), parts[0])
        if audio.get("vcodec") == "none":
            return _part_size(audio, duration)
        # Audio extracted from a combined format: only the audio bitrate counts.
        return _from_bitrate(audio.get("abr"), duration)

    total = 0
    for part in parts:
        size = _part_size(part, duration)
        if size is None:
            return None
        total += size
    return total


def _part_size(part: dict[str, Any], duration: float) -> int | None:
    size = part.get("filesize") or part.get("filesize_approx")
    if size:
        return int(size)
    return _from_bitrate(part.get("tbr"), duration)


def _from_bitrate(kbits_per_second: float | None, duration: float) -> int | None:
    if not kbits_per_second or not duration:
        return None
    return int(kbits_per_second * 1000 / 8 * duration)


def _without_unknown_codecs(preset: dict[str, Any]) -> dict[str, Any]:
    # "none" marks a stream the preset lacks; an empty string one yt-dlp does not know.
    return {
        **preset,
        "vcodec": "" if preset["vcodec"] == "none" else preset["vcodec"],
        "acodec": "" if preset["acodec"] == "none" else preset["acodec"],
    }
