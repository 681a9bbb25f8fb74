"""The notifier's gRPC service (delivery log, redelivery, test events), start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime

import grpc
import nats.errors
from ferry.events.v1 import events_pb2
from ferry.ledger.v1 import ledger_pb2_grpc
from ferry.notifier.v1 import notifier_pb2, notifier_pb2_grpc
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.notifier.config import NotifierSettings
from services.notifier.delivery_log import DeliveryLog
from services.notifier.notifications import log_key_of
from services.notifier.payload import event_type_of
from services.notifier.transport import create_client
from services.notifier.webhooks import WebhookSender
from services.shared import bus, lifecycle, netguard, readiness, rpc
from services.shared.bus import EventType
from services.shared.consumer import PullConsumer
from services.shared.errors import InvalidRequest, Unavailable

logger = logging.getLogger(__name__)

# Import and metadata events, and redeliveries; the handler acks any other event unsent.
EVENTS_FILTER = "ferry.events.>"
# Time on top of the webhook and ledger timeouts before JetStream redelivers an
# unacknowledged event, covering the delivery log write and a slow event loop.
ACK_WAIT_MARGIN_SECONDS = 30.0


class NotifierServicer(notifier_pb2_grpc.NotifierServiceServicer):
    """Serve the webhook delivery log, redeliveries and test events."""

    def __init__(
        self,
        delivery_log: DeliveryLog,
        sender: WebhookSender,
        js: JetStreamContext,
        allow_private: bool,
    ) -> None:
        self._delivery_log = delivery_log
        self._sender = sender
        self._js = js
        self._allow_private = allow_private

    async def ListDeliveries(
        self, request: notifier_pb2.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> notifier_pb2.ListDeliveriesResponse:
        _require_ids(request.account_id, request.import_id)
        return await self._delivery_log.read_for_account(request.account_id, request.import_id)

    async def Redeliver(
        self, request: notifier_pb2.RedeliverRequest, context: grpc.aio.ServicerContext
    ) -> notifier_pb2.RedeliverResponse:
        _require_ids(request.account_id, request.import_id)
        event = await self._delivery_log.latest_event(request.account_id, request.import_id)
        event_type = event_type_of(event)
        assert event_type is not None  # only events with a webhook type are logged

        redelivery = notifier_pb2.WebhookRedelivery(delivery_id=f"dlv_{uuid.uuid4().hex}")
        redelivery.requested_at.FromDatetime(datetime.now(UTC))
        if isinstance(event, events_pb2.ImportEvent):
            redelivery.import_event.CopyFrom(event)
        else:
            redelivery.metadata_event.CopyFrom(event)
        try:
            await self._js.publish(
                bus.WEBHOOK_REDELIVERY_SUBJECT,
                redelivery.SerializeToString(),
                headers={"Nats-Msg-Id": redelivery.delivery_id},
            )
        except nats.errors.Error as exc:
            raise Unavailable(
                f"could not queue the redelivery of import {request.import_id!r}: {exc}; "
                "retry later",
                import_id=request.import_id,
            ) from exc

        response = notifier_pb2.RedeliverResponse(
            delivery_id=redelivery.delivery_id,
            message_id=event.event_id,
            event_type=event_type.value,
            url=_webhook_url(redelivery),
        )
        logger.info(
            "queued redelivery %s of webhook %s for %s",
            response.delivery_id,
            response.message_id,
            log_key_of(event),
        )
        return response

    async def SendTestWebhook(
        self, request: notifier_pb2.SendTestWebhookRequest, context: grpc.aio.ServicerContext
    ) -> notifier_pb2.SendTestWebhookResponse:
        if not request.account_id:
            raise InvalidRequest("account_id is missing; pass the account whose secret signs")
        event_type = _parse_event_type(request.event_type)
        # The same rules as for an import's webhook_url; the transport checks again at connect.
        url = await asyncio.to_thread(
            netguard.validate_url, request.url, self._allow_private, "url"
        )

        attempt, body = await self._sender.send_test(request.account_id, url, event_type)
        return notifier_pb2.SendTestWebhookResponse(attempt=attempt, body=body.decode())


def _require_ids(account_id: str, import_id: str) -> None:
    if not account_id:
        raise InvalidRequest("account_id is missing; pass the account that owns the import")
    if not import_id:
        raise InvalidRequest("import_id is missing; pass the id StartImport returned")


def _parse_event_type(name: str) -> EventType:
    if not name:
        return EventType.IMPORT_COMPLETED
    try:
        return EventType(name)
    except ValueError:
        choices = ", ".join(event_type.value for event_type in EventType)
        raise InvalidRequest(
            f"event type {name!r} is not a webhook event type; use one of {choices}",
            field="type",
        ) from None


def _webhook_url(redelivery: notifier_pb2.WebhookRedelivery) -> str:
    if redelivery.HasField("import_event"):
        return redelivery.import_event.record.webhook_url
    return redelivery.metadata_event.webhook_url


def consumer_config(settings: NotifierSettings) -> ConsumerConfig:
    """Return the durable consumer's settings: one delivery per webhook attempt."""
    ack_wait = settings.timeout_seconds + settings.peers.timeout_seconds + ACK_WAIT_MARGIN_SECONDS
    return ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=len(settings.retry_schedule) + 1,
    )


