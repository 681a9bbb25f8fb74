"""One download measured two ways: the yt-dlp command line, and an import through Ferry's API."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from ferry.importer.v1 import importer_pb2

from bench.procfs import TreeSampler
from services.importer import formats

YTDLP = Path(sys.executable).with_name("yt-dlp")
# The yt-dlp child the importer starts for each download (services/importer/downloader.py).
FERRY_DOWNLOAD_COMMAND = "services.importer.ytdlp_child"
# Programs the importer itself runs to check and convert a download (probe, verify, container).
FERRY_CHECK_PROGRAMS = ("ffprobe", "ffmpeg")
BASELINE_TIMEOUT_SECONDS = 300
IMPORT_TIMEOUT_SECONDS = 300
HTTP_TIMEOUT_SECONDS = 30
_FETCH_CHUNK_BYTES = 1024 * 1024


class BenchError(RuntimeError):
    """A download in the benchmark failed, so its time means nothing."""


@dataclass(frozen=True)
class Case:
    """One source and format, downloaded by both sides."""

    name: str
    url: str
    # Ferry's `format` parameter, such as "720p".
    format: str
    description: str

    @property
    def selector(self) -> str:
        """Return the yt-dlp selector Ferry turns `format` into, which the baseline uses too."""
        return formats.resolve(importer_pb2.FormatRequest(format=self.format)).selector


@dataclass(frozen=True)
class BaselineRun:
    seconds: float
    size_bytes: int
    # Summed over yt-dlp and the ffmpeg it starts, sampled from /proc. The kernel's own
    # figure (ru_maxrss from wait4 or RUSAGE_CHILDREN) is no use here: exec records the
    # forking parent's peak in it, and this benchmark's process is larger than yt-dlp.
    peak_rss_bytes: int


@dataclass(frozen=True)
class FerryRun:
    """Times in seconds: `seconds` from POST /import to the file on disk, then its phases."""

    seconds: float
    size_bytes: int
    # POST /import until the record's createdAt.
    submit_seconds: float
    # createdAt until a worker started the job (startedAt).
    queue_seconds: float
    # startedAt until finishedAt: download, ffprobe and ffmpeg checks, S3 upload, record writes.
    work_seconds: float
    # finishedAt until a status poll returned "completed".
    notice_seconds: float
    # GET of the mediaUrl into a local file.
    fetch_seconds: float
    # How long the importer's yt-dlp child was seen alive; None when no sample caught it.
    download_seconds: float | None = None
    # The summed lifetimes of the ffprobe and ffmpeg processes the importer started itself.
    check_seconds: float = 0.0
    # The importer process with its yt-dlp child and ffmpeg or ffprobe, summed.
    peak_rss_bytes: int = 0
    # Only the importer's children: its yt-dlp child and what that starts.
    peak_child_rss_bytes: int = 0


@dataclass(frozen=True)
class ConcurrentRun:
    """`count` downloads of one case started together; `seconds` until the last one ended."""

    count: int
    seconds: float
    size_bytes: int
    # yt-dlp: every process of the batch summed. Ferry: the importer and all its children.
    peak_rss_bytes: int


def baseline_command(case: Case, directory: Path) -> list[str]:
    """Return the yt-dlp command line that downloads `case` as Ferry's yt-dlp child does."""
    return [
        str(YTDLP),
        "--no-playlist",
        "--quiet", "--no-progress", "--no-warnings",
        # Ferry runs yt-dlp's own HTTP, HLS and DASH downloaders only, never ffmpeg's.
        "--downloader", "native",
        "--format", case.selector,
        "--merge-output-format", formats.MERGE_OUTPUT_FORMAT,
        "--output", str(directory / "media.%(ext)s"),
        case.url,
    ]


def run_baseline(case: Case, scratch: Path) -> BaselineRun:
    """Download `case` with the yt-dlp command line into a new directory under `scratch`."""
    directory = Path(tempfile.mkdtemp(prefix="yt-dlp-", dir=scratch))
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            baseline_command(case, directory), stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True,
        )
        with TreeSampler(process.pid) as sampler:
            status = _wait(process)
        seconds = time.perf_counter() - started
        if status != 0:
            stderr.seek(0)
            raise BenchError(f"yt-dlp exited with code {status} for {case.url}: "
                             f"{stderr.read().decode(errors='replace').strip()[-1000:]}")

    return BaselineRun(
        seconds=seconds,
        size_bytes=_single_file(directory).stat().st_size,
        peak_rss_bytes=sampler.peak_total_bytes,
    )


def run_baseline_concurrent(case: Case, count: int, scratch: Path) -> ConcurrentRun:
    """Run `count` yt-dlp processes for `case` at the same time, each into its own directory.

    One shell starts them and waits for all, so the whole batch is one process tree to sample.
    """
    directories = [Path(tempfile.mkdtemp(prefix="yt-dlp-", dir=scratch)) for _ in range(count)]
    starts = "".join(
        f'{shlex.join(baseline_command(case, directory))} & pids="$pids $!"\n'
        for directory in directories
    )
    script = starts + 'status=0\nfor pid in $pids; do wait "$pid" || status=1; done\nexit $status\n'
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            ["sh", "-c", script], stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
        with TreeSampler(process.pid) as sampler:
            status = _wait(process)
        seconds = time.perf_counter() - started
        if status != 0:
            stderr.seek(0)
            raise BenchError(f"a yt-dlp of {count} concurrent ones failed for {case.url}: "
                             f"{stderr.read().decode(errors='replace').strip()[-1000:]}")

    return ConcurrentRun(
        count=count,
        seconds=seconds,
        size_bytes=sum(_single_file(directory).stat().st_size for directory in directories),
        peak_rss_bytes=sampler.peak_total_bytes,
    )


