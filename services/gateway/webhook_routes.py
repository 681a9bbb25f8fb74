"""The webhook endpoints beside the delivery log: redelivery and test events."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.gateway.auth import authenticated
from services.gateway.body import read_body
from services.gateway.parsing import decode_json_object, import_id_param, json_type
from services.gateway.peers import request_peers
from services.gateway.rendering import render_attempt
from services.shared import logs
from services.shared.errors import InvalidRequest

logger = logging.getLogger(__name__)


@authenticated
async def redeliver_webhook(request: Request, account_id: str) -> Response:
    import_id = import_id_param(request)

    with logs.bind(import_id=import_id):
        # GetImport raises NotFound for another account's import, as GET /import/webhooks does.
        await request_peers(request).get_import(account_id, import_id)
        queued = await request_peers(request).redeliver(account_id, import_id)
        logger.info("webhook redelivery %s queued", queued.delivery_id)

    data = {
        "importId": import_id,
        "deliveryId": queued.delivery_id,
        "messageId": queued.message_id,
        "eventType": queued.event_type,
        "url": queued.url,
        "status": "queued",
    }
    return JSONResponse({"success": True, "data": data}, status_code=202)


@authenticated
async def send_test_webhook(request: Request, account_id: str) -> Response:
    body = decode_json_object(await read_body(request))
    url = _string_field(body, "url", required=True)
    event_type = _string_field(body, "type", required=False)

    sent = await request_peers(request).send_test_webhook(account_id, url, event_type)

    attempt = render_attempt(sent.attempt)
    data: dict[str, Any] = {
        "delivered": attempt["outcome"] == "delivered",
        **attempt,
        "payload": json.loads(sent.body),
    }
    return JSONResponse({"success": True, "data": data})


def _string_field(body: dict[str, Any], name: str, *, required: bool) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidRequest(
                f'{name} is missing; send a JSON object such as {{"{name}": "https://..."}}',
                field=name,
            )
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(
            f"{name} must be of type string, got {json_type(value)}", field=name
        )
    return value.strip()


ROUTES = [
    Route("/import/webhooks/redeliver", redeliver_webhook, methods=["POST"]),
    Route("/webhooks/test", send_test_webhook, methods=["POST"]),
]
