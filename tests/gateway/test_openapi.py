"""The OpenAPI document: valid, in step with the app's routes, and matched by real responses."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from ferry.importer.v1 import importer_pb2
from ferry.ledger.v1 import ledger_pb2
from ferry.notifier.v1 import notifier_pb2
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.openapi import load_document
from services.gateway.rendering import render_attempt, render_import
from services.shared.metadata_view import render_metadata_job
from tests.gateway.conftest import Account, ClientFactory
from tests.gateway.test_gateway_limits import call_ledger, set_limits
from tests.gateway.test_gateway_rendering import (
    CREATED,
    completed_record,
    queued_record,
    timestamp,
)
from tests.gateway.test_gateway_round_trip import (  # noqa: F401 (the stack fixture)
    IMPORT_DEADLINE_SECONDS,
    Stack,
    stack,
)

DOCUMENT = load_document()
BASE_URI = "urn:ferry:openapi"
REGISTRY = Registry().with_resource(
    BASE_URI, Resource.from_contents(DOCUMENT, default_specification=DRAFT202012)
)
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
URL = "https://media.example/video.mp4"


def schema_errors(pointer: str, instance: Any) -> list[str]:
    """Return the messages of every way `instance` breaks the schema at `pointer`."""
    validator = Draft202012Validator(
        {"$ref": f"{BASE_URI}#{pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(instance)]


def response_object(path: str, method: str, status: int) -> tuple[str, dict[str, Any]]:
    """Return the JSON pointer and the object of the documented response, following a $ref."""
    escaped = path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{escaped}/{method}/responses/{status}"
    response = DOCUMENT["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        pointer = response["$ref"].removeprefix("#")
        response = resolve(response["$ref"])
    return pointer, response


def response_errors(response: httpx.Response, path: str) -> list[str]:
    """Return how `response` breaks the documented body of its route, method and status."""
    method = response.request.method.lower()
    pointer, _ = response_object(path, method, response.status_code)
    return schema_errors(f"{pointer}/content/application~1json/schema", response.json())


def resolve(reference: str) -> Any:
    """Return the part of the document that a local $ref such as '#/components/x' names."""
    node: Any = DOCUMENT
    for part in reference.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def local_references(node: Any) -> list[str]:
    """Return every $ref value in `node`, recursively."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in local_references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in local_references(value)]
    return []


def test_document_is_valid_openapi():
    validate(DOCUMENT)

    assert DOCUMENT["openapi"].startswith("3.1")


def test_document_references_resolve():
    references = set(local_references(DOCUMENT))

    assert references
    for reference in sorted(references):
        assert reference.startswith("#/"), reference
        resolve(reference)


def test_document_lists_every_app_route():
    app = create_app(GatewaySettings())
    # Starlette adds HEAD to every GET route by itself, as the document's description says.
    served = {
        (route.path, method.lower())
        for route in app.routes
        for method in route.methods
        if method != "HEAD"
    }
    documented = {
        (path, method)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }

    assert served - documented == set(), "routes missing from openapi.yaml"
    assert documented - served == set(), "documented routes the app does not serve"


def test_authenticated_routes_declare_bearer():
    scheme = DOCUMENT["components"]["securitySchemes"]["bearerAuth"]
    public = {"/healthz", "/readyz", "/openapi.json"}

    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert DOCUMENT["security"] == [{"bearerAuth": []}]
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            expected = [] if path in public else None
            assert operation.get("security") == expected, f"{method.upper()} {path}"


