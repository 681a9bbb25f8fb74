"""The benchmark's measurement helpers on one small case; no timing assertions."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procfs import TreeSampler
from bench.report import CaseResult, Machine, Report, render
from bench.runners import Case, FerryRun, run_baseline, run_baseline_concurrent
from tests import media


@pytest.fixture(scope="module")
def clip_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    directory = tmp_path_factory.mktemp("bench-media")
    clip = media.make_mp4(directory, seconds=1)
    with media.serve_media(directory) as server:
        yield Case("clip", server.url(clip), "720p", "a one-second MP4")


def test_baseline_writes_whole_file(clip_case: Case, tmp_path: Path) -> None:
    run = run_baseline(clip_case, tmp_path)

    downloaded = list(tmp_path.glob("yt-dlp-*/media.mp4"))
    assert len(downloaded) == 1
    assert run.size_bytes == downloaded[0].stat().st_size
    assert run.peak_rss_bytes > 0


def test_baseline_concurrent_counts_every_file(clip_case: Case, tmp_path: Path) -> None:
    single = run_baseline(clip_case, tmp_path)

    batch = run_baseline_concurrent(clip_case, 2, tmp_path)

    assert batch.size_bytes == 2 * single.size_bytes
    assert batch.peak_rss_bytes > single.peak_rss_bytes / 2


def test_sampler_sees_exec_child() -> None:
    process = subprocess.Popen(["sh", "-c", "sleep 0.5; true"])
    with TreeSampler(process.pid, interval=0.01) as sampler:
        process.wait()

    assert sampler.seconds_alive("sleep") is not None
    assert sampler.peak_descendants_bytes > 0


def test_render_lists_each_case(clip_case: Case, tmp_path: Path) -> None:
    baseline = run_baseline(clip_case, tmp_path)
    ferry = FerryRun(seconds=2.0, size_bytes=baseline.size_bytes, submit_seconds=0.1,
                     queue_seconds=0.1, work_seconds=1.6, notice_seconds=0.1, fetch_seconds=0.1)
    report = Report(command="bench", started_at="now", machine=Machine.current(), rounds=1,
                    concurrent_rounds=0, concurrent_downloads=4, poll_interval_seconds=0.1,
                    importer_concurrency=4, load_averages=[1.0])
    report.cases.append(CaseResult(clip_case, baseline.size_bytes, [baseline], [ferry]))

    text = render(report)

    assert f"| clip | {baseline.size_bytes / 10**6:.1f} MB |" in text
    # No sample caught the importer's yt-dlp child, so its time is not made up.
    assert "| 1.60 | not seen | 0.00 |" in text
    assert "Python 3." in text
