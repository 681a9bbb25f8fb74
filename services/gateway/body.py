"""Read request bodies within a size cap and a time limit, before any JSON parsing."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from services.shared.errors import InvalidRequest

# Every JSON body the API accepts fits in a few kilobytes: URLs are capped at 8192
# characters each and a format selector at 1024.
MAX_BODY_BYTES = 64 * 1024
# Time allowed for the whole body. uvicorn (0.55) has no read timeout for a body that stops
# arriving, so a client that announces more bytes than it sends would hold the connection open.
BODY_TIMEOUT_SECONDS = 30.0


class _UnreadBodyError(InvalidRequest):
    """An error raised before the whole body was read, so the connection can't be reused."""

    def http_headers(self) -> dict[str, str]:
        # uvicorn closes the connection after a response with this header. Without it, a
        # client that keeps sending the rest of the body would keep the connection open.
        return {"Connection": "close"}


class BodyTooLarge(_UnreadBodyError):
    code = "body_too_large"
    http_status = 413


class BodyTimeout(_UnreadBodyError):
    code = "body_timeout"
    http_status = 408


async def read_body(request: Request) -> bytes:
    """Read the request body; raise BodyTooLarge past MAX_BODY_BYTES, BodyTimeout on a stall.

    A Content-Length over the cap is rejected before any byte is read, and a streamed body
    is read only up to the first chunk that crosses the cap.
    """
    declared = request.headers.get("content-length", "")
    # The length check comes first because int() rejects strings of over 4300 digits.
    if declared.isascii() and declared.isdigit():
        digits = declared.lstrip("0") or "0"
        if len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:
            raise _too_large()

    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT_SECONDS):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _too_large()
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(
            f"reading the request body timed out: it did not arrive within "
            f"{BODY_TIMEOUT_SECONDS:g} s; check that Content-Length matches the bytes sent",
            timeout_seconds=BODY_TIMEOUT_SECONDS,
        ) from None
    return b"".join(chunks)


def _too_large() -> BodyTooLarge:
    return BodyTooLarge(
        f"request body is larger than {MAX_BODY_BYTES} bytes; "
        "send only the fields the endpoint documents",
        max_bytes=MAX_BODY_BYTES,
    )
