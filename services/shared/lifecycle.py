"""Process lifecycle: wait for SIGTERM or SIGINT, then shut down in order."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from services.shared.config import setting

logger = logging.getLogger(__name__)


def install_stop_handlers() -> asyncio.Event:
    """Return an event that is set when the process receives SIGTERM or SIGINT."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop(signum: int) -> None:
        logger.info("received %s; shutting down", signal.Signals(signum).name)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, request_stop, signum)
    return stopping


@dataclass(frozen=True)
class ShutdownSettings:
    grace_seconds: float = setting(
        "FERRY_SHUTDOWN_GRACE_SECONDS",
        20.0,
        "Seconds a stopping service gives running requests and jobs to finish; jobs still "
        "running then go back to the queue. Keep it below the pod's "
        "terminationGracePeriodSeconds.",
    )
