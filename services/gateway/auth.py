"""Bearer API key authentication and rate limits through the ledger, as an endpoint decorator."""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from services.gateway import limits
from services.gateway.peers import Peers, request_peers
from services.shared import logs
from services.shared.errors import FerryError, RateLimited, Unauthenticated

logger = logging.getLogger(__name__)

AuthenticatedEndpoint = Callable[[Request, str], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def authenticated(endpoint: AuthenticatedEndpoint) -> Endpoint:
    """Wrap `endpoint` so it runs only with a valid key and receives the account id.

    The same ledger call counts the request against the account's rate limit for its
    kind (see limits.classify) and, for metadata requests, takes a concurrency slot that
    is freed when the endpoint returns. The account id is bound to the log context for
    the rest of the request, so the gRPC client interceptor forwards it. It is also
    stored in `request.state` for the access log and the error handlers, which run after
    that block has ended.
    """

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        peers = request_peers(request)
        kind = limits.classify(request)
        slot_id = f"slot_{uuid.uuid4().hex}" if kind.request_slot else ""
        try:
            admitted = await peers.admit(
                bearer_token(request), kind.limit, request.url.path, slot_id
            )
        except RateLimited as error:
            limits.store_rejection(request, kind.limit, error)
            raise

        request.state.account_id = admitted.account_id
        limits.store_state(request, admitted.rate_limit)
        with logs.bind(account_id=admitted.account_id):
            try:
                return await endpoint(request, admitted.account_id)
            finally:
                if slot_id:
                    await _release_quietly(peers, slot_id)

    return wrapper


def bearer_token(request: Request) -> str:
    """Return the key of an `Authorization: Bearer <key>` header; raise Unauthenticated if none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("missing API key; send Authorization: Bearer <key>")
    return token


async def _release_quietly(peers: Peers, slot_id: str) -> None:
    # The slot's lease frees it later if this call fails.
    try:
        await peers.release_slot(slot_id)
    except FerryError as error:
        logger.warning("could not free concurrency slot %s: %s; its lease will free it",
                       slot_id, error.message)
