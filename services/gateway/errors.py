"""Render every failure as Importly's JSON error envelope, without internals.

FerryError and Starlette's HTTPException (unknown route, wrong method) go through
Starlette exception handlers. Any other exception is caught by UnexpectedErrorMiddleware
instead of an `Exception` handler. Starlette gives such a handler to its outermost
ServerErrorMiddleware, which re-raises the exception after sending the response, so
uvicorn would log the traceback a second time. That response would also lack the
X-Request-Id header and the access log line.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, ExceptionHandler, Message, Receive, Scope, Send

from services.gateway.access import state_ids
from services.shared import logs
from services.shared.errors import FerryError, InternalError

logger = logging.getLogger(__name__)

_HTTP_CODES = {404: "route_not_found", 405: "method_not_allowed"}


def exception_handlers() -> dict[Any, ExceptionHandler]:
    """Return the handlers to pass as `Starlette(exception_handlers=...)`."""
    return {
        FerryError: _ferry_error,
        HTTPException: _http_exception,
    }


async def _ferry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FerryError)
    status, body = exc.to_http()
    log = logger.warning if status >= 500 else logger.info
    with logs.bind(**state_ids(request.scope)):
        log("%s %s failed: %s (%s)", request.method, request.url.path, exc.message, exc.code)
    return JSONResponse(body, status_code=status, headers=exc.http_headers())


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no route {request.url.path}; see docs/api.md for the routes"
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} is not allowed on {request.url.path}; use {allowed}"
    else:
        message = exc.detail
    body = {
        "success": False,
        "error": message,
        "code": _HTTP_CODES.get(exc.status_code, "invalid_request"),
    }
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


class UnexpectedErrorMiddleware:
    """Log any exception that is not a FerryError and return a generic 500 response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        response_started = False

        async def send_tracking_start(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking_start)
        except Exception:
            with logs.bind(**state_ids(scope)):
                logger.exception(
                    "%s %s failed with an unexpected error", scope["method"], scope["path"]
                )
            if response_started:
                # A second response can't be sent, so the server has to close the connection.
                raise
            status, body = InternalError("internal error; retry later").to_http()
            await JSONResponse(body, status_code=status)(scope, receive, send)
