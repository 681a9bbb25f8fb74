"""Direct media files larger than the metadata probe's first read, with the MP4 index first or last.

`make_direct_sources(directory)` writes, once per directory:

- `faststart.mp4`: 320x240 H.264/AAC, the moov atom before the media data;
- `moov-last.mp4`: the same streams remuxed with the moov atom after the media data;
- `clip.webm`: 320x240 VP9/Opus, a few tens of kB.

Both MP4 files are larger than `direct_probe.HEAD_BYTES`, so the probe really reads only
their first bytes (and the last ones for `moov-last.mp4`).
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

from services.importer import direct_probe
from tests import media, sources

WIDTH, HEIGHT = 320, 240
SECONDS = 3
# 16 Mbit/s for 3 s is about 6.8 MB, above the probe's 4 MiB first read.
VIDEO_BITRATE = "16M"


def make_direct_sources(directory: Path) -> Path:
    """Write the files listed above into `directory` and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    faststart = media.make_mp4(
        directory, name="faststart.mp4", seconds=SECONDS, size=f"{WIDTH}x{HEIGHT}",
        video_bitrate=VIDEO_BITRATE,
    )
    moov_last = directory / "moov-last.mp4"
    if not moov_last.exists():
        # Without -movflags +faststart the mp4 muxer writes the moov atom last.
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(faststart),
             "-c", "copy", "-f", "mp4", str(moov_last)],
            check=True, timeout=60,
        )
    sources._ffmpeg(
        [*sources._av_inputs(f"{WIDTH}x{HEIGHT}", SECONDS), "-c:v", "libvpx-vp9",
         "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k", "-c:a", "libopus",
         "-b:a", "48k"],
        directory / "clip.webm",
    )
    return directory


def moov_offset(path: Path) -> int:
    """Return the offset of the top-level moov atom of the MP4 file at `path`."""
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"moov":
            return offset
        if size == 1:  # a 64-bit size follows the type
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        if size < 8:
            break
        offset += size
    raise ValueError(f"{path} has no top-level moov atom")


def check_layout(directory: Path) -> None:
    """Raise AssertionError unless the MP4 files have the layout the tests rely on."""
    head = direct_probe.HEAD_BYTES
    for name in ("faststart.mp4", "moov-last.mp4"):
        size = (directory / name).stat().st_size
        assert size > head, f"{name} is {size} bytes, not larger than the {head}-byte first read"
    assert moov_offset(directory / "faststart.mp4") < head
    assert moov_offset(directory / "moov-last.mp4") > head
