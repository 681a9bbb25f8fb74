"""The benchmark's results: the machine they were measured on, and Markdown tables of medians."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yt_dlp.version

from bench.runners import BaselineRun, Case, ConcurrentRun, FerryRun

MEGABYTE = 10**6
MEBIBYTE = 2**20


@dataclass(frozen=True)
class Machine:
    cpus: int
    cpu_model: str
    memory_bytes: int
    system: str
    python: str
    ytdlp: str
    ffmpeg: str

    @classmethod
    def current(cls) -> Machine:
        """Describe this machine and the versions of the programs the benchmark runs."""
        return cls(
            cpus=os.cpu_count() or 0,
            cpu_model=_proc_field("/proc/cpuinfo", "model name") or platform.processor(),
            memory_bytes=int((_proc_field("/proc/meminfo", "MemTotal") or "0 kB").split()[0])
            * 1024,
            system=f"{platform.system()} {platform.release()}",
            python=platform.python_version(),
            ytdlp=yt_dlp.version.__version__,
            ffmpeg=_ffmpeg_version(),
        )


@dataclass
class CaseResult:
    case: Case
    size_bytes: int = 0
    baseline: list[BaselineRun] = field(default_factory=list)
    ferry: list[FerryRun] = field(default_factory=list)


@dataclass
class ConcurrencyResult:
    case: Case
    baseline: list[ConcurrentRun] = field(default_factory=list)
    ferry: list[ConcurrentRun] = field(default_factory=list)


@dataclass
class Report:
    command: str
    started_at: str
    machine: Machine
    rounds: int
    concurrent_rounds: int
    concurrent_downloads: int
    poll_interval_seconds: float
    importer_concurrency: int
    # The importer's resident memory before the first import, in bytes.
    importer_idle_rss_bytes: int = 0
    duration_seconds: float = 0.0
    # 1-minute load averages, read before every round.
    load_averages: list[float] = field(default_factory=list)
    cases: list[CaseResult] = field(default_factory=list)
    concurrency: list[ConcurrencyResult] = field(default_factory=list)


def render(report: Report) -> str:
    """Return the report as Markdown: the setup, then one table per measurement."""
    sections = [
        _setup(report),
        "### One download at a time\n\n" + _sequential_table(report.cases),
        "### Where Ferry's time goes (medians, seconds)\n\n" + _phase_table(report.cases),
        f"### {report.concurrent_downloads} downloads at once\n\n"
        + _concurrency_table(report.concurrency),
    ]
    return "\n\n".join(sections) + "\n"


def _setup(report: Report) -> str:
    machine = report.machine
    loads = report.load_averages or [0.0]
    return "\n".join([
        f"Command: `{report.command}`, started {report.started_at}, "
        f"took {report.duration_seconds:.0f} s.",
        "",
        f"- Machine: {machine.cpus} CPUs ({machine.cpu_model}), "
        f"{machine.memory_bytes / 2**30:.1f} GiB memory, {machine.system}.",
        f"- Software: Python {machine.python}, yt-dlp {machine.ytdlp}, ffmpeg {machine.ffmpeg}.",
        f"- Load average (1 min) before each round: min {min(loads):.2f}, "
        f"median {statistics.median(loads):.2f}, max {max(loads):.2f}.",
        f"- {report.rounds} timed rounds per case after one warm-up round, the two sides in "
        f"alternating order; {report.concurrent_rounds} round(s) of "
        f"{report.concurrent_downloads} concurrent downloads.",
        f"- Ferry: status polled every {report.poll_interval_seconds:g} s, "
        f"FERRY_IMPORTER_CONCURRENCY={report.importer_concurrency}, "
        f"importer idle RSS {report.importer_idle_rss_bytes / MEBIBYTE:.0f} MiB.",
    ])


def _sequential_table(cases: Sequence[CaseResult]) -> str:
    rows = [
        "| Case | Size | yt-dlp | Ferry | Ferry / yt-dlp | Per-round ratios | Overhead "
        "| yt-dlp peak RSS | Ferry peak RSS | Ferry children peak RSS |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in cases:
        baseline = _median(run.seconds for run in result.baseline)
        ferry = _median(run.seconds for run in result.ferry)
        ratios = [f.seconds / b.seconds for b, f in zip(result.baseline, result.ferry, strict=True)]
        rows.append(
            f"| {result.case.name} | {result.size_bytes / MEGABYTE:.1f} MB "
            f"| {baseline:.2f} s | {ferry:.2f} s | {ferry / baseline:.2f} "
            f"| {min(ratios):.2f} to {max(ratios):.2f} | {ferry - baseline:+.2f} s "
            f"| {_mib(max(run.peak_rss_bytes for run in result.baseline))} "
            f"| {_mib(max(run.peak_rss_bytes for run in result.ferry))} "
            f"| {_mib(max(run.peak_child_rss_bytes for run in result.ferry))} |"
        )
    return "\n".join(rows)


def _phase_table(cases: Sequence[CaseResult]) -> str:
    rows = [
        "| Case | submit | queue | work | of which yt-dlp child | of which ffprobe and ffmpeg "
        "| notice | fetch | total |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in cases:
        runs = result.ferry
        downloads = [run.download_seconds for run in runs if run.download_seconds is not None]
        download = f"{statistics.median(downloads):.2f}" if downloads else "not seen"
        rows.append(
            f"| {result.case.name} | {_median(run.submit_seconds for run in runs):.2f} "
            f"| {_median(run.queue_seconds for run in runs):.2f} "
            f"| {_median(run.work_seconds for run in runs):.2f} | {download} "
            f"| {_median(run.check_seconds for run in runs):.2f} "
            f"| {_median(run.notice_seconds for run in runs):.2f} "
            f"| {_median(run.fetch_seconds for run in runs):.2f} "
            f"| {_median(run.seconds for run in runs):.2f} |"
        )
    return "\n".join(rows)


def _concurrency_table(results: Sequence[ConcurrencyResult]) -> str:
    rows = [
        "| Case | yt-dlp | Ferry | Ferry / yt-dlp | yt-dlp downloads/min | Ferry imports/min "
        "| yt-dlp peak RSS | Ferry peak RSS |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        baseline = _median(run.seconds for run in result.baseline)
        ferry = _median(run.seconds for run in result.ferry)
        count = result.baseline[0].count
        rows.append(
            f"| {result.case.name} | {baseline:.2f} s | {ferry:.2f} s | {ferry / baseline:.2f} "
            f"| {60 * count / baseline:.1f} | {60 * count / ferry:.1f} "
            f"| {_mib(max(run.peak_rss_bytes for run in result.baseline))} "
            f"| {_mib(max(run.peak_rss_bytes for run in result.ferry))} |"
        )
    return "\n".join(rows)


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _mib(size: int) -> str:
    return f"{size / MEBIBYTE:.0f} MiB"


def _proc_field(path: str, name: str) -> str:
    """Return the value of the first `name: value` line of a /proc file, or ""."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def _ffmpeg_version() -> str:
    try:
        output = subprocess.run(
            ["ffmpeg", "-version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "not found"
    # "ffmpeg version 5.1.6-0+deb12u1 Copyright ..."
    words = output.split()
    return words[2] if len(words) > 2 else output.strip()
