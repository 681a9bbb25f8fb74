"""`ferry streams ensure` with FERRY_NATS_REPLICAS, against the test nats-server."""

from __future__ import annotations

import pytest

from services import cli
from tests.conftest import Infra


def test_streams_ensure_too_many_replicas_names_variable(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The test server is a single node, so three copies of a stream can't be placed.
    monkeypatch.setenv("FERRY_NATS_URL", infra.nats_url)
    monkeypatch.setenv("FERRY_NATS_REPLICAS", "3")

    code = cli.main(["streams", "ensure"])

    error = capsys.readouterr().err
    assert code == 1
    assert error.count("\n") == 1
    assert "FERRY_NATS_REPLICAS=3 is at most the number of NATS servers" in error


def test_streams_ensure_one_replica_succeeds(
    infra: Infra, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FERRY_NATS_URL", infra.nats_url)
    monkeypatch.setenv("FERRY_NATS_REPLICAS", "1")

    code = cli.main(["streams", "ensure"])

    assert code == 0
    assert "streams and buckets are in place" in capsys.readouterr().out
