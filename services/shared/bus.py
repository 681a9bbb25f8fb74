"""NATS JetStream names (streams, subjects, consumers, buckets) and their set-up.

Every service calls `ensure_streams` at start-up. The calls are idempotent, so the first
service to start creates what is missing and the others find it in place.
"""

from __future__ import annotations

import enum
import logging

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import BadRequestError

logger = logging.getLogger(__name__)

JOBS_STREAM = "FERRY_JOBS"
IMPORT_JOBS_SUBJECT = "ferry.jobs.import"
IMPORTER_CONSUMER = "importer"

EVENTS_STREAM = "FERRY_EVENTS"
EVENTS_SUBJECTS = "ferry.events.>"
LEDGER_CONSUMER = "ledger-settlement"
NOTIFIER_CONSUMER = "notifier"
# Webhook redeliveries requested through the notifier's Redeliver method.
WEBHOOK_REDELIVERY_SUBJECT = "ferry.events.webhook.redelivery"

IMPORTS_BUCKET = "ferry_imports"
# Key "<account id>.<import id>", empty value: the imports of each account, for listing.
IMPORT_INDEX_BUCKET = "ferry_import_index"
# Key "<account id>.<SHA-256 of the Idempotency-Key>": the import a key created.
IDEMPOTENCY_BUCKET = "ferry_idempotency_keys"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# Core NATS subject (no stream) on which every importer worker hears cancellations.
IMPORT_CANCEL_SUBJECT = "ferry.control.import.cancel"
DELIVERIES_BUCKET = "ferry_webhook_deliveries"
# Metadata jobs (ferry.importer.v1.MetadataJob, protobuf bytes), kept for the retention period.
METADATA_BUCKET = "ferry_metadata"

# How long JetStream remembers a Nats-Msg-Id to drop a duplicate publish.
DUPLICATE_WINDOW_SECONDS = 600
# Events are kept this long so a consumer that was down can catch up.
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600
# Import records stay readable for 30 days after the media is deleted.
RECORD_GRACE_SECONDS = 30 * 24 * 3600


class EventType(enum.StrEnum):
    """Event names, used as the subject suffix and as the webhook's `type`."""

    IMPORT_COMPLETED = "import.completed"
    IMPORT_FAILED = "import.failed"
    IMPORT_CANCELLED = "import.cancelled"
    METADATA_COMPLETED = "metadata.completed"
    METADATA_FAILED = "metadata.failed"

    @property
    def subject(self) -> str:
        return f"ferry.events.{self.value}"


async def connect(url: str, name: str, max_reconnect_attempts: int = -1) -> Client:
    """Connect to NATS, logging every disconnect, reconnect and asynchronous error.

    By default the client retries forever, which suits a service; a one-shot command
    passes 1 so an unreachable server fails after one more try. (nats-py reads 0 as no
    limit.)
    """

    async def on_error(exc: Exception) -> None:
        logger.error("NATS error: %s: %s", type(exc).__name__, exc)

    client = Client()

    async def on_disconnect() -> None:
        if client.is_closed or client.is_draining:
            logger.info("disconnected from NATS")  # a close or drain that we asked for
            return
        logger.warning("disconnected from NATS; reconnecting")

    async def on_reconnect() -> None:
        logger.info("reconnected to NATS")

    await client.connect(
        servers=url.split(","),
        name=name,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        max_reconnect_attempts=max_reconnect_attempts,
        reconnect_time_wait=1,
    )
    return client


async def ensure_streams(js: JetStreamContext, retention_seconds: int, replicas: int = 1) -> None:
    """Create or update the streams and key-value buckets Ferry uses.

    `replicas` is the number of copies a NATS cluster keeps of each (FERRY_NATS_REPLICAS).
    Changing it on an existing stream or bucket updates it in place.
    """
    await _ensure_stream(
        js,
        StreamConfig(
            name=JOBS_STREAM,
            subjects=[IMPORT_JOBS_SUBJECT],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
        ),
    )
    await _ensure_stream(
        js,
        StreamConfig(
            name=EVENTS_STREAM,
            subjects=[EVENTS_SUBJECTS],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=EVENTS_MAX_AGE_SECONDS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            discard=DiscardPolicy.OLD,
            num_replicas=replicas,
        ),
    )
    # The notifier creates DELIVERIES_BUCKET itself, with its own retention setting.
    record_ttl = retention_seconds + RECORD_GRACE_SECONDS
    for bucket, ttl in (
        (IMPORTS_BUCKET, record_ttl),
        (IMPORT_INDEX_BUCKET, record_ttl),
        (IDEMPOTENCY_BUCKET, IDEMPOTENCY_TTL_SECONDS),
        (METADATA_BUCKET, retention_seconds),
    ):
        await ensure_bucket(
            js,
            KeyValueConfig(
                bucket=bucket, history=1, ttl=ttl, storage=StorageType.FILE, replicas=replicas
            ),
        )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except BadRequestError:
        # The stream exists with other settings (an upgrade changed them): apply ours.
        await js.update_stream(config)


async def ensure_bucket(js: JetStreamContext, config: KeyValueConfig) -> None:
    """Create the key-value bucket, or apply `config.ttl` and replicas to the one that exists."""
    try:
        await js.create_key_value(config)
    except BadRequestError:
        # The bucket exists with another TTL (a retention setting changed) or replica
        # count (FERRY_NATS_REPLICAS changed): apply ours to the stream behind it, which
        # nats-py names KV_<bucket>. JetStream rejects a duplicate window longer than the
        # stream's max age.
        info = await js.stream_info(f"KV_{config.bucket}")
        duplicate_window = min(info.config.duplicate_window or config.ttl, config.ttl)
        await js.update_stream(
            info.config.evolve(
                max_age=config.ttl,
                duplicate_window=duplicate_window,
                num_replicas=config.replicas,
            )
        )
