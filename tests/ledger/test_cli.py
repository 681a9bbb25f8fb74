"""The `ferry` command, run as a subprocess against a real ledger service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ferry.ledger.v1 import ledger_pb2, ledger_pb2_grpc
from sqlalchemy import inspect

from services.ledger import database
from services.shared import rpc
from tools import launch

FERRY = str(Path(sys.executable).parent / "ferry")


def ferry(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FERRY, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def ledger_process(infra, database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Run `python -m services.ledger` and return its address and log file."""
    port = launch.free_port()
    env = {
        **os.environ,
        "FERRY_LEDGER_GRPC_PORT": str(port),
        "FERRY_NATS_URL": infra.nats_url,
        "FERRY_DATA_DIR": str(tmp_path / "data"),
        "FERRY_DATABASE_URL": database_url,
        "FERRY_LOG_FORMAT": "text",
    }
    managed = launch.spawn("ledger", [sys.executable, "-m", "services.ledger"],
                           tmp_path / "logs", env=env)
    try:
        launch.wait_for_port("127.0.0.1", port, managed.process, timeout=30)
        yield f"127.0.0.1:{port}", managed.log_path
    finally:
        managed.stop()
    assert managed.process.returncode == 0


def test_cli_accounts_create_prints_json(ledger_process):
    address, log_path = ledger_process

    result = ferry("accounts", "create", "--name", "cli test", "--credits", "1000",
                   env={"FERRY_LEDGER_ADDR": address})

    output = json.loads(result.stdout)
    assert result.returncode == 0
    assert set(output) == {"accountId", "apiKey", "webhookSecret", "credits"}
    assert output["credits"] == 1000
    assert output["apiKey"] not in log_path.read_text()
    assert f"ledger listening on {address}" in log_path.read_text()


async def test_cli_created_key_authenticates(ledger_process):
    address, _log_path = ledger_process
    result = ferry("accounts", "create", "--name", "cli test", "--credits", "5",
                   env={"FERRY_LEDGER_ADDR": address})
    output = json.loads(result.stdout)

    async with rpc.open_channel(address) as channel:
        stub = ledger_pb2_grpc.LedgerServiceStub(channel)
        response = await stub.Authenticate(
            ledger_pb2.AuthenticateRequest(api_key=output["apiKey"]), timeout=10
        )

    assert response.account_id == output["accountId"]


def test_cli_invalid_credits_fails(ledger_process):
    address, _log_path = ledger_process

    result = ferry("accounts", "create", "--name", "x", "--credits", "-5",
                   env={"FERRY_LEDGER_ADDR": address})

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "credits must be 0 or more" in result.stderr


def test_cli_ledger_unreachable():
    address = f"127.0.0.1:{launch.free_port()}"

    result = ferry("accounts", "create", "--name", "x", "--credits", "1",
                   env={"FERRY_LEDGER_ADDR": address, "FERRY_GRPC_TIMEOUT_SECONDS": "5"})

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert address in result.stderr
    assert "make run" in result.stderr


def test_cli_db_upgrade_creates_schema(empty_database_url):
    result = ferry("db", "upgrade", env={"FERRY_DATABASE_URL": empty_database_url})

    engine = database.create_engine(empty_database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert result.returncode == 0
    assert "accounts" in tables


def test_cli_db_upgrade_bad_url():
    result = ferry("db", "upgrade", env={"FERRY_DATABASE_URL": "nosuchdb://x"})

    assert result.returncode == 1
    assert result.stderr.startswith("ferry: ")
    assert result.stderr.count("\n") == 1
