"""The webhook delivery log: every attempt per import, in the deliveries key-value bucket.

The value under an import id (or a metadata job id) is JSON: `{"accountId": ...,
"event": {"kind": "import" or "metadata", "data": <base64 protobuf>}, "log":
<ListDeliveriesResponse in protobuf's JSON mapping>}`. The account id is stored so that
reads raise NotFound for another account's import, and the latest event so that it can
be redelivered. Writers append with optimistic concurrency (update at the revision they
read), so concurrent attempts never overwrite each other.

Each entry expires `ttl_seconds` after its last write, which the bucket's max age enforces.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from ferry.events.v1 import events_pb2
from ferry.notifier.v1 import notifier_pb2
from google.protobuf import json_format
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import InvalidKeyError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from services.notifier.payload import SourceEvent
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
    async def open(
        cls, js: JetStreamContext, ttl_seconds: float, replicas: int = 1
    ) -> DeliveryLog:
        """Create or update the bucket, keeping entries `ttl_seconds`, and bind to it."""
        config = KeyValueConfig(
            bucket=bus.DELIVERIES_BUCKET,
            history=1,
            ttl=ttl_seconds,
            storage=StorageType.FILE,
            replicas=replicas,
        )
        await bus.ensure_bucket(js, config)
        return cls(await js.key_value(bus.DELIVERIES_BUCKET))

    async def append(
        self,
        import_id: str,
        account_id: str,
        attempt: notifier_pb2.DeliveryAttempt,
        event: SourceEvent,
    ) -> None:
        """Add `attempt` to the end of the import's log and keep `event` as its latest event."""
        for write in range(1, MAX_WRITE_ATTEMPTS + 1):
            revision, log = await self._read(import_id)
            log.attempts.append(attempt)
            value = _encode(account_id, log, event)
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
        wrapper = await self._read_wrapper_for_account(account_id, import_id)
        return _decode_log(wrapper)

    async def latest_event(self, account_id: str, import_id: str) -> SourceEvent:
        """Return the last event delivered for the account's import; raise NotFound if none."""
        wrapper = await self._read_wrapper_for_account(account_id, import_id)
        stored = wrapper.get("event")
        if not stored:
            # Entries written before events were stored have none to send again.
            raise NotFound(
                f"the webhook event of import {import_id!r} is no longer stored, so it "
                "can't be redelivered",
                import_id=import_id,
            )
        return _decode_event(stored)

    async def _read_wrapper_for_account(self, account_id: str, import_id: str) -> dict[str, Any]:
        not_found = NotFound(
            f"no webhook deliveries recorded for import {import_id!r}; check the import id "
            "and that the import has a webhook URL and has finished",
            import_id=import_id,
        )
        try:
            entry = await self._kv.get(import_id)
        except (KeyNotFoundError, InvalidKeyError):
            raise not_found from None

        wrapper: dict[str, Any] = json.loads(entry.value or b"{}")
        if wrapper.get("accountId") != account_id:
            raise not_found
        return wrapper

    async def _read(self, import_id: str) -> tuple[int | None, notifier_pb2.ListDeliveriesResponse]:
        try:
            entry = await self._kv.get(import_id)
        except KeyNotFoundError:
            return None, notifier_pb2.ListDeliveriesResponse()
        return entry.revision, _decode_log(json.loads(entry.value or b"{}"))


def _encode(
    account_id: str, log: notifier_pb2.ListDeliveriesResponse, event: SourceEvent
) -> bytes:
    kind = "import" if isinstance(event, events_pb2.ImportEvent) else "metadata"
    wrapper = {
        "accountId": account_id,
        "event": {"kind": kind, "data": base64.b64encode(event.SerializeToString()).decode()},
        "log": json_format.MessageToDict(log),
    }
    return json.dumps(wrapper, separators=(",", ":")).encode()


def _decode_log(wrapper: dict[str, Any]) -> notifier_pb2.ListDeliveriesResponse:
    return json_format.ParseDict(wrapper.get("log", {}), notifier_pb2.ListDeliveriesResponse())


def _decode_event(stored: dict[str, str]) -> SourceEvent:
    data = base64.b64decode(stored["data"])
    if stored["kind"] == "import":
        return events_pb2.ImportEvent.FromString(data)
    return events_pb2.MetadataEvent.FromString(data)
