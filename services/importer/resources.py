"""Limits of one import's file size, and the temporary disk that the jobs of a process share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SizeLimit:
    """The largest file an import may store, and a description of the limit that sets it."""

    max_bytes: int
    # Names the limit and its value for the failure message, such as
    # "the account's maximum file size of 100 MB".
    description: str


def size_limit(balance_bytes: int, account_bytes: int, disk_bytes: int) -> SizeLimit:
    """Return the smallest of the limits; `account_bytes` 0 means the ledger sent none."""
    limits = [
        SizeLimit(balance_bytes, f"the {_megabytes(balance_bytes)} your credit balance covers"),
        SizeLimit(disk_bytes, f"this importer's temporary disk limit of {_megabytes(disk_bytes)} "
                              "(FERRY_IMPORTER_TMP_MAX_BYTES, halved for merging)"),
    ]
    if account_bytes > 0:
        text = f"the account's maximum file size of {_megabytes(account_bytes)}"
        limits.append(SizeLimit(account_bytes, text))
    return min(limits, key=lambda limit: limit.max_bytes)


def _megabytes(size: int) -> str:
    return f"{size // 10**6} MB"


class DiskBudget:
    """Reservations of temporary disk space; a job waits until its reservation fits.

    A reservation larger than the whole budget is cut to the budget, so one job always
    runs alone.
    """

    def __init__(self, capacity_bytes: int) -> None:
        self._capacity = capacity_bytes
        self._reserved = 0
        self._changed = asyncio.Condition()

    @property
    def reserved(self) -> int:
        return self._reserved

    @contextlib.asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[None]:
        """Hold `size` bytes of the budget for the block, waiting while they don't fit."""
        size = min(size, self._capacity)
        async with self._changed:
            if self._reserved + size > self._capacity:
                logger.info("waiting for %d bytes of temporary disk; %d of %d reserved",
                            size, self._reserved, self._capacity)
            await self._changed.wait_for(lambda: self._reserved + size <= self._capacity)
            self._reserved += size
        try:
            yield
        finally:
            async with self._changed:
                self._reserved -= size
                self._changed.notify_all()
