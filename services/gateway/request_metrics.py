"""Prometheus metrics of the gateway's HTTP requests: a count by status and a latency histogram."""

from __future__ import annotations

import time

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.shared import metrics

# The route label of requests that matched no route, so random paths can't add series.
UNMATCHED_ROUTE = "unmatched"


class RequestMetricsMiddleware:
    """Count each HTTP request by route template, method and status, and time it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        status = 500
        started = time.perf_counter()

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            route = route_label(scope)
            method = scope["method"]
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUEST_SECONDS.labels(route=route, method=method).observe(elapsed)
            metrics.HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()


def route_label(scope: Scope) -> str:
    """Return the path template of the route that handled the request, or UNMATCHED_ROUTE."""
    # Starlette's router stores the matched route in the scope (release 1.10 does; older
    # ones may not). Without it, a path equal to a route's path template matched that route.
    route = scope.get("route")
    if isinstance(route, BaseRoute) and hasattr(route, "path"):
        return str(route.path)
    app = scope.get("app")
    paths = {getattr(item, "path", None) for item in getattr(app, "routes", ())}
    if scope["path"] in paths:
        return str(scope["path"])
    return UNMATCHED_ROUTE
