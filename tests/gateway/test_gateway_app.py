"""The gateway app over HTTP: auth, error envelopes, request ids and the access log."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.requests import Request
from starlette.routing import Route

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.shared import logs
from tests.gateway.conftest import Account, ClientFactory

URL = "https://media.example/video.mp4"


async def test_healthz_without_auth(make_client: ClientFactory):
    client = await make_client()

    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_unknown_route_envelope(make_client: ClientFactory):
    client = await make_client()

    response = await client.get("/import/nowhere")

    assert response.status_code == 404
    assert response.json()["success"] is False
    assert response.json()["code"] == "route_not_found"
    assert "/import/nowhere" in response.json()["error"]


async def test_wrong_method_envelope(make_client: ClientFactory):
    client = await make_client()

    response = await client.get("/import")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == "POST"


async def test_request_id_header_unique(make_client: ClientFactory):
    client = await make_client()

    first = await client.get("/healthz")
    second = await client.get("/healthz")

    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="absent"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic"),
        pytest.param({"Authorization": "Bearer "}, id="empty-key"),
        pytest.param({"Authorization": "fry_key-without-scheme"}, id="no-scheme"),
    ],
)
@pytest.mark.parametrize("path", ["/import/status?id=imp_1", "/import/webhooks?id=imp_1"])
async def test_missing_key_401(make_client: ClientFactory, headers: dict[str, str], path: str):
    client = await make_client()

    response = await client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": "missing API key; send Authorization: Bearer <key>",
        "code": "unauthenticated",
    }


async def test_missing_key_401_on_post(make_client: ClientFactory):
    client = await make_client()

    response = await client.post("/import", json={"url": URL})

    assert response.status_code == 401


async def test_unknown_key_401(make_client: ClientFactory, ledger_address: str):
    client = await make_client(ledger=ledger_address)

    response = await client.post(
        "/import", json={"url": URL}, headers={"Authorization": "Bearer fry_not-a-real-key"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "invalid or revoked API key" in response.json()["error"]


async def test_unreachable_ledger_503(make_client: ClientFactory, unreachable_address: str):
    client = await make_client()

    response = await client.post(
        "/import", json={"url": URL}, headers={"Authorization": "Bearer fry_some-key"}
    )

    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "error": "the ledger service is unavailable; retry later",
        "code": "unavailable",
        "details": {"service": "ledger"},
    }


async def test_unreachable_importer_503(
    make_client: ClientFactory, ledger_address: str, account: Account
):
    client = await make_client(ledger=ledger_address)

    response = await client.get("/import/status?id=imp_1", headers=account.headers)

    assert response.status_code == 503
    assert response.json()["error"] == "the importer service is unavailable; retry later"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b'{"url": ', "request body is not valid JSON", id="truncated"),
        pytest.param(b"", "request body is empty", id="empty"),
        pytest.param(b"[1, 2]", "request body must be a JSON object, got array", id="array"),
    ],
)
async def test_malformed_json_400(
    make_client: ClientFactory, ledger_address: str, account: Account, content: bytes, message: str
):
    client = await make_client(ledger=ledger_address)
    headers = {**account.headers, "Content-Type": "application/json"}

    response = await client.post("/import", content=content, headers=headers)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert response.json()["error"].startswith(message)


async def test_wrong_field_type_400(
    make_client: ClientFactory, ledger_address: str, account: Account
):
    client = await make_client(ledger=ledger_address)

    response = await client.post(
        "/import", json={"url": URL, "includeVideo": "yes"}, headers=account.headers
    )

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "includeVideo must be of type boolean, got string",
        "code": "invalid_request",
        "details": {"field": "includeVideo", "expected": "boolean"},
    }


@pytest.mark.parametrize("path", ["/import/status", "/import/status?id=", "/import/webhooks"])
async def test_missing_id_400(
    make_client: ClientFactory, ledger_address: str, account: Account, path: str
):
    client = await make_client(ledger=ledger_address)

    response = await client.get(path, headers=account.headers)

    assert response.status_code == 400
    assert response.json()["details"] == {"field": "id"}


async def test_unexpected_error_500(caplog: pytest.LogCaptureFixture):
    async def fail(request: Request) -> None:
        raise RuntimeError("secret internals: /var/lib/ferry")

    app = create_app(GatewaySettings())
    app.router.routes.append(Route("/fail", fail))
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        response = await client.get("/fail")

    assert response.status_code == 500
    assert response.json() == {
        "success": False,
        "error": "internal error; retry later",
        "code": "internal_error",
    }
    assert "x-request-id" in response.headers
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None


async def test_access_log_line(
    make_client: ClientFactory,
    ledger_address: str,
    account: Account,
    caplog: pytest.LogCaptureFixture,
):
    client = await make_client(ledger=ledger_address)
    caplog.handler.addFilter(logs.ContextFilter())
    caplog.set_level(logging.INFO)

    response = await client.get("/import/status", headers=account.headers)

    lines = [record for record in caplog.records if record.name == "services.gateway.access"]
    assert len(lines) == 1
    assert lines[0].getMessage().startswith("GET /import/status 400 ")
    assert lines[0].getMessage().endswith(" ms")
    assert lines[0].request_id == response.headers["x-request-id"]
    assert lines[0].account_id == account.account_id
    assert account.api_key not in caplog.text


async def test_error_log_carries_ids(
    make_client: ClientFactory,
    ledger_address: str,
    account: Account,
    caplog: pytest.LogCaptureFixture,
):
    client = await make_client(ledger=ledger_address)
    caplog.handler.addFilter(logs.ContextFilter())
    caplog.set_level(logging.INFO)

    response = await client.get("/import/status?id=imp_01", headers=account.headers)

    failures = [record for record in caplog.records if record.name == "services.gateway.errors"]
    assert response.status_code == 503
    assert len(failures) == 1
    assert failures[0].account_id == account.account_id
    assert failures[0].import_id == "imp_01"
    assert failures[0].request_id == response.headers["x-request-id"]
