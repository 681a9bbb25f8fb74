"""Request ids and the access log: one X-Request-Id and one INFO line per HTTP request."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.shared import logs

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
# Ids that endpoints store in request.state, for log lines written after the endpoint's
# own logs.bind() block has ended (the access log and the error handlers).
_STATE_IDS = ("account_id", "import_id")


def state_ids(scope: Scope) -> dict[str, str]:
    """Return the account and import ids that the endpoint stored in request.state."""
    state = scope.get("state", {})
    return {name: state[name] for name in _STATE_IDS if state.get(name)}


class AccessLogMiddleware:
    """Give each request a new id, bind it to the log context and log the outcome.

    The line contains the method, path, status and duration, with the request, account
    and import ids as record fields. Headers are never logged, so API keys stay out of it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        with logs.bind(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                duration_ms = (time.perf_counter() - started) * 1000
                logger.info(
                    "%s %s %d %.1f ms",
                    scope["method"],
                    scope["path"],
                    status,
                    duration_ms,
                    extra=state_ids(scope),
                )
