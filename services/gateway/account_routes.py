"""The account endpoints: GET /account and GET /account/usage."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.gateway.auth import authenticated
from services.gateway.peers import request_peers
from services.ledger import rendering
from services.shared.errors import InvalidRequest


@authenticated
async def account(request: Request, account_id: str) -> Response:
    """Return the balance, held credits, limits and this month's usage."""
    found = await request_peers(request).get_account(account_id)
    return JSONResponse({"success": True, "data": rendering.render_account(found)})


@authenticated
async def account_usage(request: Request, account_id: str) -> Response:
    """Return one page of ledger entries, newest first; `cursor` continues a listing."""
    page_size = _page_size(request.query_params.get("limit", ""))
    cursor = request.query_params.get("cursor", "")
    page = await request_peers(request).list_entries(account_id, page_size, cursor)
    data = {
        "entries": [rendering.render_entry(entry) for entry in page.entries],
        "nextCursor": page.next_cursor or None,
    }
    return JSONResponse({"success": True, "data": data})


ACCOUNT_ROUTES = [
    Route("/account", account, methods=["GET"]),
    Route("/account/usage", account_usage, methods=["GET"]),
]


def _page_size(raw: str) -> int:
    """Return ?limit= as a number; 0 (absent) lets the ledger use its default of 50."""
    if not raw.strip():
        return 0
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        # 0 would silently mean the default page size, so it is rejected like -1.
        raise InvalidRequest(
            f"limit {raw!r} is not a page size; pass a whole number from 1 to 200",
            field="limit", value=raw,
        )
    return size
