"""SIGTERM to an importer in the middle of a download: it finishes the job or hands it back."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable

import pytest
from ferry.importer.v1 import importer_pb2

from services.shared import readiness
from tests import media
from tests.replicas.conftest import Importer, Status, is_final, wait_for_record
from tools.devstack import Stack

pytestmark = pytest.mark.e2e

# Long enough for an importer to notice SIGTERM and hand its job back, far shorter than a
# download of slow.mp4.
SHORT_GRACE_SECONDS = 1
EXIT_TIMEOUT_SECONDS = 20


def is_downloading(record: importer_pb2.Import) -> bool:
    return (
        record.status == Status.IMPORT_STATUS_IMPORTING and record.progress.downloaded_bytes > 0
    )


def terminate(importer: Importer) -> int:
    """Send SIGTERM (again, if it was sent before), wait for the exit and return its code."""
    importer.managed.process.send_signal(signal.SIGTERM)
    try:
        return importer.managed.process.wait(EXIT_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"{importer.name} still runs {EXIT_TIMEOUT_SECONDS} s after SIGTERM"
        ) from None


def test_sigterm_hands_job_to_other_replica(
    replica_stack: Stack,
    start_importer: Callable[..., Importer],
    slow_media_server: media.MediaServer,
):
    account = replica_stack.create_account("sigterm-handback", 1000)
    first = start_importer("first", FERRY_SHUTDOWN_GRACE_SECONDS=str(SHORT_GRACE_SECONDS))
    import_id = first.start_import(account.account_id, slow_media_server.url("slow.mp4"))
    wait_for_record(first, account.account_id, import_id, is_downloading, timeout=30)
    second = start_importer("second")

    code = terminate(first)
    record = wait_for_record(second, account.account_id, import_id, is_final, timeout=60)

    assert code == 0
    assert record.status == Status.IMPORT_STATUS_COMPLETED
    assert record.attempts == 2
    assert import_id not in first.completed_ids()
    assert second.completed_ids() == [import_id]
    assert second.metric("ferry_consumer_redeliveries_total", consumer="importer") == 1


def test_sigterm_finishes_job_within_grace(
    replica_stack: Stack,
    start_importer: Callable[..., Importer],
    slow_media_server: media.MediaServer,
    media_server: media.MediaServer,
):
    account = replica_stack.create_account("sigterm-finish", 1000)
    first = start_importer("first", FERRY_SHUTDOWN_GRACE_SECONDS="60")
    slow_id = first.start_import(account.account_id, slow_media_server.url("slow.mp4"))
    wait_for_record(first, account.account_id, slow_id, is_downloading, timeout=30)
    second = start_importer("second")

    first.managed.process.send_signal(signal.SIGTERM)
    wait_until(lambda: first.health() == "NOT_SERVING", timeout=10, description="NOT_SERVING")
    draining = first.managed.process.poll() is None
    liveness = first.health(readiness.LIVENESS_SERVICE)
    # Work queued while the first importer drains goes to the second one.
    later_id = second.start_import(account.account_id, media_server.url("small.mp4"))
    later = wait_for_record(second, account.account_id, later_id, is_final, timeout=60)
    code = terminate(first)
    slow = second.get_import(account.account_id, slow_id)

    assert draining
    assert liveness == "SERVING"
    assert code == 0
    assert slow.status == Status.IMPORT_STATUS_COMPLETED
    assert slow.attempts == 1
    assert first.completed_ids() == [slow_id]
    assert later.status == Status.IMPORT_STATUS_COMPLETED
    assert second.completed_ids() == [later_id]


def wait_until(condition: Callable[[], bool], timeout: float, description: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{description} did not happen within {timeout} s")
        time.sleep(0.1)
