"""Credit holds on the ledger, over gRPC, and the hold's resizing while yt-dlp downloads."""

from __future__ import annotations

import logging
import time

import grpc
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc

from services.shared.errors import FerryError, InsufficientCredits, Unavailable

logger = logging.getLogger(__name__)

BYTES_PER_CREDIT = 10**6
# Minimum time between two growths of a hold. The reported size keeps changing for HLS,
# because yt-dlp extrapolates it from the fragments downloaded so far.
RESIZE_INTERVAL_SECONDS = 1.0


def credits_for(size_bytes: int) -> int:
    """Return the cost of storing `size_bytes`: one credit per started megabyte, at least 1."""
    return max(1, -(-size_bytes // BYTES_PER_CREDIT))


class CreditHolds:
    """Reserve and release an import's credits; every call is idempotent per import id."""

    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float) -> None:
        self._stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        self._timeout = timeout_seconds

    async def hold(
        self, import_id: str, account_id: str, credits: int, *, take_slot: bool = False
    ) -> ledger_pb2.Hold:
        """Make the import's hold at least `credits`; raises InsufficientCredits.

        With `take_slot`, the first hold also takes one of the account's concurrent import
        slots and raises RateLimited when none is free.
        """
        request = ledger_pb2.HoldCreditsRequest(
            import_id=import_id, account_id=account_id, credits=credits,
            take_import_slot=take_slot,
        )
        return await self._stub.HoldCredits(request, timeout=self._timeout)

    async def resize(self, import_id: str, credits: int) -> ledger_pb2.Hold:
        """Set the import's hold to exactly `credits`; raises InsufficientCredits."""
        request = ledger_pb2.ResizeHoldRequest(import_id=import_id, credits=credits)
        return await self._stub.ResizeHold(request, timeout=self._timeout)

    async def release(self, import_id: str) -> ledger_pb2.Hold:
        """Return the whole hold of `import_id` to the balance."""
        request = ledger_pb2.ReleaseCreditsRequest(import_id=import_id)
        return await self._stub.ReleaseCredits(request, timeout=self._timeout)


class HoldResizer:
    """Bring an import's hold in line with the size yt-dlp reports while it downloads.

    The first report replaces the estimate held at StartImport, shrinking or growing the
    hold; later reports only grow it. The resizing is advisory: when the balance can't
    cover a larger hold, the download goes on and the worker's final hold, for the real
    size, decides whether the import can be paid for.
    """

    def __init__(self, holds: CreditHolds, import_id: str) -> None:
        self._holds = holds
        self._import_id = import_id
        self._credits = 0
        self._last_resize = 0.0
        self._stopped = False

    async def observe(self, total_bytes: int) -> None:
        """Resize the hold for a reported size of `total_bytes` (0 when unknown)."""
        if self._stopped or total_bytes <= 0:
            return
        credits = credits_for(total_bytes)
        first = self._credits == 0
        if not first and credits <= self._credits:
            return
        if not first and time.monotonic() - self._last_resize < RESIZE_INTERVAL_SECONDS:
            return

        self._last_resize = time.monotonic()
        try:
            hold = await self._holds.resize(self._import_id, credits)
        except InsufficientCredits as error:
            logger.warning("could not resize the hold to %d credits for the reported size of "
                           "%d bytes: %s", credits, total_bytes, error.message)
            self._stopped = True
            return
        except Unavailable as error:
            logger.warning("could not resize the hold, the ledger is unavailable: %s; "
                           "trying again on the next size report", error.message)
            return
        except FerryError as error:
            logger.error("could not resize the hold: %s (%s); keeping it as it is",
                         error.message, error.code)
            self._stopped = True
            return
        self._credits = hold.credits
        logger.info("hold resized to %d credits for a reported size of %d bytes",
                    hold.credits, total_bytes)
