"""Credits and limits under concurrency, on SQLite and PostgreSQL, through the REST API.

Each test runs the real ledger, settlement consumer, importer and gateway in process
(see stack.py) on its own nats-server, the moto S3 server and the database under test.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from ferry.events.v1 import events_pb2
from ferry.ledger.v1 import ledger_pb2

from services.shared import bus
from tests import media
from tests.ledger.stack import MiniStack, run_stack
from tools import launch

ESTIMATE = 5
SETTLE_TIMEOUT_SECONDS = 30
# About 1.8 MB, two credits, so it exceeds an estimate of one credit.
LARGE_CLIP = "large.mp4"
# Throttled so that one import of the large clip takes about two seconds.
SLOW_BYTES_PER_SECOND = 1_000_000


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of this module's own, so no other test's jobs or events reach it."""
    root = tmp_path_factory.mktemp("proof-nats")
    managed, url = launch.start_nats(root / "data", root / "logs")
    yield url
    managed.stop()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("proof-media")
    media.make_mp4(directory, name=LARGE_CLIP, size="640x360", video_bitrate="4M")
    return directory


@pytest.fixture(scope="module")
def media_server(clips: Path) -> Iterator[media.MediaServer]:
    with media.serve_media(clips) as server:
        yield server


@pytest.fixture(scope="module")
def slow_media_server(clips: Path) -> Iterator[media.MediaServer]:
    with media.serve_media(clips, throttle_bytes_per_second=SLOW_BYTES_PER_SECOND) as server:
        yield server


def stack_fixture(hold_credits: int):
    @pytest.fixture
    async def fixture(engine, nats_url, infra, tmp_path) -> AsyncIterator[MiniStack]:
        async with run_stack(engine, nats_url, infra.s3_settings(), tmp_path,
                             hold_credits) as stack:
            yield stack

    return fixture


proof_stack = stack_fixture(ESTIMATE)
one_credit_stack = stack_fixture(1)


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


async def post_import(stack: MiniStack, api_key: str, url: str) -> httpx.Response:
    return await stack.gateway.post("/import", json={"url": url}, headers=bearer(api_key))


async def wait_for_final(stack: MiniStack, api_key: str, import_id: str) -> dict:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        response = await stack.gateway.get("/import/status", params={"id": import_id},
                                           headers=bearer(api_key))
        data = response.json()["data"]
        if data["status"] in ("completed", "failed"):
            return data
        await asyncio.sleep(0.2)
    raise AssertionError(f"import {import_id} did not finish within {SETTLE_TIMEOUT_SECONDS} s")


async def wait_until_settled(stack: MiniStack, account_id: str) -> ledger_pb2.Account:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        account = await stack.account(account_id)
        if account.held == 0:
            return account
        await asyncio.sleep(0.1)
    raise AssertionError(f"account {account_id} still holds credits")


async def wait_until_acked(stack: MiniStack, stream: str, consumer: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        info = await stack.js.consumer_info(stream, consumer)
        last = (await stack.js.stream_info(stream)).state.last_seq
        if info.ack_floor.stream_seq >= last and info.num_pending == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"consumer {consumer} did not ack everything on {stream}")


def running_sums(amounts: list[int]) -> list[int]:
    return list(itertools.accumulate(amounts))


async def test_fifty_imports_credits_for_ten(proof_stack, media_server):
    account_id, api_key = await proof_stack.create_account(10 * ESTIMATE, concurrent_imports=100)
    url = media_server.url(LARGE_CLIP)

    responses = await asyncio.gather(
        *(post_import(proof_stack, api_key, url) for _ in range(50))
    )

    accepted = [response for response in responses if response.status_code == 200]
    refused = [response for response in responses if response.status_code == 402]
    account = await proof_stack.account(account_id)
    amounts = proof_stack.entry_amounts(account_id)
    assert len(accepted) == 10
    assert len(refused) == 40
    assert {r.json()["details"]["needed"] for r in refused} == {ESTIMATE}
    assert {r.json()["details"]["available"] for r in refused} == {0}
    assert refused[0].json()["code"] == "insufficient_credits"
    assert account.balance == 0
    assert account.held == 10 * ESTIMATE
    assert sum(amounts) == account.balance
    assert min(running_sums(amounts)) >= 0


async def test_third_import_waits_for_slot(proof_stack, slow_media_server):
    account_id, api_key = await proof_stack.create_account(1000)
    url = slow_media_server.url(LARGE_CLIP)
    proof_stack.start_worker()
    first = await post_import(proof_stack, api_key, url)
    second = await post_import(proof_stack, api_key, url)

    third = await post_import(proof_stack, api_key, url)

    body = third.json()
    assert first.status_code == 200
    assert second.status_code == 200
    assert third.status_code == 429
    assert body["code"] == "concurrency_limited"
    assert body["concurrentLimit"] == 2
    assert body["currentConcurrent"] == 2
    assert body["endpoint"] == "/import"
    assert third.headers["retry-after"] == "5"
    assert third.headers["x-ratelimit-limit"] == "240"
    assert third.headers["x-ratelimit-remaining"] == "237"

    running = [response.json()["data"]["importId"] for response in (first, second)]
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while (retry := await post_import(proof_stack, api_key, url)).status_code == 429:
        assert time.monotonic() < deadline, "no slot was freed"
        await asyncio.sleep(0.2)
    finished = [await wait_for_final(proof_stack, api_key, import_id) for import_id in running]
    assert retry.status_code == 200
    assert {status["status"] for status in finished} == {"completed"}


