"""Import records, stored as protobuf bytes in the JetStream key-value bucket."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from ferry.importer.v1 import importer_pb2
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue
from ulid import ULID

from services.shared import bus

logger = logging.getLogger(__name__)

# A ULID is 26 characters of Crockford's base 32, which has no i, l, o or u.
_IMPORT_ID_PATTERN = re.compile(r"imp_[0-9a-hjkmnp-tv-z]{26}")
Status = importer_pb2.ImportStatus


class RecordChanged(Exception):
    """A write of the record that came after the revision an update expected."""


@dataclass
class StoredImport:
    """A record as read from the bucket, with the KV revision that stored it."""

    record: importer_pb2.Import
    revision: int


class ImportRecords:
    """Read and write `Import` records, keyed by import id.

    A second bucket indexes them by account: key `<account id>.<import id>`, empty value,
    so an account's imports are listed without reading every record.
    """

    def __init__(self, kv: KeyValue, index: KeyValue | None = None) -> None:
        self._kv = kv
        self._index = index

    @classmethod
    async def open(cls, js: JetStreamContext) -> ImportRecords:
        """Bind to the imports bucket and its index, which `bus.ensure_streams` creates."""
        records = await js.key_value(bus.IMPORTS_BUCKET)
        return cls(records, await js.key_value(bus.IMPORT_INDEX_BUCKET))

    async def create(self, record: importer_pb2.Import) -> None:
        """Store a new record and add it to its account's index."""
        await self.put(record)
        if self._index is not None:
            await self._index.put(f"{record.account_id}.{record.import_id}", b"")

    async def put(self, record: importer_pb2.Import) -> int:
        """Store `record`, replacing the previous version; return the new revision."""
        return await self._kv.put(record.import_id, record.SerializeToString())

    async def update(self, record: importer_pb2.Import, revision: int) -> int:
        """Store `record` only if `revision` is still the latest one; return the new revision.

        Raises RecordChanged when another write came after `revision`.
        """
        try:
            return await self._kv.update(
                record.import_id, record.SerializeToString(), last=revision
            )
        except KeyWrongLastSequenceError as exc:
            raise RecordChanged(record.import_id) from exc

    async def put_unless_cancelled(
        self, record: importer_pb2.Import
    ) -> importer_pb2.Import | None:
        """Store `record` unless the stored record is CANCELLED; return that cancelled record.

        The write is a compare-and-set on the revision just read, so a cancel stored in
        between makes it fail and the read is repeated. Other writes in between, such as
        progress, are overwritten. Returns None once `record` is stored.
        """
        while True:
            stored = await self.read(record.import_id)
            if stored is not None and stored.record.status == Status.IMPORT_STATUS_CANCELLED:
                return stored.record
            try:
                if stored is None:
                    # Purged meanwhile, which the janitor does only to settled imports.
                    await self.put(record)
                else:
                    await self.update(record, stored.revision)
                return None
            except RecordChanged:
                logger.info("import %s changed while being stored; reading it again",
                            record.import_id)

    async def delete(self, record: importer_pb2.Import) -> None:
        """Delete the record and its index entry for good."""
        await self._kv.purge(record.import_id)
        if self._index is not None:
            await self._index.purge(f"{record.account_id}.{record.import_id}")

    async def account_import_ids(self, account_id: str) -> list[str]:
        """Return the ids of the account's imports, newest first."""
        if self._index is None:
            return []
        watcher = await self._index.watch(f"{account_id}.>", ignore_deletes=True, meta_only=True)
        ids = []
        try:
            async for entry in watcher:
                if entry is None:  # the watcher has sent every existing key
                    break
                ids.append(entry.key.partition(".")[2])
        finally:
            await watcher.stop()
        # Import ids are ULIDs, which sort by creation time.
        return sorted(ids, reverse=True)

    async def all_import_ids(self) -> list[str]:
        """Return the id of every stored record."""
        try:
            return await self._kv.keys()
        except NoKeysError:
            return []

    async def get(self, import_id: str) -> importer_pb2.Import | None:
        """Return the record of `import_id`, or None when there is none."""
        stored = await self.read(import_id)
        return None if stored is None else stored.record

    async def read(self, import_id: str) -> StoredImport | None:
        """Return the record of `import_id` with its revision, or None when there is none."""
        try:
            entry = await self._kv.get(import_id)
        except KeyNotFoundError:  # also raised for a deleted or purged key
            return None
        if entry.value is None or entry.revision is None:
            return None
        return StoredImport(importer_pb2.Import.FromString(entry.value), entry.revision)


def new_import_id() -> str:
    """Return a new import id: "imp_" and a lower-case ULID, so ids sort by creation time."""
    return f"imp_{str(ULID()).lower()}"


def is_import_id(text: str) -> bool:
    """Tell whether `text` has the form of an import id."""
    return _IMPORT_ID_PATTERN.fullmatch(text) is not None


def created_at_of(import_id: str) -> datetime:
    """Return the creation time that the ULID of `import_id` encodes (millisecond precision)."""
    return ULID.from_str(import_id.removeprefix("imp_").upper()).datetime
