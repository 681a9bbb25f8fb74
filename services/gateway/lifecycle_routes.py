"""DELETE /import and GET /imports: cancel or delete an import, and list an account's imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ferry.importer.v1 import importer_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.gateway.auth import authenticated
from services.gateway.parsing import import_id_param
from services.gateway.peers import request_peers
from services.gateway.rendering import STATUS_VALUES, render_import
from services.shared import logs
from services.shared.errors import InvalidRequest

IDEMPOTENCY_HEADER = "Idempotency-Key"


@authenticated
async def cancel_import(request: Request, account_id: str) -> Response:
    import_id = import_id_param(request)
    with logs.bind(import_id=import_id):
        record = await request_peers(request).cancel_import(account_id, import_id)
    return JSONResponse({"success": True, "data": render_import(record)})


@authenticated
async def list_imports(request: Request, account_id: str) -> Response:
    list_request = parse_list_request(request.query_params)
    list_request.account_id = account_id
    page = await request_peers(request).list_imports(list_request)
    data: dict[str, Any] = {
        "imports": [render_import(record) for record in page.imports],
        "nextCursor": page.next_cursor or None,
    }
    return JSONResponse({"success": True, "data": data})


def parse_list_request(params: Any) -> importer_pb2.ListImportsRequest:
    """Turn the query of GET /imports into a ListImportsRequest; raises InvalidRequest."""
    result = importer_pb2.ListImportsRequest(cursor=params.get("cursor", "").strip())
    limit = params.get("limit", "").strip()
    if limit:
        if not limit.isdigit():
            raise InvalidRequest(
                f"limit {limit!r} is not a whole number; pass 1 to 100", field="limit"
            )
        result.page_size = int(limit)
    for name in ",".join(params.getlist("status")).split(","):
        name = name.strip()
        if not name:
            continue
        if name not in STATUS_VALUES:
            raise InvalidRequest(
                f"status {name!r} is not valid; use one of {', '.join(STATUS_VALUES)}",
                field="status",
            )
        result.statuses.append(STATUS_VALUES[name])
    for param, field in (("createdAfter", "created_after"), ("createdBefore", "created_before")):
        value = params.get(param, "").strip()
        if value:
            getattr(result, field).FromDatetime(_parse_time(param, value))
    return result


def _parse_time(param: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"{param} {value!r} is not a valid time; use ISO 8601 such as 2025-01-31T12:00:00Z",
            field=param,
        ) from None
    if moment.tzinfo is None:
        raise InvalidRequest(
            f"{param} {value!r} has no time zone; end it with Z or an offset such as +00:00",
            field=param,
        )
    return moment


ROUTES = [
    Route("/import", cancel_import, methods=["DELETE"]),
    Route("/imports", list_imports, methods=["GET"]),
]
