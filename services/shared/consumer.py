"""A JetStream durable pull consumer that runs a handler per message, several at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from services.shared import metrics

logger = logging.getLogger(__name__)

# How often each process reads the consumer's pending counts for the metrics.
DEPTH_SAMPLE_SECONDS = 5.0

Handler = Callable[[Msg], Awaitable[None]]


class PullConsumer:
    """Fetch messages one free slot at a time and run `handler` on each.

    The handler acks, naks or terms its message. A handler that raises has its message
    nak'ed, so JetStream redelivers it. Messages are never fetched beyond the free slots,
    so nothing waits in this process while another replica could take it.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        subject: str,
        durable: str,
        config: ConsumerConfig,
        handler: Handler,
        concurrency: int,
    ) -> None:
        self._js = js
        self._stream = stream
        self._subject = subject
        self._durable = durable
        self._config = config
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        """Consume until `stop()` is called."""
        # pull_subscribe keeps the config of a durable that already exists, so apply ours
        # first: a changed max_deliver or ack_wait takes effect on the next start.
        await self._js.add_consumer(
            self._stream,
            self._config.evolve(
                name=self._durable, durable_name=self._durable, filter_subject=self._subject
            ),
        )
        subscription = await self._js.pull_subscribe(
            self._subject, durable=self._durable, stream=self._stream, config=self._config
        )
        logger.info("consuming %s as %s", self._subject, self._durable)
        sampler = asyncio.create_task(self._sample_depth())
        try:
            while not self._stopping.is_set():
                await self._slots.acquire()
                try:
                    messages = await subscription.fetch(1, timeout=1)
                except (TimeoutError, nats.errors.TimeoutError):
                    self._slots.release()
                    continue
                except Exception as exc:
                    self._slots.release()
                    logger.warning("fetch from %s failed: %s; retrying in 1 s", self._durable, exc)
                    await asyncio.sleep(1)
                    continue
                if self._stopping.is_set():
                    # stop() may already have waited for the handlers; hand these back.
                    for message in messages:
                        await _nak_quietly(message)
                    self._slots.release()
                    break
                for message in messages:
                    task = asyncio.create_task(self._handle(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            sampler.cancel()
            await subscription.unsubscribe()

    async def stop(self, grace_seconds: float) -> None:
        """Stop fetching, give running handlers `grace_seconds`, then cancel the rest."""
        self._stopping.set()
        if not self._tasks:
            return
        logger.info("waiting up to %.0f s for %d running handlers", grace_seconds, len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        if pending:
            logger.warning(
                "%d handlers of %s still running after %.0f s; handing their messages back "
                "so another replica takes them", len(pending), self._durable, grace_seconds,
            )
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _sample_depth(self) -> None:
        """Copy the consumer's pending and ack-pending counts into the metrics, periodically."""
        while True:
            try:
                info = await self._js.consumer_info(self._stream, self._durable)
            except Exception as exc:  # a metric is not worth stopping the consumer for
                logger.debug("could not read consumer info of %s: %s", self._durable, exc)
            else:
                metrics.CONSUMER_PENDING.labels(consumer=self._durable).set(info.num_pending or 0)
                metrics.CONSUMER_ACK_PENDING.labels(consumer=self._durable).set(
                    info.num_ack_pending or 0
                )
            await asyncio.sleep(DEPTH_SAMPLE_SECONDS)

    async def _handle(self, message: Msg) -> None:
        try:
            if message.metadata.num_delivered > 1:
                metrics.CONSUMER_REDELIVERIES.labels(consumer=self._durable).inc()
            await self._handler(message)
        except asyncio.CancelledError:
            await _nak_quietly(message)
            raise
        except Exception:
            logger.exception(
                "handler for %s failed; the message will be redelivered", self._durable
            )
            await _nak_quietly(message)
        finally:
            self._slots.release()


async def _nak_quietly(message: Msg) -> None:
    try:
        await message.nak()
    except Exception as exc:  # the message may already be acked, or the connection gone
        logger.warning("could not nak message: %s", exc)
