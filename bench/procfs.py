"""Resident memory of a process tree, sampled from /proc in a background thread (Linux only)."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
# 20 ms catches the yt-dlp process and the merging ffmpeg, which live for a second or more.
# A process that lives for less than one interval (a short ffprobe) may be missed.
SAMPLE_INTERVAL_SECONDS = 0.02


def descendants(pid: int) -> list[tuple[int, int]]:
    """Return (process id, parent id) of every living descendant of `pid`, parents first."""
    found: list[tuple[int, int]] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        # Each thread lists the children it forked, so read every thread's list.
        try:
            threads = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for thread in threads:
            try:
                text = Path(f"/proc/{parent}/task/{thread}/children").read_text()
            except OSError:
                continue
            children = [int(child) for child in text.split()]
            found += [(child, parent) for child in children]
            pending += children
    return found


def rss_bytes(pid: int) -> int:
    """Return the resident set size of `pid` in bytes, or 0 when it has exited."""
    try:
        # The second field of statm is the resident size in pages.
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def parent_pid(pid: int) -> int:
    """Return the parent's id of `pid`, or 0 when it has exited."""
    try:
        # The command name in field 2 may contain spaces, but it ends with the last ")".
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def command_line(pid: int) -> str:
    """Return the command line of `pid` with spaces between arguments, or "" once it exited."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


@dataclass
class Lifetime:
    """When a descendant process was first and last seen, in `time.perf_counter()` seconds."""

    command: str
    parent: int
    first_seen: float
    last_seen: float


@dataclass
class TreeSampler:
    """Sample the resident memory of `pid` and of its descendants until the block ends.

    The peaks are sums over the processes alive at the same sample, so a tree of yt-dlp
    and ffmpeg counts both, and pages they share count in each. A process whose command
    line still equals its parent's has forked but not yet called exec: its resident pages
    are the parent's, so it counts as 0.
    """

    pid: int
    interval: float = SAMPLE_INTERVAL_SECONDS
    peak_total_bytes: int = 0
    peak_root_bytes: int = 0
    peak_descendants_bytes: int = 0
    samples: int = 0
    lifetimes: dict[int, Lifetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._root_parent = parent_pid(self.pid)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join()

    def sample(self) -> None:
        """Read the tree's memory once and update the peaks and the lifetimes."""
        now = time.perf_counter()
        commands = {self.pid: command_line(self.pid)}
        root = 0 if commands[self.pid] == command_line(self._root_parent) else rss_bytes(self.pid)
        children = 0
        for child, parent in descendants(self.pid):
            commands[child] = command_line(child)
            if commands[child] in ("", commands.get(parent)):
                continue  # exited, or not yet exec'd
            children += rss_bytes(child)
            if child in self.lifetimes:
                self.lifetimes[child].last_seen = now
            else:
                self.lifetimes[child] = Lifetime(commands[child], parent, now, now)
        self.peak_root_bytes = max(self.peak_root_bytes, root)
        self.peak_descendants_bytes = max(self.peak_descendants_bytes, children)
        self.peak_total_bytes = max(self.peak_total_bytes, root + children)
        self.samples += 1

    def seconds_alive(self, command_part: str) -> float | None:
        """Return how long descendants whose command line contains `command_part` were seen.

        Several such processes count from the first one's start to the last one's end.
        None when no sample saw one.
        """
        matching = [life for life in self.lifetimes.values() if command_part in life.command]
        if not matching:
            return None
        return max(life.last_seen for life in matching) - min(life.first_seen for life in matching)

    def children_seconds(self, programs: tuple[str, ...]) -> float:
        """Return the summed lifetimes of the root's own children that run one of `programs`.

        Each lifetime runs from the first to the last sample that saw the process, so it
        falls short by up to two intervals, and a process shorter than one may be missed.
        """
        return sum(
            life.last_seen - life.first_seen
            for life in self.lifetimes.values()
            if life.parent == self.pid and Path(life.command.split(" ", 1)[0]).name in programs
        )

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.sample()