def _wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for `process` and return its exit code; kill its session when the wait fails."""
    try:
        return process.wait(BASELINE_TIMEOUT_SECONDS)
    except BaseException:
        # The session contains the yt-dlp processes a shell started and the ffmpeg they run.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def _single_file(directory: Path) -> Path:
    files = [path for path in directory.iterdir() if path.is_file()]
    if len(files) != 1:
        raise BenchError(f"expected one file in {directory}, found {sorted(files)}")
    return files[0]


class FerryClient:
    """Runs imports through Ferry's REST API, polling the status every `poll_interval` s."""

    def __init__(self, base_url: str, api_key: str, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._api = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        # The media URL is presigned, so it must be fetched without the API key.
        self._media = httpx.Client(timeout=HTTP_TIMEOUT_SECONDS)

    def close(self) -> None:
        self._api.close()
        self._media.close()

    def run_import(self, case: Case, scratch: Path) -> FerryRun:
        """Import `case`, fetch the file into `scratch` and return the times of the phases.

        The memory figures and the download time stay empty: they need a TreeSampler around
        the call, as `run_ferry` does.
        """
        started_wall, started = time.time(), time.perf_counter()
        import_id = self._start(case)
        status = self._wait_completed(import_id)
        seen_wall, seen = time.time(), time.perf_counter()
        size = self._fetch(status["mediaUrl"], scratch / f"{import_id}.media")
        done = time.perf_counter()

        created = _epoch(status["createdAt"])
        begun = _epoch(status["startedAt"])
        finished = _epoch(status["finishedAt"])
        return FerryRun(
            seconds=done - started,
            size_bytes=size,
            submit_seconds=created - started_wall,
            queue_seconds=begun - created,
            work_seconds=finished - begun,
            notice_seconds=seen_wall - finished,
            fetch_seconds=done - seen,
        )

    def _start(self, case: Case) -> str:
        response = self._api.post("/import", json={"url": case.url, "format": case.format})
        if response.status_code != 200:
            raise BenchError(f"POST /import for {case.url} returned {response.status_code}: "
                             f"{response.text[:500]}")
        return str(response.json()["data"]["importId"])

    def _wait_completed(self, import_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + IMPORT_TIMEOUT_SECONDS
        while True:
            response = self._api.get("/import/status", params={"id": import_id})
            if response.status_code != 200:
                raise BenchError(f"GET /import/status for {import_id} returned "
                                 f"{response.status_code}: {response.text[:500]}")
            status: dict[str, Any] = response.json()["data"]
            if status["status"] == "completed":
                return status
            if status["status"] == "failed":
                raise BenchError(f"import {import_id} failed: {status.get('message')}")
            if time.monotonic() > deadline:
                raise BenchError(f"import {import_id} did not finish within "
                                 f"{IMPORT_TIMEOUT_SECONDS} s; its last status: {status}")
            time.sleep(self.poll_interval)

    def _fetch(self, media_url: str, target: Path) -> int:
        size = 0
        with self._media.stream("GET", media_url) as response, open(target, "wb") as file:
            if response.status_code != 200:
                raise BenchError(f"GET of the mediaUrl returned {response.status_code}")
            for chunk in response.iter_bytes(_FETCH_CHUNK_BYTES):
                file.write(chunk)
                size += len(chunk)
        return size


def run_ferry(client: FerryClient, case: Case, scratch: Path, importer_pid: int) -> FerryRun:
    """Import `case` through Ferry while sampling the importer's process tree."""
    with TreeSampler(importer_pid) as sampler:
        run = client.run_import(case, scratch)
    return dataclasses.replace(
        run,
        download_seconds=sampler.seconds_alive(FERRY_DOWNLOAD_COMMAND),
        check_seconds=sampler.children_seconds(FERRY_CHECK_PROGRAMS),
        peak_rss_bytes=sampler.peak_total_bytes,
        peak_child_rss_bytes=sampler.peak_descendants_bytes,
    )


def run_ferry_concurrent(
    client: FerryClient, case: Case, count: int, scratch: Path, importer_pid: int
) -> ConcurrentRun:
    """Run `count` imports of `case` at the same time, each from its own thread."""
    with TreeSampler(importer_pid) as sampler, ThreadPoolExecutor(count) as pool:
        started = time.perf_counter()
        runs = list(pool.map(lambda _: client.run_import(case, scratch), range(count)))
        seconds = time.perf_counter() - started
    return ConcurrentRun(
        count=count,
        seconds=seconds,
        size_bytes=sum(run.size_bytes for run in runs),
        peak_rss_bytes=sampler.peak_total_bytes,
    )


def _epoch(timestamp: str) -> float:
    """Return seconds since the epoch for an RFC 3339 time such as 2025-03-01T12:00:00.120Z."""
    return datetime.fromisoformat(timestamp).timestamp()
