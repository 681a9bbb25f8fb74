"""Run the yt-dlp child process for one download and watch it: progress, size, time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.importer.failures import ImportFailure

logger = logging.getLogger(__name__)

SIZE_CHECK_INTERVAL_SECONDS = 0.5
# Merging (and audio extraction) writes the output file while its inputs are still on
# disk, so the directory may hold about twice the media's size for a moment. The final
# file itself is checked against the plain limit.
MERGE_SPACE_FACTOR = 2
# Protocol lines are short, but a title can be long; asyncio's default limit is 64 KiB.
LINE_LIMIT_BYTES = 1024 * 1024

ProgressCallback = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class DownloadRequest:
    url: str
    selector: str
    directory: Path
    max_bytes: int
    allow_private: bool
    timeout_seconds: float
    # Names the limit behind max_bytes and its value, for the failure message.
    size_limit_text: str = ""
    # Seconds without a new byte on disk before the download fails.
    stall_seconds: float = 60.0
    # Maximum media duration accepted. 0 means no limit.
    max_duration_seconds: float = 0.0


@dataclass(frozen=True)
class Download:
    path: Path
    title: str
    ext: str
    duration: float | None
    # The source announced an audio track, so the file must contain one.
    has_audio: bool
    # The source announced a video track, so the file must contain one.
    has_video: bool = False


async def download(request: DownloadRequest, on_progress: ProgressCallback) -> Download:
    """Download `request.url` into `request.directory` in a child process.

    Raises ImportFailure when yt-dlp fails, the media exceeds `max_bytes` or the
    download outlasts `timeout_seconds`. The child is killed on every way out.
    """
    request.directory.mkdir(parents=True, exist_ok=True)
    process = await _start_child(request)
    stderr_task = asyncio.create_task(_log_stderr(process))
    try:
        async with asyncio.timeout(request.timeout_seconds):
            outcome = await _watch(process, request, on_progress)
            await process.wait()
    except TimeoutError:
        raise ImportFailure(
            "timed_out",
            f"the download did not finish within the download timeout of "
            f"{request.timeout_seconds:.0f} s (FERRY_IMPORT_TIMEOUT_SECONDS); "
            "try a lower format or a shorter media",
        ) from None
    finally:
        await _kill(process)
        await stderr_task

    return _download_from(outcome, process.returncode, request)


async def _start_child(request: DownloadRequest) -> asyncio.subprocess.Process:
    spec = {
        "url": request.url,
        "selector": request.selector,
        "directory": str(request.directory),
        "max_filesize": request.max_bytes,
        "max_duration": request.max_duration_seconds,
        "allow_private": request.allow_private,
        "parent_pid": os.getpid(),
    }
    # A session of its own lets `_kill` take down ffmpeg processes the child started.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.importer.ytdlp_child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        limit=LINE_LIMIT_BYTES,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(spec).encode())
    await process.stdin.drain()
    process.stdin.close()
    return process


async def _watch(
    process: asyncio.subprocess.Process, request: DownloadRequest, on_progress: ProgressCallback
) -> dict[str, Any] | None:
    reader = asyncio.create_task(_read_events(process, on_progress))
    size_guard = asyncio.create_task(_guard_disk(request))
    try:
        done, _ = await asyncio.wait({reader, size_guard}, return_when=asyncio.FIRST_COMPLETED)
        if size_guard in done:
            size_guard.result()  # raises the size failure
        return reader.result()
    finally:
        for task in (reader, size_guard):
            task.cancel()
        await asyncio.gather(reader, size_guard, return_exceptions=True)


async def _read_events(
    process: asyncio.subprocess.Process, on_progress: ProgressCallback
) -> dict[str, Any] | None:
    """Pass progress on and return the final result or error event, None if none came."""
    assert process.stdout is not None
    async for line in process.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            logger.warning("ignoring a malformed line from the yt-dlp child: %r", line[:200])
            continue
        if event.get("event") == "progress":
            await on_progress(int(event["downloaded"]), int(event["total"]))
        elif event.get("event") in ("result", "error"):
            return event
    return None


async def _guard_disk(request: DownloadRequest) -> None:
    """Raise ImportFailure when the files on disk grow too large or stop growing.

    One file may not exceed `max_bytes`, and all of them together (parts being merged)
    not twice that. The download has stalled when the total stays the same for
    `stall_seconds`; merging and conversion write to disk too, so they count as activity.
    The stall clock starts with the first byte on disk: before that, start-up and
    extraction run, and a source that sends nothing fails on yt-dlp's socket timeout.
    """
    loop = asyncio.get_running_loop()
    last_total, last_growth = 0, loop.time()
    while True:
        await asyncio.sleep(SIZE_CHECK_INTERVAL_SECONDS)
        total, largest = _directory_size(request.directory)
        if largest > request.max_bytes or total > request.max_bytes * MERGE_SPACE_FACTOR:
            raise too_large(request.max_bytes, request.size_limit_text)
        if total != last_total or total == 0:
            last_total, last_growth = total, loop.time()
        elif loop.time() - last_growth > request.stall_seconds:
            raise ImportFailure(
                "stalled",
                f"the download stalled: no bytes arrived for {request.stall_seconds:.0f} s "
                "(FERRY_IMPORT_STALL_SECONDS); check that the source is up and retry",
            )


def too_large(max_bytes: int, limit_text: str = "") -> ImportFailure:
    """Return the failure for media larger than `max_bytes`, naming the limit that sets it."""
    limit_text = limit_text or f"the {max_bytes // 10**6} MB your balance covers"
    return ImportFailure(
        "too_large",
        f"the media is larger than {limit_text}; choose a lower format, or add credits "
        "or raise the limit",
    )


def _directory_size(directory: Path) -> tuple[int, int]:
    """Return the total size of the files under `directory` and the size of the largest."""
    total = largest = 0
    for root, _, files in os.walk(directory):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # yt-dlp renames parts as it goes
                size = os.stat(os.path.join(root, name)).st_size
                total += size
                largest = max(largest, size)
    return total, largest


async def _log_stderr(process: asyncio.subprocess.Process) -> None:
    assert process.stderr is not None
    async for raw in process.stderr:
        line = raw.decode(errors="replace").rstrip()
        if line:
            logger.warning("yt-dlp: %s", line)


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    await process.wait()


def _download_from(
    outcome: dict[str, Any] | None,
    returncode: int | None,
    request: DownloadRequest,
) -> Download:
    if outcome is None:
        # The child reports every error it can catch, so this is a crash; its traceback is
        # in the log (_log_stderr) and stays out of the client's message.
        raise ImportFailure(
            "download_failed",
            f"the downloader stopped with exit code {returncode} without reporting a result; "
            "retry the import",
        )
    if outcome["event"] == "error":
        if outcome["code"] == "too_large":
            raise too_large(request.max_bytes, request.size_limit_text)
        raise ImportFailure(outcome["code"], outcome["message"])

    path = Path(outcome["path"])
    if path.stat().st_size > request.max_bytes:
        raise too_large(request.max_bytes, request.size_limit_text)
    return Download(
        path=path,
        title=outcome["title"],
        ext=outcome["ext"],
        duration=outcome["duration"],
        has_audio=bool(outcome["has_audio"]),
        has_video=bool(outcome.get("has_video")),
    )
