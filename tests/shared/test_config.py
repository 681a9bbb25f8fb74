"""Loading settings from an environment mapping, and describing them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from services.notifier.config import NotifierSettings
from services.shared.config import (
    ConfigError,
    LogSettings,
    NatsSettings,
    describe,
    group,
    load,
    setting,
)


@dataclass(frozen=True)
class ExampleSettings:
    workers: int = setting("FERRY_TEST_WORKERS", 4, "Worker count.")
    ratio: float = setting("FERRY_TEST_RATIO", 0.5, "A ratio.")
    enabled: bool = setting("FERRY_TEST_ENABLED", False, "A switch.")
    name: str = setting("FERRY_TEST_NAME", "ferry", "A name.")
    directory: Path = setting("FERRY_TEST_DIR", Path("data"), "A directory.")
    delays: tuple[float, ...] = setting("FERRY_TEST_DELAYS", (1.0, 2.0), "Delays in seconds.")
    limit: int | None = setting("FERRY_TEST_LIMIT", None, "An optional limit.")
    nats: NatsSettings = group(NatsSettings)


def test_load_defaults() -> None:
    assert load(ExampleSettings, {}) == ExampleSettings()


def test_load_parses_each_type() -> None:
    settings = load(
        ExampleSettings,
        {
            "FERRY_TEST_WORKERS": " 12 ",
            "FERRY_TEST_RATIO": "2.5",
            "FERRY_TEST_ENABLED": "yes",
            "FERRY_TEST_NAME": "other",
            "FERRY_TEST_DIR": "/var/lib/ferry",
            "FERRY_TEST_DELAYS": "5, 300,1800,",
            "FERRY_TEST_LIMIT": "7",
        },
    )

    assert settings.workers == 12
    assert settings.ratio == 2.5
    assert settings.enabled is True
    assert settings.name == "other"
    assert settings.directory == Path("/var/lib/ferry")
    assert settings.delays == (5.0, 300.0, 1800.0)
    assert settings.limit == 7


def test_load_empty_optional_is_none() -> None:
    assert load(ExampleSettings, {"FERRY_TEST_LIMIT": ""}).limit is None


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("ON", True), ("0", False), ("", False)]
)
def test_load_bool_forms(raw: str, expected: bool) -> None:
    assert load(ExampleSettings, {"FERRY_TEST_ENABLED": raw}).enabled is expected


def test_load_group_reads_its_variables() -> None:
    settings = load(ExampleSettings, {"FERRY_NATS_URL": "nats://127.0.0.1:4333"})

    assert settings.nats.url == "nats://127.0.0.1:4333"


def test_load_bad_int_names_variable_and_value() -> None:
    with pytest.raises(ConfigError) as caught:
        load(ExampleSettings, {"FERRY_TEST_WORKERS": "many"})

    assert "FERRY_TEST_WORKERS='many'" in str(caught.value)
    assert "not a valid integer" in str(caught.value)
    assert "whole number" in str(caught.value)


def test_load_bad_bool_names_variable() -> None:
    with pytest.raises(ConfigError, match="FERRY_TEST_ENABLED='maybe' is not a valid boolean"):
        load(ExampleSettings, {"FERRY_TEST_ENABLED": "maybe"})


def test_load_bad_list_item_names_variable() -> None:
    with pytest.raises(ConfigError, match="FERRY_TEST_DELAYS='5,soon'") as caught:
        load(ExampleSettings, {"FERRY_TEST_DELAYS": "5,soon"})

    assert "comma-separated list of number values" in str(caught.value)


def test_load_bad_value_in_group_names_variable() -> None:
    with pytest.raises(ConfigError, match="FERRY_WEBHOOK_TIMEOUT_SECONDS='ten'"):
        load(NotifierSettings, {"FERRY_WEBHOOK_TIMEOUT_SECONDS": "ten"})


def test_load_notifier_retry_schedule() -> None:
    settings = load(NotifierSettings, {"FERRY_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2"})

    assert settings.retry_schedule == (0.2, 0.2, 0.2)


def test_setting_rejects_list_default() -> None:
    with pytest.raises(TypeError, match="tuple"):
        setting("FERRY_TEST_LIST", [1, 2], "A list.")


def test_describe_includes_groups() -> None:
    docs = {doc.env: doc for doc in describe(ExampleSettings)}

    assert list(docs) == [
        "FERRY_TEST_WORKERS",
        "FERRY_TEST_RATIO",
        "FERRY_TEST_ENABLED",
        "FERRY_TEST_NAME",
        "FERRY_TEST_DIR",
        "FERRY_TEST_DELAYS",
        "FERRY_TEST_LIMIT",
        "FERRY_NATS_URL",
        "FERRY_NATS_REPLICAS",
    ]
    assert docs["FERRY_TEST_DELAYS"].default == (1.0, 2.0)
    assert docs["FERRY_TEST_WORKERS"].help == "Worker count."


def test_describe_notifier_settings() -> None:
    docs = {doc.env: doc for doc in describe(NotifierSettings)}

    assert docs["FERRY_NOTIFIER_GRPC_PORT"].default == 50063
    assert docs["FERRY_WEBHOOK_RETRY_SCHEDULE"].default == (
        5.0,
        300.0,
        1800.0,
        7200.0,
        18000.0,
        36000.0,
        36000.0,
    )
    assert docs["FERRY_ALLOW_PRIVATE_URLS"].default is False
    assert docs["FERRY_LOG_LEVEL"].default == LogSettings().level
