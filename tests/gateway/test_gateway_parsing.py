"""POST /import bodies: JSON decoding and the StartImportRequest they become."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway.parsing import decode_json_object, parse_import_request
from services.shared.errors import InvalidRequest

URL = "https://media.example/video.mp4"


def test_parse_url_only():
    request = parse_import_request({"url": URL})

    assert request.url == URL
    assert request.account_id == ""
    assert request.webhook_url == ""
    assert request.format.format == ""
    assert not request.format.HasField("include_video")
    assert not request.format.HasField("include_audio")


def test_parse_importly_fields():
    request = parse_import_request(
        {"url": URL, "format": "720p", "quality": "high", "webhook_url": "https://hook.example/"}
    )

    assert request.format.format == "720p"
    assert request.format.quality == "high"
    assert request.webhook_url == "https://hook.example/"


def test_parse_newer_fields():
    request = parse_import_request(
        {
            "url": URL,
            "webhookUrl": "https://hook.example/",
            "includeVideo": False,
            "includeAudio": True,
            "videoQuality": "1080p",
            "audioQuality": "best",
        }
    )

    assert request.webhook_url == "https://hook.example/"
    assert request.format.HasField("include_video")
    assert request.format.include_video is False
    assert request.format.include_audio is True
    assert request.format.video_quality == "1080p"
    assert request.format.audio_quality == "best"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(720, "720", id="int"),
        pytest.param(720.0, "720", id="whole-float"),
        pytest.param("480p", "480p", id="string"),
        pytest.param("bv*+ba/b", "bv*+ba/b", id="selector"),
    ],
)
def test_parse_format_value(value: Any, expected: str):
    assert parse_import_request({"url": URL, "format": value}).format.format == expected


def test_parse_null_fields_absent():
    request = parse_import_request(
        {"url": URL, "format": None, "webhook_url": None, "includeAudio": None}
    )

    assert request.format.format == ""
    assert request.webhook_url == ""
    assert not request.format.HasField("include_audio")


def test_parse_unknown_fields_ignored():
    assert parse_import_request({"url": URL, "callbackSecret": 1}).url == URL


def test_parse_same_webhook_in_both_names():
    hook = "https://hook.example/"

    request = parse_import_request({"url": URL, "webhook_url": hook, "webhookUrl": hook})

    assert request.webhook_url == hook


def test_parse_different_webhook_names_rejected():
    body = {"url": URL, "webhook_url": "https://a.example/", "webhookUrl": "https://b.example/"}

    with pytest.raises(InvalidRequest, match="webhook_url and webhookUrl differ") as caught:
        parse_import_request(body)

    assert caught.value.details == {"field": "webhook_url"}


@pytest.mark.parametrize("body", [{}, {"url": ""}, {"url": None}], ids=["absent", "empty", "null"])
def test_parse_missing_url(body: dict[str, Any]):
    with pytest.raises(InvalidRequest, match="url is missing") as caught:
        parse_import_request(body)

    assert caught.value.details == {"field": "url"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("url", 42, "url must be of type string, got number", id="url-number"),
        pytest.param("url", ["x"], "url must be of type string, got array", id="url-array"),
        pytest.param(
            "format", True, "format must be of type string or number, got boolean", id="format-bool"
        ),
        pytest.param(
            "format", [720], "format must be of type string or number, got array", id="format-list"
        ),
        pytest.param(
            "format",
            {"h": 1},
            "format must be of type string or number, got object",
            id="format-obj",
        ),
        pytest.param("quality", 3, "quality must be of type string, got number", id="quality"),
        pytest.param(
            "includeVideo", "yes", "includeVideo must be of type boolean, got string", id="video"
        ),
        pytest.param(
            "includeAudio", 1, "includeAudio must be of type boolean, got number", id="audio"
        ),
        pytest.param("webhookUrl", {}, "webhookUrl must be of type string, got object", id="hook"),
    ],
)
def test_parse_wrong_type(field: str, value: Any, message: str):
    body = {"url": URL, field: value}

    with pytest.raises(InvalidRequest, match=message) as caught:
        parse_import_request(body)

    assert caught.value.details["field"] == field


def test_decode_json_object():
    assert decode_json_object(b'{"url": "x"}') == {"url": "x"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"", "request body is empty", id="empty"),
        pytest.param(b'{"url": ', "request body is not valid JSON", id="truncated"),
        pytest.param(b"\xff\xfe\xfa", "request body is not valid JSON", id="not-utf8"),
        pytest.param(b'["x"]', "request body must be a JSON object, got array", id="array"),
        pytest.param(b'"x"', "request body must be a JSON object, got string", id="string"),
    ],
)
def test_decode_json_object_rejected(raw: bytes, message: str):
    with pytest.raises(InvalidRequest, match=message) as caught:
        decode_json_object(raw)

    assert caught.value.code == "invalid_json"
