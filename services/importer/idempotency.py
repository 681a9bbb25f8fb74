"""Idempotency keys of StartImport, kept for 24 hours in a JetStream key-value bucket.

Every importer replica, and so every gateway replica behind them, sees the same bucket.
An entry is created before the import exists, so two concurrent requests with one key
can't both start an import: the second finds the entry and waits for its import id.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass

from ferry.importer.v1 import importer_pb2
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from services.shared import bus
from services.shared.errors import Conflict, InvalidRequest, Unprocessable

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
# How long a retry waits for the first request with the same key to create its import.
PENDING_WAIT_SECONDS = 5.0
PENDING_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: an existing import, or the right to start one."""

    entry_key: str
    revision: int
    existing_import_id: str = ""


def fingerprint(request: importer_pb2.StartImportRequest) -> str:
    """Return a SHA-256 of the request without its account and key: equal for equal bodies."""
    body = importer_pb2.StartImportRequest()
    body.CopyFrom(request)
    body.account_id = ""
    body.idempotency_key = ""
    return hashlib.sha256(body.SerializeToString(deterministic=True)).hexdigest()


class IdempotencyKeys:
    """Map (account, Idempotency-Key) to the import the first request created."""

    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self._bucket: KeyValue | None = None

    async def _kv(self) -> KeyValue:
        """Bind to the bucket on first use; `bus.ensure_streams` creates it."""
        if self._bucket is None:
            self._bucket = await self._js.key_value(bus.IDEMPOTENCY_BUCKET)
        return self._bucket

    async def claim(self, account_id: str, key: str, request_hash: str) -> Claim:
        """Claim `key` for a new import, or return the import an earlier request made.

        Raises Unprocessable when the key was used with another request body, and
        Conflict when the first request is still starting its import after a wait.
        """
        _validate(key)
        entry_key = f"{account_id}.{hashlib.sha256(key.encode()).hexdigest()}"
        pending = json.dumps({"hash": request_hash, "importId": ""}).encode()
        bucket = await self._kv()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PENDING_WAIT_SECONDS
        while True:
            try:
                revision = await bucket.create(entry_key, pending)
                return Claim(entry_key, revision)
            except KeyWrongLastSequenceError:
                pass  # the key exists
            stored = await self._stored(entry_key)
            if stored is None:
                continue  # released between the two calls; claim it again
            if stored["hash"] != request_hash:
                raise Unprocessable(
                    f"Idempotency-Key {key!r} was already used with a different request body "
                    "in the last 24 hours; send a new key for a new import",
                    code="idempotency_key_reused",
                    idempotencyKey=key,
                )
            if stored["importId"]:
                return Claim(entry_key, 0, stored["importId"])
            if loop.time() > deadline:
                raise Conflict(
                    f"a request with Idempotency-Key {key!r} is still being processed; "
                    "retry in a few seconds",
                    code="idempotency_key_in_use",
                    idempotencyKey=key,
                )
            await asyncio.sleep(PENDING_POLL_SECONDS)

    async def complete(self, claim: Claim, request_hash: str, import_id: str) -> None:
        """Record the import that the claimed key created."""
        value = json.dumps({"hash": request_hash, "importId": import_id}).encode()
        await (await self._kv()).update(claim.entry_key, value, last=claim.revision)

    async def release(self, claim: Claim) -> None:
        """Give up a claim whose import could not be started, so a retry can start it."""
        try:
            await (await self._kv()).delete(claim.entry_key, last=claim.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError, KeyDeletedError) as exc:
            logger.warning("could not release idempotency key entry: %s", exc)

    async def _stored(self, entry_key: str) -> dict[str, str] | None:
        try:
            entry = await (await self._kv()).get(entry_key)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        if not entry.value:
            return None
        stored: dict[str, str] = json.loads(entry.value)
        return stored


def _validate(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters, got "
            f"{len(key)} characters; use a UUID",
            field="Idempotency-Key",
        )
