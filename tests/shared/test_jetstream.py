"""bus.ensure_streams and PullConsumer against a real nats-server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from services.shared import bus
from services.shared.consumer import PullConsumer


async def wait_until(condition: Callable[[], Awaitable[bool]], within_seconds: float = 10) -> None:
    deadline = time.monotonic() + within_seconds
    while not await condition():
        assert time.monotonic() < deadline, f"condition not met within {within_seconds} s"
        await asyncio.sleep(0.05)


async def make_stream(js: JetStreamContext) -> tuple[str, str]:
    name = f"TEST_{uuid.uuid4().hex[:8].upper()}"
    subject = f"test.{name.lower()}"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{subject}.>"]))
    return name, subject


async def test_ensure_streams_applies_new_retention(js: JetStreamContext) -> None:
    await bus.ensure_streams(js, 100)
    await bus.ensure_streams(js, 200)

    info = await js.stream_info(f"KV_{bus.IMPORTS_BUCKET}")
    assert info.config.max_age == 200 + bus.RECORD_GRACE_SECONDS


async def test_pull_consumer_applies_changed_config(js: JetStreamContext) -> None:
    stream, subject = await make_stream(js)

    async def ack(message: Msg) -> None:
        await message.ack()

    for max_deliver in (2, 5):
        consumer = PullConsumer(
            js,
            stream=stream,
            subject=f"{subject}.>",
            durable="worker",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_deliver=max_deliver),
            handler=ack,
            concurrency=1,
        )
        running = asyncio.create_task(consumer.run())

        async def applied(expected: int = max_deliver) -> bool:
            try:
                info = await js.consumer_info(stream, "worker")
            except Exception:
                return False
            return info.config.max_deliver == expected

        await wait_until(applied)
        await consumer.stop(1)
        await running

    info = await js.consumer_info(stream, "worker")
    assert info.config.max_deliver == 5
    assert info.config.filter_subject == f"{subject}.>"


async def test_pull_consumer_redelivers_after_handler_error(js: JetStreamContext) -> None:
    stream, subject = await make_stream(js)
    deliveries: list[int] = []

    async def fail_once(message: Msg) -> None:
        deliveries.append(message.metadata.num_delivered)
        if len(deliveries) == 1:
            raise RuntimeError("handler failed on purpose")
        await message.ack()

    consumer = PullConsumer(
        js,
        stream=stream,
        subject=f"{subject}.>",
        durable="worker",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_deliver=3),
        handler=fail_once,
        concurrency=2,
    )
    running = asyncio.create_task(consumer.run())
    await js.publish(f"{subject}.one", b"payload")

    async def handled_twice() -> bool:
        return len(deliveries) >= 2

    await wait_until(handled_twice)
    await consumer.stop(1)
    await running

    assert deliveries == [1, 2]
