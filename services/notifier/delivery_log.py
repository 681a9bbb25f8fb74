"""The webhook delivery log: every attempt per import, in the deliveries key-value bucket.

The value under an import id is JSON: `{"accountId": ..., "log": <ListDeliveriesResponse
in protobuf's JSON mapping>}`. The account id is stored so that `read_for_account` can
raise NotFound for another account's import. Writers append with optimistic concurrency
(update at the revision they read), so concurrent attempts never overwrite each other.
"""

from __future__ import annotations

import json
import logging

from ferry.notifier.v1 import notifier_pb2
from google.protobuf import json_format
from nats.js import JetStreamContext
from nats.js.errors import InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from services.shared import bus
from services.shared.errors import NotFound, Unavailable

logger = logging.getLogger(__name__)

# Concurrent writers to one import's log are rare (one event per status), so a few
# retries on a revision conflict are plenty.
MAX_WRITE_ATTEMPTS = 10


class DeliveryLog:
    """Append and list webhook delivery attempts per import."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> DeliveryLog:
        """Bind to the deliveries bucket, which `bus.ensure_streams` creates."""
        return cls(await js.key_value(bus.DELIVERIES_BUCKET))

    async def append(
        self, import_id: str, account_id: str, attempt: notifier_pb2.DeliveryAttempt
    ) -> None:
        """Add `attempt` to the end of the import's log."""
        for write in range(1, MAX_WRITE_ATTEMPTS + 1):
            revision, log = await self._read(import_id)
            log.attempts.append(attempt)
            value = _encode(account_id, log)
            try:
                if revision is None:
                    await self._kv.create(import_id, value)
                else:
                    await self._kv.update(import_id, value, last=revision)
                return
            except KeyWrongLastSequenceError:
                logger.info(
                    "delivery log of %s changed while writing (write %d of %d); retrying",
                    import_id,
                    write,
                    MAX_WRITE_ATTEMPTS,
                )
        raise Unavailable(
            f"could not append to the delivery log of import {import_id} after "
            f"{MAX_WRITE_ATTEMPTS} conflicting writes; the delivery will be retried",
            import_id=import_id,
        )

    async def attempts(self, import_id: str) -> list[notifier_pb2.DeliveryAttempt]:
        """Return the import's attempts, oldest first; an empty list when none is stored."""
        _, log = await self._read(import_id)
        return list(log.attempts)

    async def read_for_account(
        self, account_id: str, import_id: str
    ) -> notifier_pb2.ListDeliveriesResponse:
        """Return the account's log for the import; raise NotFound for any other import."""
        not_found = NotFound(
            f"no webhook deliveries recorded for import {import_id!r}; check the import id "
            "and that the import has a webhook URL and has finished",
            import_id=import_id,
        )
        try:
            entry = await self._kv.get(import_id)
        except (KeyNotFoundError, InvalidKeyError):
            raise not_found from None

        owner, log = _decode(entry.value or b"")
        if owner != account_id:
            raise not_found
        return log

    async def _read(self, import_id: str) -> tuple[int | None, notifier_pb2.ListDeliveriesResponse]:
        try:
            entry = await self._kv.get(import_id)
        except KeyNotFoundError:
            return None, notifier_pb2.ListDeliveriesResponse()
        _, log = _decode(entry.value or b"")
        return entry.revision, log


def _encode(account_id: str, log: notifier_pb2.ListDeliveriesResponse) -> bytes:
    wrapper = {"accountId": account_id, "log": json_format.MessageToDict(log)}
    return json.dumps(wrapper, separators=(",", ":")).encode()


def _decode(value: bytes) -> tuple[str, notifier_pb2.ListDeliveriesResponse]:
    wrapper = json.loads(value)
    log = json_format.ParseDict(wrapper["log"], notifier_pb2.ListDeliveriesResponse())
    return wrapper["accountId"], log
