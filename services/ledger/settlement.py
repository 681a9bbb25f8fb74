"""Settle credit holds from import events: capture on completion, release otherwise."""

from __future__ import annotations

import asyncio
import logging

from ferry.events.v1 import events_pb2
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy.engine import Engine

from services.ledger import credits
from services.shared import bus, logs
from services.shared.consumer import PullConsumer
from services.shared.errors import InvalidRequest, NotFound

logger = logging.getLogger(__name__)

SETTLEMENT_SUBJECT = "ferry.events.import.>"
# Events handled at once; each is one short database transaction.
CONCURRENCY = 4
ACK_WAIT_SECONDS = 30


def create_consumer(js: JetStreamContext, engine: Engine) -> PullConsumer:
    """Build the durable consumer that settles holds from the events stream."""
    settlement = Settlement(engine)
    return PullConsumer(
        js,
        stream=bus.EVENTS_STREAM,
        subject=SETTLEMENT_SUBJECT,
        durable=bus.LEDGER_CONSUMER,
        config=ConsumerConfig(
            durable_name=bus.LEDGER_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ACK_WAIT_SECONDS,
        ),
        handler=settlement.handle,
        concurrency=CONCURRENCY,
    )


class Settlement:
    """Apply one ImportEvent to the ledger, acking it only after the commit."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def handle(self, message: Msg) -> None:
        try:
            event = events_pb2.ImportEvent.FromString(message.data)
        except DecodeError as exc:
            logger.error("dropping an undecodable event on %s: %s", message.subject, exc)
            await message.term()
            return

        record = event.record
        with logs.bind(import_id=record.import_id, account_id=record.account_id):
            await self._settle(event, message)

    async def _settle(self, event: events_pb2.ImportEvent, message: Msg) -> None:
        record = event.record
        try:
            if event.type == events_pb2.EVENT_TYPE_IMPORT_COMPLETED:
                await asyncio.to_thread(
                    credits.capture_credits, self._engine, record.import_id, record.credits_used
                )
            elif event.type in (
                events_pb2.EVENT_TYPE_IMPORT_FAILED, events_pb2.EVENT_TYPE_IMPORT_CANCELLED
            ):
                # DELETE /import cancels only imports that have not completed, so a
                # cancelled import costs nothing.
                await asyncio.to_thread(credits.release_credits, self._engine, record.import_id)
            else:
                logger.error("dropping event %s of unknown type %d", event.event_id, event.type)
                await message.term()
                return
        except NotFound:
            logger.warning("event %s names import %s, which has no credit hold; acking it",
                           event.event_id, record.import_id)
        except InvalidRequest as error:
            # Redelivery can't fix a bad request. The hold stays held until someone calls
            # ReleaseCredits or CaptureCredits for the import.
            logger.error("could not settle event %s: %s; dropping it",
                         event.event_id, error.message)
            await message.term()
            return

        await message.ack()
