"""The error tree's HTTP bodies and its gRPC status table."""

from __future__ import annotations

import grpc
import pytest

from services.shared.errors import (
    Conflict,
    FerryError,
    InsufficientCredits,
    InternalError,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    error_class_for,
)
from services.shared.netguard import BlockedAddressError


@pytest.mark.parametrize(
    ("error_class", "status", "code"),
    [
        (InvalidRequest, 400, "invalid_request"),
        (Unauthenticated, 401, "unauthenticated"),
        (InsufficientCredits, 402, "insufficient_credits"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (RateLimited, 429, "rate_limited"),
        (Unavailable, 503, "unavailable"),
        (InternalError, 500, "internal_error"),
        (BlockedAddressError, 400, "blocked_address"),
    ],
)
def test_to_http_status_and_code(error_class: type[FerryError], status: int, code: str) -> None:
    assert error_class("something failed").to_http() == (
        status,
        {"success": False, "error": "something failed", "code": code},
    )


def test_to_http_includes_details() -> None:
    error = InsufficientCredits("balance 0 can't cover 5 credits", required=5, balance=0)

    assert error.to_http() == (
        402,
        {
            "success": False,
            "error": "balance 0 can't cover 5 credits",
            "code": "insufficient_credits",
            "details": {"required": 5, "balance": 0},
        },
    )


def test_code_override_stays_on_instance() -> None:
    error = InvalidRequest("url is not valid", code="invalid_url", field="url")

    assert error.to_http()[1]["code"] == "invalid_url"
    assert InvalidRequest("other").code == "invalid_request"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidRequest),
        (grpc.StatusCode.FAILED_PRECONDITION, InsufficientCredits),
        (grpc.StatusCode.NOT_FOUND, NotFound),
        (grpc.StatusCode.UNAVAILABLE, Unavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, Unavailable),
        (grpc.StatusCode.INTERNAL, InternalError),
        (grpc.StatusCode.DATA_LOSS, InternalError),
    ],
)
def test_error_class_for_status(status: grpc.StatusCode, error_class: type[FerryError]) -> None:
    assert error_class_for(status) is error_class
