"""Read request bodies and turn the POST /import body into a StartImportRequest."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ferry.importer.v1 import importer_pb2
from starlette.requests import Request

from services.shared.errors import InvalidRequest

# Arrays and objects nested deeper than this are rejected; no request body needs more than 2.
MAX_JSON_DEPTH = 32
# Python refuses to convert integers of more than 4300 digits (sys.int_info).
_MAX_INT_DIGITS = 4300
# Import ids are "imp_" and a ULID; anything outside this alphabet and length is no id, and
# it is rejected before it reaches a log line or gRPC metadata, which must be printable ASCII.
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")

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
        body = json.loads(raw, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code="invalid_json",
        ) from exc
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            "request body is not valid JSON: it is not UTF-8 text", code="invalid_json"
        ) from exc
    except RecursionError:
        raise _too_deep() from None

    if not isinstance(body, dict):
        raise InvalidRequest(
            f"request body must be a JSON object, got {json_type(body)}", code="invalid_json"
        )
    _check_values(body)
    return body


def import_id_param(request: Request) -> str:
    """Return the `id` query parameter; raise InvalidRequest when it is missing or malformed.

    The id is also stored in `request.state` for the access log.
    """
    return id_param(
        request, "import", "importId", "POST /import", "imp_01jnb6s8q2y4k9v3m5x7c0d1ef"
    )


def id_param(request: Request, kind: str, id_field: str, origin: str, example: str) -> str:
    """Return the `id` query parameter naming a `kind` of job, checked like import ids."""
    job_id = request.query_params.get("id", "").strip()
    if not job_id:
        raise InvalidRequest(
            f"id is missing; pass the {kind} id as ?id=<{id_field}>", field="id"
        )
    if not _ID_PATTERN.fullmatch(job_id):
        raise InvalidRequest(
            f"id {_shorten(job_id)!r} is not {_article(kind)} {kind} id; pass the {id_field} "
            f"that {origin} returned, such as {example}",
            field="id",
        )
    request.state.import_id = job_id
    return job_id


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"


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
    """Return `format` as a string; a whole number such as 720 becomes its decimal string.

    A number is a height in pixels, so fractions, negative numbers and infinities are
    rejected here; the importer checks the height's range.
    """
    value = body.get("format")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    # bool is a subclass of int, so it has to be excluded before the number check.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type("format", "string or number", value)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise _not_a_height(value)
    if value < 0:
        raise _not_a_height(value)
    return str(int(value))


def _not_a_height(value: float) -> InvalidRequest:
    shown = "an infinite or out-of-range number" if math.isinf(value) else str(value)
    return InvalidRequest(
        f"format {shown} is not a height; pass a whole number of pixels such as 720, "
        'or a string such as "720p"',
        field="format",
    )


def _parse_int(text: str) -> int | float:
    # An integer too long to convert is out of every range, like 1e400, which json.loads
    # already turns into infinity; field checks then reject it with the field's name.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return -math.inf if text.startswith("-") else math.inf
    return int(text)


def _check_values(body: dict[str, Any]) -> None:
    """Reject nesting deeper than MAX_JSON_DEPTH and strings that are not valid Unicode.

    JSON's \\uXXXX escapes can encode a lone UTF-16 surrogate, which Python accepts in a
    str but which no UTF-8 encoder (protobuf's and the JSON response's included) can encode.
    """
    pending: list[tuple[Any, str, int]] = [(body, "", 0)]
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise _too_deep()
        if isinstance(value, str) and _has_surrogate(value):
            raise _surrogate_error(path, value)
        if isinstance(value, dict):
            for key, item in value.items():
                if _has_surrogate(key):
                    raise _surrogate_error(path, key, in_name=True)
                pending.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                pending.append((item, f"{path}[{index}]", depth + 1))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate_error(path: str, text: str, in_name: bool = False) -> InvalidRequest:
    where = path
    if in_name:
        where = f"a field name in {path}" if path else "a field name"
    position = next(index for index, char in enumerate(text) if "\ud800" <= char <= "\udfff")
    return InvalidRequest(
        f"{where} contains a lone UTF-16 surrogate ({text[position]!r} at position "
        f"{position}), which is not valid Unicode text; send UTF-8 text",
        code="invalid_json",
        field=path or "body",
    )


def _too_deep() -> InvalidRequest:
    return InvalidRequest(
        f"request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep; "
        "send a flat JSON object",
        code="invalid_json",
    )


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


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