async def test_settlement_and_redelivery_charge_once(proof_stack, media_server):
    account_id, api_key = await proof_stack.create_account(100)
    proof_stack.start_worker()
    started = await post_import(proof_stack, api_key, media_server.url(LARGE_CLIP))
    import_id = started.json()["data"]["importId"]
    status = await wait_for_final(proof_stack, api_key, import_id)
    settled = await wait_until_settled(proof_stack, account_id)

    # A worker killed after the ledger captured, but before it acked its job, gets the
    # job again from JetStream. It finds the final record and publishes the event again.
    job = events_pb2.ImportJob(import_id=import_id, account_id=account_id)
    await proof_stack.js.publish(bus.IMPORT_JOBS_SUBJECT, job.SerializeToString())
    # The same completed event twice more, past JetStream's duplicate window (no msg id).
    record = await proof_stack.records.get(import_id)
    event = events_pb2.ImportEvent(event_id=f"{import_id}.completed",
                                   type=events_pb2.EVENT_TYPE_IMPORT_COMPLETED, record=record)
    for _ in range(2):
        await proof_stack.js.publish(bus.EventType.IMPORT_COMPLETED.subject,
                                     event.SerializeToString())
    await wait_until_acked(proof_stack, bus.JOBS_STREAM, bus.IMPORTER_CONSUMER)
    await wait_until_acked(proof_stack, bus.EVENTS_STREAM, bus.LEDGER_CONSUMER)

    account = await proof_stack.account(account_id)
    assert status["status"] == "completed"
    assert settled.balance == 100 - status["creditsUsed"]
    assert account.balance == settled.balance
    assert proof_stack.entry_count(import_id, "capture") == 1
    assert sum(proof_stack.entry_amounts(account_id)) == account.balance


async def test_actual_size_above_estimate_charged(one_credit_stack, media_server, clips):
    account_id, api_key = await one_credit_stack.create_account(100)
    one_credit_stack.start_worker()

    started = await post_import(one_credit_stack, api_key, media_server.url(LARGE_CLIP))
    import_id = started.json()["data"]["importId"]
    status = await wait_for_final(one_credit_stack, api_key, import_id)
    account = await wait_until_settled(one_credit_stack, account_id)

    cost = -(-(clips / LARGE_CLIP).stat().st_size // 10**6)
    assert cost > 1
    assert status["status"] == "completed"
    assert status["creditsUsed"] == cost
    assert account.balance == 100 - cost
    assert sum(one_credit_stack.entry_amounts(account_id)) == account.balance


async def test_actual_size_beyond_balance_fails(one_credit_stack, media_server):
    account_id, api_key = await one_credit_stack.create_account(1)
    one_credit_stack.start_worker()

    started = await post_import(one_credit_stack, api_key, media_server.url(LARGE_CLIP))
    import_id = started.json()["data"]["importId"]
    status = await wait_for_final(one_credit_stack, api_key, import_id)
    account = await wait_until_settled(one_credit_stack, account_id)

    assert status["status"] == "failed"
    assert status["errorCode"] in ("too_large", "insufficient_credits")
    assert status["creditsUsed"] == 0
    assert account.balance == 1
    assert sum(one_credit_stack.entry_amounts(account_id)) == 1


@pytest.fixture
def gateway_processes(proof_stack, tmp_path) -> Iterator[list[str]]:
    """Run two `python -m services.gateway` processes on the stack's ledger."""
    managed, urls = [], []
    try:
        for index in range(2):
            port = launch.free_port()
            env = {
                **os.environ,
                "FERRY_GATEWAY_PORT": str(port),
                "FERRY_LEDGER_ADDR": proof_stack.ledger_address,
                "FERRY_IMPORTER_ADDR": f"127.0.0.1:{launch.free_port()}",
                "FERRY_NOTIFIER_ADDR": f"127.0.0.1:{launch.free_port()}",
                "FERRY_LOG_FORMAT": "text",
                "FERRY_METRICS_PORT": "0",
            }
            process = launch.spawn(f"gateway-{index}", [sys.executable, "-m", "services.gateway"],
                                   tmp_path / "logs", env=env)
            managed.append(process)
            launch.wait_for_port("127.0.0.1", port, process.process, timeout=30)
            urls.append(f"http://127.0.0.1:{port}")
        yield urls
    finally:
        for process in managed:
            process.stop()


async def test_two_gateways_share_rate_limit(proof_stack, gateway_processes):
    account_id, api_key = await proof_stack.create_account(10, status_per_hour=10)

    async with httpx.AsyncClient(headers=bearer(api_key), timeout=30) as client:
        responses = await asyncio.gather(*(
            client.get(f"{gateway_processes[index % 2]}/account") for index in range(14)
        ))

    accepted = [response for response in responses if response.status_code == 200]
    limited = [response for response in responses if response.status_code == 429]
    remaining = sorted(int(response.headers["x-ratelimit-remaining"]) for response in accepted)
    assert len(accepted) == 10
    assert len(limited) == 4
    assert remaining == list(range(10))
    assert {response.json()["limit"] for response in limited} == {10}


async def test_revoked_key_fails_on_both_gateways(proof_stack, gateway_processes):
    account_id, api_key = await proof_stack.create_account(10)
    keys = await proof_stack.ledger.ListApiKeys(
        ledger_pb2.ListApiKeysRequest(account_id=account_id), timeout=10
    )

    async with httpx.AsyncClient(headers=bearer(api_key), timeout=30) as client:
        before = [(await client.get(f"{url}/account")).status_code for url in gateway_processes]
        await proof_stack.ledger.RevokeApiKey(
            ledger_pb2.RevokeApiKeyRequest(account_id=account_id, key_id=keys.keys[0].key_id),
            timeout=10,
        )
        after = [(await client.get(f"{url}/account")).status_code for url in gateway_processes]

    assert before == [200, 200]
    assert after == [401, 401]
