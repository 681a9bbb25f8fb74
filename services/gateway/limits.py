"""Rate limit classes of requests, and the rate limit headers of each response.

The ledger counts the requests (see services/ledger/limits.py), so every gateway replica
shares the counters; the gateway only names the limit and writes the headers. Responses
carry Importly's `X-RateLimit-*` headers and the IETF `RateLimit-Policy` and `RateLimit`
fields in the structured-field syntax of draft-ietf-httpapi-ratelimit-headers-10,
such as `RateLimit-Policy: "imports";q=240;w=3600` and `RateLimit: "imports";r=239;t=1800`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ferry.ledger.v1 import ledger_pb2
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.shared.errors import RateLimited

IMPORTS = "imports"
METADATA = "metadata"
STATUS = "status"
_STATE_KEY = "rate_limit"


@dataclass(frozen=True)
class LimitClass:
    limit: str
    # True when the gateway takes a concurrency slot for the request while it handles it.
    # Imports take theirs in the importer, which keeps it until the import settles.
    request_slot: bool


def classify(request: Request) -> LimitClass:
    """Return the limit of a request: POST /import counts as an import, /metadata and
    its sub-paths as metadata (their status polls excepted), and every other
    authenticated request, polls included, as a status request."""
    path = request.url.path.rstrip("/")
    if request.method == "POST" and path == "/import":
        return LimitClass(IMPORTS, request_slot=False)
    if path.startswith("/metadata") and not path.endswith("/status"):
        return LimitClass(METADATA, request_slot=True)
    return LimitClass(STATUS, request_slot=False)


def store_state(request: Request, state: ledger_pb2.RateLimitState) -> None:
    """Remember `state` for the headers of this request's response."""
    setattr(request.state, _STATE_KEY, state)


def store_rejection(request: Request, limit: str, error: RateLimited) -> None:
    """Remember the state that a rate limit rejection reports."""
    if error.code != RateLimited.code:
        return
    details = error.details
    store_state(
        request,
        ledger_pb2.RateLimitState(
            limit=limit,
            quota=int(details.get("limit", 0)),
            remaining=0,
            reset_at=int(details.get("reset", 0)),
            window_seconds=int(details.get("window", 0)),
            plan=str(details.get("plan", "")),
        ),
    )


def rate_limit_headers(state: ledger_pb2.RateLimitState, now: float) -> dict[str, str]:
    """Return Importly's and the IETF draft's headers for `state`."""
    seconds_left = max(0, state.reset_at - int(now))
    return {
        "X-RateLimit-Limit": str(state.quota),
        "X-RateLimit-Remaining": str(state.remaining),
        "X-RateLimit-Reset": str(state.reset_at),
        "X-RateLimit-Window": str(state.window_seconds),
        "X-RateLimit-Plan": state.plan,
        "RateLimit-Policy": f'"{state.limit}";q={state.quota};w={state.window_seconds}',
        "RateLimit": f'"{state.limit}";r={state.remaining};t={seconds_left}',
    }


class RateLimitHeadersMiddleware:
    """Add the rate limit headers to responses of requests that were counted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            state = scope.get("state", {}).get(_STATE_KEY)
            if message["type"] == "http.response.start" and state is not None:
                headers = MutableHeaders(scope=message)
                for name, value in rate_limit_headers(state, time.time()).items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
