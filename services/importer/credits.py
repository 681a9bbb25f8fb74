"""Credit holds on the ledger, over gRPC."""

from __future__ import annotations

import grpc
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc

BYTES_PER_CREDIT = 10**6


def credits_for(size_bytes: int) -> int:
    """Return the cost of storing `size_bytes`: one credit per started megabyte, at least 1."""
    return max(1, -(-size_bytes // BYTES_PER_CREDIT))


class CreditHolds:
    """Reserve and release an import's credits; every call is idempotent per import id."""

    def __init__(self, channel: grpc.aio.Channel, timeout_seconds: float) -> None:
        self._stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        self._timeout = timeout_seconds

    async def hold(self, import_id: str, account_id: str, credits: int) -> ledger_pb2.Hold:
        """Make the import's hold at least `credits`; raises InsufficientCredits."""
        request = ledger_pb2.HoldCreditsRequest(
            import_id=import_id, account_id=account_id, credits=credits
        )
        return await self._stub.HoldCredits(request, timeout=self._timeout)

    async def release(self, import_id: str) -> ledger_pb2.Hold:
        """Return the whole hold of `import_id` to the balance."""
        request = ledger_pb2.ReleaseCreditsRequest(import_id=import_id)
        return await self._stub.ReleaseCredits(request, timeout=self._timeout)
