"""The REST endpoints: POST /import, GET /import/status, GET /import/webhooks, GET /healthz.

The metadata endpoints are in metadata_routes.py.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.gateway.account_routes import ACCOUNT_ROUTES
from services.gateway.auth import authenticated
from services.gateway.body import read_body
from services.gateway.lifecycle_routes import IDEMPOTENCY_HEADER
from services.gateway.lifecycle_routes import ROUTES as LIFECYCLE_ROUTES
from services.gateway.metadata_routes import METADATA_ROUTES
from services.gateway.parsing import decode_json_object, import_id_param, parse_import_request
from services.gateway.peers import request_peers
from services.gateway.rendering import render_attempt, render_import, render_started
from services.gateway.webhook_routes import ROUTES as WEBHOOK_ROUTES
from services.shared import logs
from services.shared.errors import NotFound

logger = logging.getLogger(__name__)


@authenticated
async def start_import(request: Request, account_id: str) -> Response:
    body = decode_json_object(await read_body(request))
    import_request = parse_import_request(body)
    import_request.account_id = account_id
    import_request.idempotency_key = request.headers.get(IDEMPOTENCY_HEADER, "")

    record = await request_peers(request).start_import(import_request)
    request.state.import_id = record.import_id

    with logs.bind(import_id=record.import_id):
        logger.info("import queued")
    return _success(render_started(record))


@authenticated
async def import_status(request: Request, account_id: str) -> Response:
    import_id = import_id_param(request)
    with logs.bind(import_id=import_id):
        record = await request_peers(request).get_import(account_id, import_id)
    return _success(render_import(record))


@authenticated
async def import_webhooks(request: Request, account_id: str) -> Response:
    import_id = import_id_param(request)
    with logs.bind(import_id=import_id):
        # GetImport raises NotFound for another account's import, so the delivery log
        # of an import is only shown to its owner.
        await request_peers(request).get_import(account_id, import_id)
        try:
            deliveries = await request_peers(request).list_deliveries(account_id, import_id)
            attempts = [render_attempt(attempt) for attempt in deliveries.attempts]
        except NotFound:
            # The import exists, but it has no webhook URL or no attempt has been made yet.
            attempts = []
    return _success({"importId": import_id, "attempts": attempts})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


ROUTES = [
    Route("/import", start_import, methods=["POST"]),
    Route("/import/status", import_status, methods=["GET"]),
    Route("/import/webhooks", import_webhooks, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    *LIFECYCLE_ROUTES,
    *WEBHOOK_ROUTES,
    *ACCOUNT_ROUTES,
    *METADATA_ROUTES,
]


def _success(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"success": True, "data": data})
