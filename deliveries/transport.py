"""The HTTP transport: POST one body to one URL, the only place that talks to the outside.

One urllib3 pool manager per process keeps a keep-alive connection per host. Every
request has a connect timeout and a total deadline, follows no redirect, reads at most a
capped number of response bytes, and connects only to an address that the network guard
allows: the check runs on the address actually connected to, after resolution, so a DNS
answer that changes between a check and the connect (rebinding) cannot get around it.
"""

import ipaddress
import os
import socket
import time
from dataclasses import dataclass, field

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from flexhooks.netguard import blocked_reason


class BlockedAddressError(Exception):
    """The destination resolves to an address outbound webhooks may not reach.

    Not an OSError on purpose: urllib3 would wrap an OSError as a retryable "connection
    aborted", and this is a verdict, not a network hiccup."""


class DeadlineExceededError(Exception):
    pass


@dataclass
class Result:
    """What one POST gave: a response, or an error class and message."""

    duration_ms: int
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error_class: str = ""
    error_message: str = ""
    # A permanent error (a blocked address) will not go away by retrying.
    permanent: bool = False


def _guarded_socket(conn: HTTPConnection) -> socket.socket:
    host, port = conn._dns_host, conn.port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    allow_all = settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS
    last_error: Exception | None = None
    for family, socktype, proto, _, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        reason = None if allow_all else blocked_reason(address, settings.FLEXHOOKS_ALLOWED_CIDRS)
        if reason:
            last_error = BlockedAddressError(f"{host} resolves to {address}, a {reason}")
            continue
        sock = socket.socket(family, socktype, proto)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(conn.timeout)
            sock.connect(sockaddr)  # exactly the address we checked
            return sock
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(conn, f"connect to {host} timed out") from exc
        except OSError as exc:
            sock.close()
            last_error = exc
    if isinstance(last_error, BlockedAddressError):
        raise last_error
    raise NewConnectionError(conn, f"failed to connect to {host}: {last_error}")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self)


class _GuardedHTTPSConnection(HTTPSConnection):
    # TLS still verifies the certificate against the URL's host name (SNI).
    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self)


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


# Error classes of a request that ran out of time (the receiver may be struggling).
TIMEOUT_ERRORS = frozenset({"timeout", "connect_timeout"})

_pools: dict[tuple[int, bool], urllib3.PoolManager] = {}


def _pool_manager(guarded: bool) -> urllib3.PoolManager:
    # Created lazily in each process: a pool must never be shared across a fork.
    key = (os.getpid(), guarded)
    if key not in _pools:
        pool = urllib3.PoolManager(num_pools=256, maxsize=4, block=False, retries=False)
        if guarded:
            pool.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
        _pools[key] = pool
    return _pools[key]


def post(url: str, body: bytes, headers: dict[str, str], *, guarded: bool = True) -> Result:
    """POST body to url; never raises for network trouble, it classifies it instead.

    guarded=False skips the address guard: only for URLs the operator configured.
    """
    started = time.monotonic()
    deadline = started + settings.FLEXHOOKS_REQUEST_DEADLINE
    try:
        pool = _pool_manager(guarded)
        status, response_headers, response_body = _post(pool, url, body, headers, deadline)
    except Exception as exc:
        error_class, permanent = _classify(exc)
        return Result(
            duration_ms=_elapsed_ms(started),
            error_class=error_class,
            error_message=str(exc)[:500],
            permanent=permanent,
        )
    return Result(
        duration_ms=_elapsed_ms(started),
        status=status,
        headers=response_headers,
        body=response_body,
    )


def _post(pool, url: str, body: bytes, headers: dict[str, str], deadline: float):
    timeout = urllib3.Timeout(
        connect=settings.FLEXHOOKS_CONNECT_TIMEOUT, read=settings.FLEXHOOKS_REQUEST_DEADLINE
    )
    response = pool.request(
        "POST",
        url,
        body=body,
        headers=headers,
        timeout=timeout,
        redirect=False,
        retries=False,
        preload_content=False,
    )
    cap = settings.FLEXHOOKS_RESPONSE_READ_CAP
    chunks, size, complete = [], 0, False
    try:
        while size < cap:
            if time.monotonic() > deadline:
                raise DeadlineExceededError("response not complete before the request deadline")
            chunk = response.read(min(16384, cap - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        complete = size < cap or response.length_remaining == 0
    finally:
        if not complete:
            # Unread bytes remain: drop the connection rather than read them to reuse it.
            response.close()
        response.release_conn()
    return response.status, dict(response.headers.items()), b"".join(chunks)


def _classify(exc: Exception) -> tuple[str, bool]:
    """Map an exception to (error class, permanent?)."""
    if isinstance(exc, BlockedAddressError):
        return "blocked_address", True
    if isinstance(exc, NameResolutionError):
        return "dns", False
    # NewConnectionError is a ConnectTimeoutError subclass in urllib3 2: test it first.
    if isinstance(exc, NewConnectionError):
        refused = isinstance(exc.__context__, ConnectionRefusedError) or "refused" in str(exc)
        return ("connection_refused" if refused else "connection_error"), False
    if isinstance(exc, ConnectTimeoutError):
        return "connect_timeout", False
    if isinstance(exc, ReadTimeoutError | DeadlineExceededError | TimeoutError):
        return "timeout", False
    if isinstance(exc, SSLError):
        return "tls", False
    if isinstance(exc, ProtocolError | HTTPError | OSError):
        return "connection_error", False
    if isinstance(exc, urllib3.exceptions.LocationValueError | ValueError):
        return "invalid_url", True
    return "internal_error", False


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