async def serve(settings: NotifierSettings, stopping: asyncio.Event | None = None) -> None:
    """Run the gRPC server and the webhook consumer until `stopping` is set.

    Without `stopping`, SIGTERM and SIGINT stop the service.
    """
    if stopping is None:
        stopping = lifecycle.install_stop_handlers()

    async with contextlib.AsyncExitStack() as resources:
        nc = await bus.connect(settings.nats.url, name="ferry-notifier")
        resources.push_async_callback(nc.close)
        js = nc.jetstream()
        await bus.ensure_streams(js, settings.retention.seconds, settings.nats.replicas)
        delivery_log = await DeliveryLog.open(
            js, settings.delivery_log_ttl_seconds, settings.nats.replicas
        )

        ledger_channel = rpc.open_channel(settings.peers.ledger)
        resources.push_async_callback(ledger_channel.close)
        client = create_client(settings.timeout_seconds, settings.url_policy.allow_private)
        resources.push_async_callback(client.aclose)

        sender = WebhookSender(
            client=client,
            ledger=ledger_pb2_grpc.LedgerServiceStub(ledger_channel),
            delivery_log=delivery_log,
            retry_schedule=settings.retry_schedule,
            timeout_seconds=settings.timeout_seconds,
            ledger_timeout_seconds=settings.peers.timeout_seconds,
        )
        consumer = PullConsumer(
            js,
            stream=bus.EVENTS_STREAM,
            subject=EVENTS_FILTER,
            durable=bus.NOTIFIER_CONSUMER,
            config=consumer_config(settings),
            handler=sender.handle,
            concurrency=settings.concurrency,
        )

        server, health = rpc.create_server()
        servicer = NotifierServicer(delivery_log, sender, js, settings.url_policy.allow_private)
        notifier_pb2_grpc.add_NotifierServiceServicer_to_server(servicer, server)
        port = rpc.bind_port(server, settings.host, settings.port)
        await server.start()
        resources.push_async_callback(server.stop, None)
        monitor = readiness.ReadinessMonitor(health, {"nats": readiness.nats_check(nc)})
        await monitor.start()
        resources.push_async_callback(monitor.stop)

        consuming = asyncio.create_task(consumer.run())
        logger.info("notifier listening on %s:%d", settings.host, port)
        await _wait_for_stop(stopping, consuming)

        logger.info("notifier stopping")
        await monitor.stop()
        await consumer.stop(settings.shutdown.grace_seconds)
        await consuming
        await nc.drain()
        await server.stop(settings.shutdown.grace_seconds)
        logger.info("notifier stopped")


async def _wait_for_stop(stopping: asyncio.Event, consuming: asyncio.Task[None]) -> None:
    # A consumer that fails to start (no stream, NATS refusing the consumer) ends the
    # service, so the orchestrator restarts it instead of leaving it half-working.
    stop_requested = asyncio.create_task(stopping.wait())
    await asyncio.wait({stop_requested, consuming}, return_when=asyncio.FIRST_COMPLETED)
    if consuming.done():
        stop_requested.cancel()
        consuming.result()
