"""Compare Ferry with plain yt-dlp: the same downloads, measured in the same run.

`.venv/bin/python -m bench.compare_ytdlp [--quick]` generates the media, serves it from
127.0.0.1, starts the whole stack, then times each case with the yt-dlp command line and
with an import through Ferry's REST API, one at a time and several at once. It prints the
results as Markdown (docs/benchmarks.md explains them).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from ferry.ledger.v1 import ledger_pb2

from bench.procfs import rss_bytes
from bench.report import CaseResult, ConcurrencyResult, Machine, Report, render
from bench.runners import (
    BenchError,
    Case,
    FerryClient,
    run_baseline,
    run_baseline_concurrent,
    run_ferry,
    run_ferry_concurrent,
)
from tests import media
from tools.devstack import Stack
from tools.launch import LaunchError, free_port

logger = logging.getLogger("bench")

DEFAULT_WORK_DIR = Path("data/bench")
FULL_ROUNDS = 7
QUICK_ROUNDS = 3
FULL_CONCURRENT_ROUNDS = 3
QUICK_CONCURRENT_ROUNDS = 2
CONCURRENT_DOWNLOADS = 4
# A status poll every 100 ms sees a finished import within about that long. The account
# gets a higher status limit than the default of 3,600 an hour, which suits one poll a second.
POLL_INTERVAL_SECONDS = 0.1
# Enough that holds (100 credits each while an import runs) never run out.
ACCOUNT_CREDITS = 1_000_000
ACCOUNT_LIMITS = ledger_pb2.LimitsUpdate(
    imports_per_hour=100_000,
    concurrent_imports=CONCURRENT_DOWNLOADS,
    status_per_hour=10_000_000,
)

# yt-dlp merges the HLS cases into MKV, and Ferry copies the streams into MP4 (its container
# for H.264 with AAC), which changes the size by a few kB. A larger difference than this
# fraction means that the two sides downloaded different formats.
SIZE_TOLERANCE = 0.05

QUICK_CASES = ("mp4-3mb", "hls-720p")
FULL_CASES = ("mp4-3mb", "hls-720p", "hls-1080p", "mp4-40mb")
QUICK_CONCURRENT_CASES = ("mp4-3mb",)
FULL_CONCURRENT_CASES = ("mp4-3mb", "hls-720p")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    arguments = _parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per status poll
    # SIGTERM unwinds like Ctrl-C, so the stack and the media server are stopped.
    signal.signal(signal.SIGTERM, _interrupt)

    work_dir = arguments.work_dir.resolve()
    scratch = work_dir / "downloads"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    report = Report(
        command=shlex.join([".venv/bin/python", "-m", "bench.compare_ytdlp", *argv]),
        started_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=Machine.current(),
        rounds=arguments.rounds or (QUICK_ROUNDS if arguments.quick else FULL_ROUNDS),
        concurrent_rounds=arguments.concurrent_rounds
        or (QUICK_CONCURRENT_ROUNDS if arguments.quick else FULL_CONCURRENT_ROUNDS),
        concurrent_downloads=CONCURRENT_DOWNLOADS,
        poll_interval_seconds=arguments.poll_interval,
        importer_concurrency=CONCURRENT_DOWNLOADS,
    )

    started = time.monotonic()
    try:
        _run(report, arguments.quick, work_dir, scratch)
    except (BenchError, LaunchError, media.MediaError) as error:
        logger.error("benchmark failed: %s", error)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.duration_seconds = time.monotonic() - started

    text = render(report)
    print(text, end="")
    if arguments.output:
        arguments.output.write_text(text)
        logger.info("wrote %s", arguments.output)
    if arguments.json:
        arguments.json.write_text(json.dumps(asdict(report), indent=2) + "\n")
        logger.info("wrote %s", arguments.json)
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare_ytdlp", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true",
                        help=f"measure only {', '.join(QUICK_CASES)}, {QUICK_ROUNDS} rounds each "
                             "(about 2 minutes)")
    parser.add_argument("--rounds", type=_positive_int, default=0,
                        help=f"timed rounds per case (default {FULL_ROUNDS}, "
                             f"{QUICK_ROUNDS} with --quick)")
    parser.add_argument("--concurrent-rounds", type=_positive_int, default=0,
                        help=f"rounds of {CONCURRENT_DOWNLOADS} concurrent downloads per case "
                             f"(default {FULL_CONCURRENT_ROUNDS}, "
                             f"{QUICK_CONCURRENT_ROUNDS} with --quick)")
    parser.add_argument("--poll-interval", type=float, default=POLL_INTERVAL_SECONDS,
                        help="seconds between two status polls of one import "
                             f"(default {POLL_INTERVAL_SECONDS})")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR,
                        help="directory for the generated media (kept and reused), the stack's "
                             f"data and logs, and the downloads (default {DEFAULT_WORK_DIR})")
    parser.add_argument("--output", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--json", type=Path, help="write every measured run to this JSON file")
    return parser.parse_args(argv)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number; pass 1 or more")
    return value


def _run(report: Report, quick: bool, work_dir: Path, scratch: Path) -> None:
    media_dir = work_dir / "media"
    logger.info("generating the media in %s (reused when it exists)", media_dir)
    files = _make_media(media_dir, quick)

    with media.serve_media(media_dir) as server, _start_stack(work_dir / "stack") as stack:
        cases = _cases(files, server)
        account = stack.create_account("bench", ACCOUNT_CREDITS, ACCOUNT_LIMITS)
        client = FerryClient(stack.gateway_url, account.api_key, report.poll_interval_seconds)
        importer_pid = stack.processes["importer"].process.pid
        report.importer_idle_rss_bytes = rss_bytes(importer_pid)
        try:
            for name in QUICK_CASES if quick else FULL_CASES:
                report.cases.append(
                    _measure_case(report, cases[name], client, scratch, importer_pid)
                )
            for name in QUICK_CONCURRENT_CASES if quick else FULL_CONCURRENT_CASES:
                report.concurrency.append(
                    _measure_concurrency(report, cases[name], client, scratch, importer_pid)
                )
        finally:
            client.close()


def _make_media(directory: Path, quick: bool) -> dict[str, Path]:
    files = {
        # Noise defeats compression, so 10 s at 2.4 Mbit/s make about 3 MB.
        "mp4": media.make_mp4(directory, name="direct-3mb.mp4", seconds=10, size="640x360",
                              video_bitrate="2400k"),
        # Ten one-second segments per rendition, so the HLS cases fetch 24 files each.
        "hls": media.make_hls(directory / "hls-10s", seconds=10),
    }
    if not quick:
        files["mp4-large"] = media.make_mp4(
            directory, name="direct-40mb.mp4", seconds=20, size="1280x720", video_bitrate="16M"
        )
    return files


def _cases(files: dict[str, Path], server: media.MediaServer) -> dict[str, Case]:
    cases = [
        Case("mp4-3mb", server.url(files["mp4"]), "720p",
             "a progressive MP4 (H.264 and AAC, 640x360) of about 3 MB"),
        Case("hls-720p", server.url(files["hls"]), "720p",
             "the 720p rendition of an HLS stream, merged with its separate audio rendition"),
        Case("hls-1080p", server.url(files["hls"]), "1080p",
             "the 1080p rendition of the same HLS stream, merged with its audio"),
    ]
    if "mp4-large" in files:
        cases.append(Case("mp4-40mb", server.url(files["mp4-large"]), "720p",
                          "a progressive MP4 (1280x720) of about 40 MB"))
    return {case.name: case for case in cases}


def _start_stack(data_dir: Path) -> Stack:
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {
        "FERRY_ALLOW_PRIVATE_URLS": "1",
        "FERRY_IMPORTER_CONCURRENCY": str(CONCURRENT_DOWNLOADS),
        "FERRY_GATEWAY_PORT": str(free_port()),
        # The stack starts its own S3 server even when the shell names another one.
        "FERRY_S3_ENDPOINT": "",
    }
    logger.info("starting the stack; its logs go to %s", data_dir / "logs")
    return Stack(data_dir, env, stop_grace=5)


def _measure_case(
    report: Report, case: Case, client: FerryClient, scratch: Path, importer_pid: int
) -> CaseResult:
    logger.info("%s: %s, selector %s", case.name, case.description, case.selector)
    result = CaseResult(case)

    def baseline() -> None:
        run = run_baseline(case, scratch)
        result.baseline.append(run)
        result.size_bytes = run.size_bytes

    def ferry() -> None:
        result.ferry.append(run_ferry(client, case, scratch, importer_pid))

    # The first import of a case loads code and fills caches on both sides.
    run_baseline(case, scratch)
    run_ferry(client, case, scratch, importer_pid)
    _clear(scratch)
    for round_number in range(report.rounds):
        report.load_averages.append(os.getloadavg()[0])
        _in_turns(round_number, baseline, ferry)
        _clear(scratch)
        logger.info("%s round %d of %d: yt-dlp %.2f s, Ferry %.2f s", case.name,
                    round_number + 1, report.rounds, result.baseline[-1].seconds,
                    result.ferry[-1].seconds)

    stored = result.ferry[-1].size_bytes
    if abs(stored - result.size_bytes) > SIZE_TOLERANCE * result.size_bytes:
        # Both sides run the same selector and merge format, so a large difference means
        # the two downloaded different formats and the comparison is off.
        logger.warning("%s: Ferry stored %d bytes, but yt-dlp wrote %d", case.name, stored,
                       result.size_bytes)
    return result


def _measure_concurrency(
    report: Report, case: Case, client: FerryClient, scratch: Path, importer_pid: int
) -> ConcurrencyResult:
    count = report.concurrent_downloads
    result = ConcurrencyResult(case)

    def baseline() -> None:
        result.baseline.append(run_baseline_concurrent(case, count, scratch))

    def ferry() -> None:
        result.ferry.append(run_ferry_concurrent(client, case, count, scratch, importer_pid))

    for round_number in range(report.concurrent_rounds):
        report.load_averages.append(os.getloadavg()[0])
        _in_turns(round_number, baseline, ferry)
        _clear(scratch)
        logger.info("%s, %d at once, round %d of %d: yt-dlp %.2f s, Ferry %.2f s", case.name,
                    count, round_number + 1, report.concurrent_rounds,
                    result.baseline[-1].seconds, result.ferry[-1].seconds)
    return result


def _in_turns(round_number: int, baseline: Callable[[], None], ferry: Callable[[], None]) -> None:
    """Run both sides, yt-dlp first in even rounds and Ferry first in odd ones.

    Alternating spreads a slow stretch of the shared machine over both sides.
    """
    first, second = (baseline, ferry) if round_number % 2 == 0 else (ferry, baseline)
    first()
    second()


def _clear(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)


if __name__ == "__main__":
    sys.exit(main())
