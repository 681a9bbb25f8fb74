"""Deliver one webhook attempt per JetStream delivery of an import event.

JetStream does the retrying: a failed attempt naks its message with the delay from the
retry schedule, so attempt N is the message's Nth delivery. Each attempt is appended to
the delivery log before the message is acked, nak'ed or terminated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from ferry.events.v1 import events_pb2
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from ferry.notifier.v1 import notifier_pb2
from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from services.notifier.delivery_log import DeliveryLog
from services.notifier.payload import (
    build_body,
    build_headers,
    build_metadata_body,
    event_type_of,
    metadata_event_type_of,
)
from services.shared import logs
from services.shared.bus import EventType
from services.shared.errors import FerryError, NotFound
from services.shared.netguard import BlockedAddressError

logger = logging.getLogger(__name__)

# Only the start of a receiver's response body is read; it is kept as an excerpt for the log.
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 200

_FINAL_OUTCOMES = (
    notifier_pb2.DELIVERY_OUTCOME_DELIVERED,
    notifier_pb2.DELIVERY_OUTCOME_FAILED,
)


@dataclass(frozen=True)
class AttemptResult:
    """Outcome of one attempt. `retryable` is False when another attempt can't succeed."""

    http_status: int = 0
    error: str = ""
    retryable: bool = True

    @property
    def delivered(self) -> bool:
        return 200 <= self.http_status < 300


@dataclass(frozen=True)
class Notice:
    """One webhook to deliver: an import or metadata event, its receiver and its body."""

    event_id: str
    event_type: EventType
    # The import id or metadata job id the delivery log files the attempts under.
    key: str
    account_id: str
    webhook_url: str
    body: bytes


