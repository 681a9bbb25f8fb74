"""Three importer processes share the work queue: 30 imports, each completed exactly once."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

import pytest
from ferry.importer.v1 import importer_pb2
from ferry.ledger.v1 import ledger_pb2
from minio import Minio

from tests import media
from tests.replicas.conftest import Importer, Status, is_final, scrape
from tools.devstack import Stack

pytestmark = pytest.mark.e2e

REPLICAS = 3
IMPORTS = 30
INITIAL_CREDITS = 100_000  # each import holds an estimated 100 credits until it finishes


@pytest.mark.timeout(300)
def test_three_importers_share_thirty_imports(
    replica_stack: Stack,
    start_importer: Callable[..., Importer],
    media_server: media.MediaServer,
):
    # Every import is queued at once, so lift the default cap of 2 running imports.
    limits = ledger_pb2.LimitsUpdate(concurrent_imports=IMPORTS)
    account = replica_stack.create_account("scaling", INITIAL_CREDITS, limits)
    importers = [start_importer(f"replica{index}") for index in range(REPLICAS)]
    url = media_server.url("small.mp4")

    # Every replica is consuming before the first job is queued, so all of them compete.
    import_ids = [
        importers[index % REPLICAS].start_import(account.account_id, url)
        for index in range(IMPORTS)
    ]
    records = wait_for_all(importers[0], account.account_id, import_ids, timeout=240)

    completions = collections.Counter(
        import_id for importer in importers for import_id in importer.completed_ids()
    )
    per_replica = [
        importer.metric("ferry_imports_total", status="completed") for importer in importers
    ]
    charged = sum(record.credits_used for record in records)
    settled = wait_for_settlement(replica_stack, account.account_id)
    objects = stored_objects(replica_stack, account.account_id)
    ledger_charged = scrape(replica_stack.metrics_url("ledger"), "ferry_credits_charged_total")
    statuses = [Status.Name(record.status) for record in records]

    assert statuses == ["IMPORT_STATUS_COMPLETED"] * IMPORTS
    assert [record.attempts for record in records] == [1] * IMPORTS
    assert sorted(completions) == sorted(import_ids)
    assert set(completions.values()) == {1}
    assert sum(per_replica) == IMPORTS
    assert all(count > 0 for count in per_replica), per_replica
    assert settled.balance == INITIAL_CREDITS - charged
    assert ledger_charged == charged
    assert len(objects) == IMPORTS


def wait_for_all(
    importer: Importer, account_id: str, import_ids: list[str], timeout: float
) -> list[importer_pb2.Import]:
    """Poll until every import is final, and return their records in the order of `import_ids`."""
    deadline = time.monotonic() + timeout
    final = {}
    while True:
        for import_id in import_ids:
            if import_id not in final:
                record = importer.get_import(account_id, import_id)
                if is_final(record):
                    final[import_id] = record
        if len(final) == len(import_ids):
            return [final[import_id] for import_id in import_ids]
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(final)} of {len(import_ids)} imports final after "
                                 f"{timeout} s")
        time.sleep(0.5)


def wait_for_settlement(stack: Stack, account_id: str, timeout: float = 30) -> ledger_pb2.Account:
    """Poll the ledger until none of the account's credits are held, then return the account."""
    deadline = time.monotonic() + timeout
    while True:
        account = stack.get_account(account_id)
        if account.held == 0:
            return account
        if time.monotonic() > deadline:
            raise AssertionError(f"{account.held} credits still held after {timeout} s")
        time.sleep(0.2)


def stored_objects(stack: Stack, account_id: str) -> list[str]:
    client = Minio(
        stack.env["FERRY_S3_ENDPOINT"],
        access_key=stack.env["FERRY_S3_ACCESS_KEY"],
        secret_key=stack.env["FERRY_S3_SECRET_KEY"],
        secure=False,
        region="us-east-1",
    )
    bucket = stack.env.get("FERRY_S3_BUCKET", "ferry-media")
    found = client.list_objects(bucket, prefix=f"{account_id}/", recursive=True)
    return [item.object_name for item in found]
