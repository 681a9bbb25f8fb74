"""Ferry's error tree and its two mappings: to gRPC status codes and to HTTP responses.

Services raise `FerryError` subclasses. The gRPC server interceptor turns them into a
status code plus a `google.rpc.Status` carrying the code and details. Clients rebuild the
same error from it, and the gateway renders it as Importly's JSON error envelope.
"""

from __future__ import annotations

from typing import Any, ClassVar

import grpc


class FerryError(Exception):
    """Base of every error a client may see; `code` is stable and machine-readable."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    grpc_status: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_http(self) -> tuple[int, dict[str, Any]]:
        """Return the HTTP status and Importly's error body for this error.

        Detail keys are written in camelCase, like every other field of the REST API.
        """
        body: dict[str, Any] = {"success": False, "error": self.message, "code": self.code}
        if self.details:
            body["details"] = {_camel_case(key): value for key, value in self.details.items()}
        return self.http_status, body

    def http_headers(self) -> dict[str, str]:
        """Return the extra HTTP headers of this error's response."""
        return {}


def _camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


class InvalidRequest(FerryError):
    code = "invalid_request"
    http_status = 400
    grpc_status = grpc.StatusCode.INVALID_ARGUMENT


class Unauthenticated(FerryError):
    code = "unauthenticated"
    http_status = 401
    grpc_status = grpc.StatusCode.UNAUTHENTICATED


class InsufficientCredits(FerryError):
    code = "insufficient_credits"
    http_status = 402
    grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class NotFound(FerryError):
    code = "not_found"
    http_status = 404
    grpc_status = grpc.StatusCode.NOT_FOUND


class Conflict(FerryError):
    code = "conflict"
    http_status = 409
    grpc_status = grpc.StatusCode.ABORTED


class Unprocessable(FerryError):
    """A well-formed request that contradicts an earlier one, such as a reused Idempotency-Key."""

    code = "unprocessable"
    http_status = 422
    grpc_status = grpc.StatusCode.ALREADY_EXISTS


class RateLimited(FerryError):
    """A rate limit or the concurrency cap was hit.

    The details use Importly's 429 field names (`limit`, `remaining`, `reset`,
    `retryAfter`, `endpoint`, or `concurrentLimit`, `currentConcurrent`, `endpoint`),
    and the HTTP body repeats them at the top level, where Importly's clients read them.
    """

    code = "rate_limited"
    http_status = 429
    grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED
    # The code when the concurrency cap, rather than a rate limit, was hit.
    CONCURRENCY_CODE: ClassVar[str] = "concurrency_limited"

    def to_http(self) -> tuple[int, dict[str, Any]]:
        status, body = super().to_http()
        return status, {**self.details, **body}

    def http_headers(self) -> dict[str, str]:
        retry_after = self.details.get("retryAfter")
        return {"Retry-After": str(int(retry_after))} if retry_after is not None else {}


class Unavailable(FerryError):
    code = "unavailable"
    http_status = 503
    grpc_status = grpc.StatusCode.UNAVAILABLE


class InternalError(FerryError):
    """Something failed inside Ferry; the message never carries internals."""


ERROR_CLASSES: tuple[type[FerryError], ...] = (
    InvalidRequest,
    Unauthenticated,
    InsufficientCredits,
    NotFound,
    Conflict,
    Unprocessable,
    RateLimited,
    Unavailable,
    InternalError,
)

_BY_GRPC_STATUS = {cls.grpc_status: cls for cls in ERROR_CLASSES}
# Codes a peer may return without Ferry's details (a dead peer, a missed deadline).
_BY_GRPC_STATUS[grpc.StatusCode.DEADLINE_EXCEEDED] = Unavailable


def error_class_for(status: grpc.StatusCode) -> type[FerryError]:
    return _BY_GRPC_STATUS.get(status, InternalError)
