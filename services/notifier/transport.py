"""An HTTP client for webhooks that checks every address it connects to.

Checking a webhook URL once, when the import is created, is not enough: its host name
can resolve to a public address then and to 127.0.0.1 or 169.254.169.254 when the
webhook is sent (DNS rebinding). So the client resolves the host name itself at connect
time, checks every address with `netguard.check_address`, and connects to a checked IP.
httpcore still passes the URL's host name to TLS, so SNI and certificate verification
are unchanged. A blocked address raises `netguard.BlockedAddressError`, which httpx
passes through untouched because it is not an httpcore error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Iterable

import httpcore
import httpx

from services.shared import netguard

logger = logging.getLogger(__name__)

USER_AGENT = "Ferry-Webhooks/1"
# Idle connections kept open for the next webhook to the same receiver (httpx's defaults).
KEEPALIVE_CONNECTIONS = 20
KEEPALIVE_EXPIRY_SECONDS = 5.0


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolve host names, reject blocked addresses, then connect to the checked IPs."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port)
        # Every address is checked before any is tried, as a client may fall back to each.
        for address in addresses:
            netguard.check_address(address, self._allow_private, host)

        last_error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                logger.debug("connecting to %s (%s) port %d failed: %s", host, address, port, exc)
                last_error = exc
        assert last_error is not None  # _resolve returns at least one address
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError(f"webhooks can't use Unix sockets; {path} was requested")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


async def _resolve(host: str, port: int) -> list[netguard.IPAddress]:
    literal = netguard.parse_host_address(host)
    if literal is not None:
        return [literal]

    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"could not resolve host {host!r}: {exc.strerror}") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    # getaddrinfo can list one address several times; keep the first of each.
    return list(dict.fromkeys(addresses))


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's default transport, on a connection pool that uses GuardedNetworkBackend."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        # NOTE: httpx (0.28, 0.29) has no public option for httpcore's network backend, so
        # the pool that the base class built is replaced by one that uses the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            # No connection limit: httpcore's default of 10 would let 10 hanging receivers
            # block every other delivery. FERRY_NOTIFIER_CONCURRENCY bounds the requests.
            max_connections=None,
            max_keepalive_connections=KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            network_backend=GuardedNetworkBackend(allow_private),
        )


def create_client(timeout_seconds: float, allow_private: bool) -> httpx.AsyncClient:
    """Create the webhook client: guarded connections, no redirects, no environment proxies."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private),
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        # Ask for no content encoding, so the bytes read are the bytes received.
        headers={"user-agent": USER_AGENT, "accept-encoding": "identity"},
    )
