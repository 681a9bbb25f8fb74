"""Import records, stored as protobuf bytes in the JetStream key-value bucket."""

from __future__ import annotations

import logging
import re

from ferry.importer.v1 import importer_pb2
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from ulid import ULID

from services.shared import bus

logger = logging.getLogger(__name__)

# A ULID is 26 characters of Crockford's base 32, which has no i, l, o or u.
_IMPORT_ID_PATTERN = re.compile(r"imp_[0-9a-hjkmnp-tv-z]{26}")


class ImportRecords:
    """Read and write `Import` records, keyed by import id."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext) -> ImportRecords:
        """Bind to the imports bucket, which `bus.ensure_streams` creates."""
        return cls(await js.key_value(bus.IMPORTS_BUCKET))

    async def put(self, record: importer_pb2.Import) -> None:
        """Store `record`, replacing the previous version."""
        await self._kv.put(record.import_id, record.SerializeToString())

    async def get(self, import_id: str) -> importer_pb2.Import | None:
        """Return the record of `import_id`, or None when there is none."""
        try:
            entry = await self._kv.get(import_id)
        except KeyNotFoundError:  # also raised for a deleted or purged key
            return None
        if entry.value is None:
            return None
        return importer_pb2.Import.FromString(entry.value)


def new_import_id() -> str:
    """Return a new import id: "imp_" and a lower-case ULID, so ids sort by creation time."""
    return f"imp_{str(ULID()).lower()}"


def is_import_id(text: str) -> bool:
    """Tell whether `text` has the form of an import id."""
    return _IMPORT_ID_PATTERN.fullmatch(text) is not None
