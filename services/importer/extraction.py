"""Run the metadata child process for one URL and turn its output into MediaMetadata."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from ferry.importer.v1 import importer_pb2

from services.importer.failures import ImportFailure

logger = logging.getLogger(__name__)

# Protocol lines are short, but a title can be long; asyncio's default limit is 64 KiB.
LINE_LIMIT_BYTES = 1024 * 1024
STDERR_EXCERPT_CHARS = 300


async def extract(
    url: str, *, basic: bool, allow_private: bool, timeout_seconds: float, directory: Path
) -> importer_pb2.MediaMetadata:
    """Extract the metadata of `url` without downloading its media.

    The child writes a direct media file's first bytes into `directory` for ffprobe. It
    creates the directory when it needs it, and this function deletes it afterwards. Raises
    ImportFailure with the child's code and message (such as `no_media` or
    `source_not_found`), or `timed_out` after `timeout_seconds`.
    """
    spec = {
        "url": url,
        "basic": basic,
        "allow_private": allow_private,
        "directory": str(directory),
        "parent_pid": os.getpid(),
    }
    try:
        return await _run_child(spec, timeout_seconds)
    finally:
        await asyncio.to_thread(shutil.rmtree, directory, True)


async def _run_child(spec: dict[str, Any], timeout_seconds: float) -> importer_pb2.MediaMetadata:
    # A session of its own lets the kill below take down everything the child started.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.importer.metadata_child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=LINE_LIMIT_BYTES,
    )
    try:
        async with asyncio.timeout(timeout_seconds):
            stdout, stderr = await process.communicate(json.dumps(spec).encode())
    except TimeoutError:
        raise ImportFailure(
            "timed_out",
            f"reading the metadata did not finish within {timeout_seconds:g} s; "
            "check that the URL answers quickly",
        ) from None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    return _metadata_from(_last_event(stdout), process.returncode, stderr)


def _last_event(stdout: bytes) -> dict[str, Any] | None:
    for line in reversed(stdout.decode(errors="replace").splitlines()):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") in ("result", "error"):
            return event
    return None


def _metadata_from(
    event: dict[str, Any] | None, returncode: int | None, stderr: bytes
) -> importer_pb2.MediaMetadata:
    if event is None:
        detail = stderr.decode(errors="replace").strip()[-STDERR_EXCERPT_CHARS:] or "no output"
        logger.error("the metadata child exited with code %s: %s", returncode, detail)
        raise ImportFailure(
            "extraction_failed", f"the metadata extractor exited with code {returncode}"
        )
    if event["event"] == "error":
        raise ImportFailure(event["code"], event["message"])

    metadata = importer_pb2.MediaMetadata(
        title=event["title"],
        duration_seconds=event["duration"] or 0.0,
        thumbnail=event["thumbnail"],
        uploader=event["uploader"],
    )
    for preset in event["presets"]:
        metadata.presets.append(importer_pb2.FormatPreset(**preset))
    return metadata