class WebhookSender:
    """Handle import and metadata events: sign, POST, log the attempt, settle the message."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        ledger: ledger_pb2_grpc.LedgerServiceStub,
        delivery_log: DeliveryLog,
        retry_schedule: tuple[float, ...],
        timeout_seconds: float,
        ledger_timeout_seconds: float,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._delivery_log = delivery_log
        self._retry_schedule = retry_schedule
        self._timeout_seconds = timeout_seconds
        self._ledger_timeout_seconds = ledger_timeout_seconds

    async def handle(self, message: Msg) -> None:
        """Make one delivery attempt for the import event in `message`, then settle it."""
        try:
            event = events_pb2.ImportEvent.FromString(message.data)
        except DecodeError as exc:
            logger.error("dropping an undecodable ImportEvent on %s: %s", message.subject, exc)
            await message.term()
            return

        record = event.record
        event_type = event_type_of(event)
        notice = None
        if record.webhook_url and event_type is not None:
            notice = Notice(
                event_id=event.event_id,
                event_type=event_type,
                key=record.import_id,
                account_id=record.account_id,
                webhook_url=record.webhook_url,
                body=build_body(event, event_type),
            )
        with logs.bind(import_id=record.import_id, account_id=record.account_id):
            await self._handle_notice(message, notice)

    async def handle_metadata(self, message: Msg) -> None:
        """Make one delivery attempt for the metadata event in `message`, then settle it."""
        try:
            event = events_pb2.MetadataEvent.FromString(message.data)
        except DecodeError as exc:
            logger.error("dropping an undecodable MetadataEvent on %s: %s", message.subject, exc)
            await message.term()
            return

        job = event.job
        event_type = metadata_event_type_of(event)
        notice = None
        if job.webhook_url and event_type is not None:
            notice = Notice(
                event_id=event.event_id,
                event_type=event_type,
                key=job.metadata_id,
                account_id=job.account_id,
                webhook_url=job.webhook_url,
                body=build_metadata_body(event, event_type),
            )
        # The log context has no metadata id field; import_id carries the job's id.
        with logs.bind(import_id=job.metadata_id, account_id=job.account_id):
            await self._handle_notice(message, notice)

    async def _handle_notice(self, message: Msg, notice: Notice | None) -> None:
        if notice is None:
            await message.ack()
            return
        if await self._already_settled(notice):
            logger.info("event %s was already delivered or given up; acking", notice.event_id)
            await message.ack()
            return
        await self._deliver(message, notice)

    async def _deliver(self, message: Msg, notice: Notice) -> None:
        attempt_number = message.metadata.num_delivered
        attempted_at = datetime.now(UTC)
        started = time.monotonic()
        result = await self._attempt(notice, attempted_at)
        latency = time.monotonic() - started

        outcome = self._outcome(result, attempt_number)
        attempt = notifier_pb2.DeliveryAttempt(
            message_id=notice.event_id,
            event_type=notice.event_type.value,
            url=notice.webhook_url,
            attempt=attempt_number,
            attempted_at=_timestamp(attempted_at),
            http_status=result.http_status,
            latency_seconds=latency,
            error=result.error,
            outcome=outcome,
        )
        await self._delivery_log.append(notice.key, notice.account_id, attempt)

        await self._settle(message, attempt, result)

    async def _attempt(self, notice: Notice, attempted_at: datetime) -> AttemptResult:
        try:
            secrets = await self._webhook_secrets(notice.account_id)
        except NotFound as exc:
            return AttemptResult(
                error=f"could not sign the webhook: {exc.message}", retryable=False
            )
        except FerryError as exc:
            return AttemptResult(error=f"could not load the webhook secrets: {exc.message}")
        if not secrets:
            return AttemptResult(
                error="the account has no webhook secret; create one in the ledger",
                retryable=False,
            )

        headers = build_headers(notice.event_id, attempted_at, notice.body, secrets)
        return await self._post(notice.webhook_url, notice.body, headers)

    async def _webhook_secrets(self, account_id: str) -> list[str]:
        request = ledger_pb2.GetWebhookSecretsRequest(account_id=account_id)
        response = await self._ledger.GetWebhookSecrets(
            request, timeout=self._ledger_timeout_seconds
        )
        return list(response.secrets)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        try:
            # httpx's timeout applies to each read; this one bounds the whole exchange, so a
            # receiver that trickles bytes can't hold the attempt open.
            async with asyncio.timeout(self._timeout_seconds):
                async with self._client.stream(
                    "POST", url, content=body, headers=headers
                ) as response:
                    excerpt = await _read_excerpt(response)
        except BlockedAddressError as exc:
            # The address class of a host does not change between attempts.
            return AttemptResult(error=exc.message, retryable=False)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return AttemptResult(error=f"invalid webhook URL {url!r}: {exc}", retryable=False)
        except (TimeoutError, httpx.TimeoutException):
            return AttemptResult(error=f"timed out after {self._timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return AttemptResult(error=f"{type(exc).__name__}: {exc}")

        if 200 <= response.status_code < 300:
            return AttemptResult(http_status=response.status_code)
        error = f"receiver answered HTTP {response.status_code}"
        if excerpt:
            error += f": {excerpt}"
        # 410 Gone is the receiver's way to say the endpoint will never accept this again.
        return AttemptResult(
            http_status=response.status_code, error=error, retryable=response.status_code != 410
        )

    def _outcome(self, result: AttemptResult, attempt_number: int) -> int:
        if result.delivered:
            return notifier_pb2.DELIVERY_OUTCOME_DELIVERED
        if result.retryable and attempt_number <= len(self._retry_schedule):
            return notifier_pb2.DELIVERY_OUTCOME_RETRYING
        return notifier_pb2.DELIVERY_OUTCOME_FAILED

    async def _settle(
        self, message: Msg, attempt: notifier_pb2.DeliveryAttempt, result: AttemptResult
    ) -> None:
        max_attempts = len(self._retry_schedule) + 1
        if attempt.outcome == notifier_pb2.DELIVERY_OUTCOME_DELIVERED:
            logger.info(
                "delivered webhook %s to %s on attempt %d (HTTP %d)",
                attempt.message_id,
                attempt.url,
                attempt.attempt,
                attempt.http_status,
            )
            await message.ack()
        elif attempt.outcome == notifier_pb2.DELIVERY_OUTCOME_RETRYING:
            delay = self._retry_schedule[attempt.attempt - 1]
            logger.warning(
                "webhook %s to %s failed on attempt %d of %d: %s; retrying in %g s",
                attempt.message_id,
                attempt.url,
                attempt.attempt,
                max_attempts,
                result.error,
                delay,
            )
            await message.nak(delay=delay)
        else:
            logger.error(
                "webhook %s to %s failed on attempt %d of %d: %s; giving up%s",
                attempt.message_id,
                attempt.url,
                attempt.attempt,
                max_attempts,
                result.error,
                "" if result.retryable else " because a retry can't succeed",
            )
            await message.term()

    async def _already_settled(self, notice: Notice) -> bool:
        attempts = await self._delivery_log.attempts(notice.key)
        return any(
            attempt.message_id == notice.event_id and attempt.outcome in _FINAL_OUTCOMES
            for attempt in attempts
        )


async def _read_excerpt(response: httpx.Response) -> str:
    # Raw bytes, because the client asks for no content encoding and a compressed body
    # could expand far beyond the limit.
    received = bytearray()
    async for chunk in response.aiter_raw():
        received.extend(chunk)
        if len(received) >= MAX_RESPONSE_BYTES:
            break
    text = bytes(received[:MAX_RESPONSE_BYTES]).decode("utf-8", errors="replace")
    return " ".join(text.split())[:EXCERPT_CHARS]


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp
