"""Cancel imports: mark the record, then tell the worker that runs the job to stop it.

The record is the source of truth: CancelImport stores CANCELLED first and then
publishes the import id on a core NATS subject that every worker subscribes to. A worker
that runs the import cancels its task, which kills the yt-dlp child. A worker that takes
the job later reads the CANCELLED record and drops the job, so a queued import needs no
message at all.
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from services.shared import bus

logger = logging.getLogger(__name__)


class ImportCancelled(Exception):
    """The running import was cancelled by DELETE /import."""


async def announce(client: Client, import_id: str) -> None:
    """Tell every worker that `import_id` was cancelled."""
    await client.publish(bus.IMPORT_CANCEL_SUBJECT, import_id.encode())
    await client.flush()


class RunningImports:
    """The imports this process runs, so a cancellation can reach their tasks."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cancelled: set[str] = set()
        self._subscription: Subscription | None = None
        self._client: Client | None = None

    async def listen(self, client: Client) -> None:
        """Subscribe to cancellations."""
        self._client = client
        self._subscription = await client.subscribe(bus.IMPORT_CANCEL_SUBJECT, cb=self._on_cancel)

    async def close(self) -> None:
        """Unsubscribe; after a drain or close of the connection there is nothing to do."""
        subscription, self._subscription = self._subscription, None
        client = self._client
        if subscription is not None and client is not None and not (
            client.is_closed or client.is_draining
        ):
            await subscription.unsubscribe()

    async def run(self, import_id: str, work: asyncio.Task[None]) -> None:
        """Await `work`; raise ImportCancelled when a cancellation stopped it."""
        self._tasks[import_id] = work
        try:
            await work
        except asyncio.CancelledError:
            if import_id in self._cancelled and not _cancelling(asyncio.current_task()):
                raise ImportCancelled(import_id) from None
            raise
        finally:
            self._tasks.pop(import_id, None)
            self._cancelled.discard(import_id)

    def cancel(self, import_id: str) -> bool:
        """Cancel the task of `import_id` if it runs here; return whether it did."""
        task = self._tasks.get(import_id)
        if task is None or task.done():
            return False
        self._cancelled.add(import_id)
        task.cancel()
        logger.info("cancelling the running import %s", import_id)
        return True

    async def _on_cancel(self, message: Msg) -> None:
        self.cancel(message.data.decode())


def _cancelling(task: asyncio.Task[object] | None) -> bool:
    """Tell whether the awaiting task itself is being cancelled (a shutdown, not a cancel)."""
    return task is not None and task.cancelling() > 0
