"""The notifier's gRPC service (the delivery log) and its start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from ferry.ledger.v1 import ledger_pb2_grpc
from ferry.notifier.v1 import notifier_pb2, notifier_pb2_grpc
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.notifier.config import NotifierSettings
from services.notifier.delivery_log import DeliveryLog
from services.notifier.transport import create_client
from services.notifier.webhooks import WebhookSender
from services.shared import bus, lifecycle, rpc
from services.shared.consumer import PullConsumer
from services.shared.errors import InvalidRequest

logger = logging.getLogger(__name__)

EVENTS_FILTER = "ferry.events.import.>"
METADATA_EVENTS_FILTER = "ferry.events.metadata.>"
# Shorter than Kubernetes' default termination grace period of 30 s.
SHUTDOWN_GRACE_SECONDS = 20.0
# Time on top of the webhook and ledger timeouts before JetStream redelivers an
# unacknowledged event, covering the delivery log write and a slow event loop.
ACK_WAIT_MARGIN_SECONDS = 30.0


class NotifierServicer(notifier_pb2_grpc.NotifierServiceServicer):
    """Serve the webhook delivery log."""

    def __init__(self, delivery_log: DeliveryLog) -> None:
        self._delivery_log = delivery_log

    async def ListDeliveries(
        self, request: notifier_pb2.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> notifier_pb2.ListDeliveriesResponse:
        if not request.account_id:
            raise InvalidRequest("account_id is missing; pass the account that owns the import")
        if not request.import_id:
            raise InvalidRequest("import_id is missing; pass the id StartImport returned")
        return await self._delivery_log.read_for_account(request.account_id, request.import_id)


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
        await bus.ensure_streams(js, settings.retention.seconds)
        delivery_log = await DeliveryLog.open(js)

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

        metadata_consumer = PullConsumer(
            js,
            stream=bus.EVENTS_STREAM,
            subject=METADATA_EVENTS_FILTER,
            durable=bus.NOTIFIER_METADATA_CONSUMER,
            config=consumer_config(settings),
            handler=sender.handle_metadata,
            concurrency=settings.concurrency,
        )

        server, health = rpc.create_server()
        notifier_pb2_grpc.add_NotifierServiceServicer_to_server(
            NotifierServicer(delivery_log), server
        )
        port = rpc.bind_port(server, settings.host, settings.port)
        await server.start()
        resources.push_async_callback(server.stop, None)
        await rpc.set_serving(health, True)

        consuming = asyncio.create_task(_run_all(consumer, metadata_consumer))
        logger.info("notifier listening on %s:%d", settings.host, port)
        await _wait_for_stop(stopping, consuming)

        logger.info("notifier stopping")
        await rpc.set_serving(health, False)
        await asyncio.gather(
            consumer.stop(SHUTDOWN_GRACE_SECONDS), metadata_consumer.stop(SHUTDOWN_GRACE_SECONDS)
        )
        await consuming
        await nc.drain()
        await server.stop(SHUTDOWN_GRACE_SECONDS)
        logger.info("notifier stopped")


async def _run_all(*consumers: PullConsumer) -> None:
    """Run the consumers until all have stopped; the first one to fail fails the whole."""
    await asyncio.gather(*(consumer.run() for consumer in consumers))


async def _wait_for_stop(stopping: asyncio.Event, consuming: asyncio.Task[None]) -> None:
    # A consumer that fails to start (no stream, NATS refusing the consumer) ends the
    # service, so the orchestrator restarts it instead of leaving it half-working.
    stop_requested = asyncio.create_task(stopping.wait())
    await asyncio.wait({stop_requested, consuming}, return_when=asyncio.FIRST_COMPLETED)
    if consuming.done():
        stop_requested.cancel()
        consuming.result()
