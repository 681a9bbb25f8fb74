"""Bearer API key authentication through the ledger, as a decorator for endpoints."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from services.gateway.peers import request_peers
from services.shared import logs
from services.shared.errors import Unauthenticated

AuthenticatedEndpoint = Callable[[Request, str], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def authenticated(endpoint: AuthenticatedEndpoint) -> Endpoint:
    """Wrap `endpoint` so it runs only with a valid key and receives the account id.

    The account id is bound to the log context for the rest of the request, so the gRPC
    client interceptor forwards it. It is also stored in `request.state` for the access
    log and the error handlers, which run after that block has ended.
    """

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        account_id = await request_peers(request).authenticate(bearer_token(request))
        request.state.account_id = account_id
        with logs.bind(account_id=account_id):
            return await endpoint(request, account_id)

    return wrapper


def bearer_token(request: Request) -> str:
    """Return the key of an `Authorization: Bearer <key>` header; raise Unauthenticated if none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("missing API key; send Authorization: Bearer <key>")
    return token