async def test_openapi_json_served(make_client: ClientFactory):
    client = await make_client()

    response = await client.get("/openapi.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DOCUMENT
    assert response_errors(response, "/openapi.json") == []


async def test_account_response_matches(make_client, ledger_address: str, account: Account):
    client = await make_client(ledger=ledger_address)

    response = await client.get("/account", headers=account.headers)

    _, documented = response_object("/account", "get", 200)
    assert response.status_code == 200
    assert response_errors(response, "/account") == []
    for header in documented["headers"]:
        assert header.lower() in response.headers, header


async def test_usage_page_matches(make_client, ledger_address: str, account: Account):
    client = await make_client(ledger=ledger_address)

    response = await client.get("/account/usage", params={"limit": 1}, headers=account.headers)

    assert response.status_code == 200
    assert response.json()["data"]["entries"]
    assert response_errors(response, "/account/usage") == []


async def test_rate_limited_429_matches(make_client, ledger_address: str, account: Account):
    await set_limits(ledger_address, account.account_id, status_per_hour=1)
    client = await make_client(ledger=ledger_address)
    await client.get("/account", headers=account.headers)

    response = await client.get("/account", headers=account.headers)

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response_errors(response, "/account") == []


async def test_concurrency_429_matches(make_client, ledger_address: str, account: Account):
    await set_limits(ledger_address, account.account_id, concurrent_metadata=1)
    # A metadata request that another gateway is still handling takes the only slot.
    slot_request = ledger_pb2.AuthenticateRequest(
        api_key=account.api_key,
        limit="metadata",
        endpoint="/metadata",
        slot_id=f"slot_{uuid.uuid4().hex}",
    )
    await call_ledger(ledger_address, "Authenticate", slot_request)
    client = await make_client(ledger=ledger_address)

    response = await client.get("/metadata", params={"url": URL}, headers=account.headers)

    assert response.status_code == 429
    assert response.json()["code"] == "concurrency_limited"
    assert response_errors(response, "/metadata") == []


@pytest.mark.parametrize(
    ("method", "path", "request_args", "status", "code"),
    [
        pytest.param("GET", "/import/status", {"params": {"id": "imp_1"}}, 401,
                     "unauthenticated", id="no-key"),
        pytest.param("GET", "/import/status", {}, 400, "invalid_request", id="missing-id"),
        pytest.param("POST", "/import", {"content": b'{"url": '}, 400, "invalid_json",
                     id="malformed-json"),
        pytest.param("POST", "/import", {"content": b"x" * 70_000}, 413, "body_too_large",
                     id="body-too-large"),
        pytest.param("POST", "/import", {"json": {"url": URL}}, 503, "unavailable",
                     id="importer-unreachable"),
    ],
)
async def test_error_response_matches(
    make_client: ClientFactory,
    ledger_address: str,
    account: Account,
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    code: str,
):
    client = await make_client(ledger=ledger_address)
    headers = {} if status == 401 else account.headers

    response = await client.request(method, path, headers=headers, **request_args)

    details = response.json().get("details", {})
    documented = DOCUMENT["components"]["schemas"]["Error"]["properties"]["details"]
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response_errors(response, path) == []
    assert set(details) <= set(documented["properties"])


def import_records() -> list[importer_pb2.Import]:
    """Return one import record in each status, as the importer stores them."""
    importing = queued_record()
    importing.status = importer_pb2.IMPORT_STATUS_IMPORTING
    importing.progress.downloaded_bytes = 1_000
    importing.progress.total_bytes = 4_000
    importing.progress.percent = 25.0

    failed = queued_record()
    failed.status = importer_pb2.IMPORT_STATUS_FAILED
    failed.error_code = "download_failed"

    cancelled = queued_record()
    cancelled.status = importer_pb2.IMPORT_STATUS_CANCELLED
    cancelled.cancelled_at.CopyFrom(cancelled.created_at)

    expired = completed_record()
    expired.status = importer_pb2.IMPORT_STATUS_EXPIRED
    expired.expired_at.CopyFrom(expired.expires_at)
    return [queued_record(), importing, completed_record(), failed, cancelled, expired]


@pytest.mark.parametrize(
    "record", import_records(), ids=lambda record: render_import(record)["status"]
)
def test_import_rendering_matches(record: importer_pb2.Import):
    assert schema_errors("/components/schemas/Import", render_import(record)) == []


def test_undocumented_field_rejected():
    data = {**render_import(completed_record()), "surprise": 1}

    assert schema_errors("/components/schemas/Import", data) != []


def metadata_jobs() -> list[importer_pb2.MetadataJob]:
    """Return a full and a basic completed metadata job, a failed one and a queued one."""
    full = importer_pb2.MetadataJob(
        metadata_id="meta_01",
        url=URL,
        status=importer_pb2.METADATA_STATUS_COMPLETED,
        message="Metadata extracted",
        metadata=importer_pb2.MediaMetadata(
            title="Clip",
            duration_seconds=3.0,
            presets=[
                importer_pb2.FormatPreset(
                    name="720p", selector="bv*[height<=720]+ba", ext="mp4", height=720,
                    width=1280, vcodec="avc1", acodec="mp4a.40.2",
                    estimated_size_bytes=411_000, estimated_credits=1,
                ),
                importer_pb2.FormatPreset(name="audio only", selector="ba", ext="m4a"),
            ],
        ),
        created_at=timestamp(CREATED),
    )
    basic = importer_pb2.MetadataJob()
    basic.CopyFrom(full)
    basic.basic = True
    failed = importer_pb2.MetadataJob(
        metadata_id="meta_02", url=URL, status=importer_pb2.METADATA_STATUS_FAILED,
        message="no media found", error_code="no_media",
    )
    queued = importer_pb2.MetadataJob(
        metadata_id="meta_03", url=URL, status=importer_pb2.METADATA_STATUS_QUEUED,
    )
    return [full, basic, failed, queued]


@pytest.mark.parametrize("job", metadata_jobs(), ids=["full", "basic", "failed", "queued"])
def test_metadata_rendering_matches(job: importer_pb2.MetadataJob):
    assert schema_errors("/components/schemas/MetadataJob", render_metadata_job(job)) == []


def test_webhook_attempt_rendering_matches():
    attempt = notifier_pb2.DeliveryAttempt(
        message_id="imp_01.completed",
        event_type="import.completed",
        url="https://hooks.example/ferry",
        attempt=2,
        attempted_at=timestamp(CREATED),
        latency_seconds=0.5,
        error="connection refused",
        outcome=notifier_pb2.DELIVERY_OUTCOME_RETRYING,
    )

    rendered = render_attempt(attempt)

    assert rendered["httpStatus"] is None
    assert schema_errors("/components/schemas/WebhookAttempt", rendered) == []


async def test_import_journey_matches(
    make_client: ClientFactory,
    ledger_address: str,
    account: Account,
    stack: Stack,  # noqa: F811 (the fixture imported above)
):
    client = await make_client(
        ledger=ledger_address, importer=stack.importer, notifier=stack.notifier
    )
    started = await client.post(
        "/import", json={"url": stack.media_url, "webhookUrl": stack.webhook_url},
        headers=account.headers,
    )
    import_id = started.json()["data"]["importId"]
    statuses = await poll_until(client, account, "/import/status", import_id,
                                lambda data: data["status"] in ("completed", "failed"))
    attempts = await poll_until(client, account, "/import/webhooks", import_id,
                                lambda data: bool(data["attempts"]))
    listed = await client.get("/imports", params={"limit": 5}, headers=account.headers)
    redelivered = await client.post("/import/webhooks/redeliver", params={"id": import_id},
                                    headers=account.headers)
    deleted = await client.delete("/import", params={"id": import_id}, headers=account.headers)

    assert started.status_code == 200
    assert response_errors(started, "/import") == []
    assert statuses[-1].json()["data"]["status"] == "completed"
    for status in statuses:
        assert response_errors(status, "/import/status") == []
    assert response_errors(attempts[-1], "/import/webhooks") == []
    assert response_errors(listed, "/imports") == []
    assert redelivered.status_code == 202
    assert response_errors(redelivered, "/import/webhooks/redeliver") == []
    assert deleted.json()["data"]["status"] == "expired"
    assert response_errors(deleted, "/import") == []


async def test_metadata_and_test_webhook_match(
    make_client: ClientFactory,
    ledger_address: str,
    account: Account,
    stack: Stack,  # noqa: F811 (the fixture imported above)
):
    client = await make_client(
        ledger=ledger_address, importer=stack.importer, notifier=stack.notifier
    )
    started = await client.get("/metadata", params={"url": stack.media_url},
                               headers=account.headers)
    job_id = started.json()["data"]["metadataId"]
    statuses = await poll_until(client, account, "/metadata/status", job_id,
                                lambda data: data["status"] in ("completed", "failed"))
    basic = await client.post("/metadata/basic", json={"url": stack.media_url},
                              headers=account.headers)
    test_webhook = await client.post("/webhooks/test", json={"url": stack.webhook_url},
                                     headers=account.headers)

    assert started.status_code in (200, 202)
    assert response_errors(started, "/metadata") == []
    assert statuses[-1].json()["data"]["status"] == "completed"
    assert statuses[-1].json()["data"]["presets"]
    for status in statuses:
        assert response_errors(status, "/metadata/status") == []
    assert basic.status_code in (200, 202)
    assert response_errors(basic, "/metadata/basic") == []
    assert test_webhook.json()["data"]["delivered"] is True
    assert response_errors(test_webhook, "/webhooks/test") == []


async def poll_until(
    client: httpx.AsyncClient,
    account: Account,
    path: str,
    job_id: str,
    done: Callable[[dict[str, Any]], bool],
) -> list[httpx.Response]:
    """Poll `path?id=job_id` until `done(data)` is true, and return every response."""
    responses = []
    async with asyncio.timeout(IMPORT_DEADLINE_SECONDS):
        while True:
            response = await client.get(path, params={"id": job_id}, headers=account.headers)
            responses.append(response)
            if done(response.json()["data"]):
                return responses
            await asyncio.sleep(0.2)
