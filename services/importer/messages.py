"""Keep server paths out of the failure messages that clients see.

ffmpeg, ffprobe and yt-dlp name the files they work on in their errors, and those names
reveal the importer's directory layout. The full text still goes to the importer's log.
"""

from __future__ import annotations

import re
from pathlib import Path

# An absolute POSIX path of at least two segments, such as /var/lib/ferry/tmp/media.mp4,
# followed by the ": " that ffmpeg puts between a file name and its error, if present.
# The look-behind skips paths inside URLs ("http://host/a/b", "file:///etc/x", "?next=/a/b").
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\]%~=?&#-])/(?:[^\s/'\"]+/)+[^\s/'\":,;)]*(?:: )?")


def scrub_paths(text: str, known: Path | None = None) -> str:
    """Remove `known` and any other absolute path from `text`.

    A path that starts a "path: error" pair is dropped with its colon, and any other path
    becomes "<path>", so "/tmp/x/media.mp4: Invalid data" reads "Invalid data".
    """
    if known is not None:
        text = text.replace(f"{known}: ", "").replace(str(known), known.name)
    return _ABSOLUTE_PATH.sub(_replace_path, text).strip()


def _replace_path(match: re.Match[str]) -> str:
    return "" if match.group().endswith(": ") else "<path>"
