"""Size limits and the temporary disk budget of an importer process."""

from __future__ import annotations

import asyncio

from services.importer.resources import DiskBudget, size_limit


def test_size_limit_names_account_limit():
    limit = size_limit(balance_bytes=10**9, account_bytes=100 * 10**6, disk_bytes=10**10)

    assert limit.max_bytes == 100 * 10**6
    assert limit.description == "the account's maximum file size of 100 MB"


def test_size_limit_names_balance():
    limit = size_limit(balance_bytes=5 * 10**6, account_bytes=4 * 10**9, disk_bytes=10**10)

    assert limit.max_bytes == 5 * 10**6
    assert "5 MB your credit balance covers" in limit.description


def test_size_limit_names_disk_setting():
    limit = size_limit(balance_bytes=10**10, account_bytes=0, disk_bytes=10**6)

    assert "FERRY_IMPORTER_TMP_MAX_BYTES" in limit.description


async def test_disk_budget_makes_second_job_wait():
    budget = DiskBudget(100)
    order: list[str] = []

    async def job(name: str, size: int, hold_seconds: float) -> None:
        async with budget.reserve(size):
            order.append(f"{name} start")
            await asyncio.sleep(hold_seconds)
            order.append(f"{name} end")

    first = asyncio.create_task(job("first", 80, 0.2))
    await asyncio.sleep(0.05)
    await asyncio.gather(first, job("second", 50, 0))

    assert order == ["first start", "first end", "second start", "second end"]
    assert budget.reserved == 0


async def test_disk_budget_caps_oversized_reservation():
    budget = DiskBudget(100)

    async with budget.reserve(10**9):
        assert budget.reserved == 100
