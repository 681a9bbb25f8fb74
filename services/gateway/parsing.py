"""Read request bodies and turn the POST /import body into a StartImportRequest."""

from __future__ import annotations

import json
from typing import Any

from ferry.importer.v1 import importer_pb2

from services.shared.errors import InvalidRequest

# JSON field name -> FormatRequest field name.
_STRING_FIELDS = {
    "quality": "quality",
    "videoQuality": "video_quality",
    "audioQuality": "audio_quality",
}
_BOOLEAN_FIELDS = {"includeVideo": "include_video", "includeAudio": "include_audio"}


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """Parse `raw` as a JSON object, raising InvalidRequest for anything else."""
    if not raw.strip():
        raise InvalidRequest(
            'request body is empty; send a JSON object such as {"url": "https://..."}',
            code="invalid_json",
        )
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="invalid_json",
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            "request body is not valid JSON: it is not UTF-8 text", code="invalid_json"
        ) from exc

    if not isinstance(body, dict):
        raise InvalidRequest(
            f"request body must be a JSON object, got {json_type(body)}", code="invalid_json"
        )
    return body


def parse_import_request(body: dict[str, Any]) -> importer_pb2.StartImportRequest:
    """Build the StartImportRequest for a POST /import body; account_id is left empty.

    Accepts Importly's fields (`url`, `format`, `quality`, `webhook_url`) and its newer
    ones (`webhookUrl`, `includeVideo`, `includeAudio`, `videoQuality`, `audioQuality`).
    Unknown fields are ignored and JSON null counts as absent. The importer validates
    the values themselves; this only checks their types.
    """
    url = _optional_string(body, "url")
    if not url:
        raise InvalidRequest('url is missing; pass the media URL to import as "url"', field="url")

    format_request = importer_pb2.FormatRequest(format=_format(body))
    for name, proto_field in _STRING_FIELDS.items():
        value = _optional_string(body, name)
        if value is not None:
            setattr(format_request, proto_field, value)
    for name, proto_field in _BOOLEAN_FIELDS.items():
        value = _optional_boolean(body, name)
        if value is not None:
            setattr(format_request, proto_field, value)

    return importer_pb2.StartImportRequest(
        url=url, format=format_request, webhook_url=_webhook_url(body)
    )


def parse_metadata_request(fields: dict[str, Any]) -> importer_pb2.StartMetadataRequest:
    """Build the StartMetadataRequest for a /metadata body or query (`url`, a webhook URL)."""
    url = _optional_string(fields, "url")
    if not url:
        raise InvalidRequest(
            'url is missing; pass the media URL as "url" in the body or as ?url=', field="url"
        )
    return importer_pb2.StartMetadataRequest(url=url, webhook_url=_webhook_url(fields))


def json_type(value: object) -> str:
    """Return the JSON name of `value`'s type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _format(body: dict[str, Any]) -> str:
    """Return `format` as a string; a number such as 720 becomes its decimal string."""
    value = body.get("format")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # bool is a subclass of int, so it has to be excluded before the number check.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    raise _wrong_type("format", "string or number", value)


def _webhook_url(body: dict[str, Any]) -> str:
    """Return the webhook URL from `webhook_url` or `webhookUrl`, which must agree."""
    snake = _optional_string(body, "webhook_url")
    camel = _optional_string(body, "webhookUrl")
    if snake and camel and snake != camel:
        raise InvalidRequest(
            "webhook_url and webhookUrl differ; send only one of them",
            field="webhook_url",
        )
    return snake or camel or ""


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _wrong_type(name, "string", value)


def _optional_boolean(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise _wrong_type(name, "boolean", value)


def _wrong_type(name: str, expected: str, value: object) -> InvalidRequest:
    return InvalidRequest(
        f"{name} must be of type {expected}, got {json_type(value)}",
        field=name,
        expected=expected,
    )
