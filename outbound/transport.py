"""The HTTP transport: POST one body to one URL, the only place that talks to the outside.

libcurl (through pycurl) makes the request. Each thread keeps one curl handle per purpose
(deliveries, operations), and with it a keep-alive connection per host: requests of one
purpose never ride on a connection another purpose opened. Every request has a connect
timeout and a total deadline, follows no redirect, speaks only HTTP/1.1 over http or
https, ignores proxy variables in the environment, verifies TLS certificates against
certifi's bundle, keeps at most RESPONSE_READ_CAP bytes, and connects only to an address
the network guard allows: libcurl hands every address it is about to connect to (after
resolution, so also a DNS answer that changed since anything else looked) to
`_Exchange.open_socket`, which refuses the blocked ones. A kept-alive connection was
opened under the same guard, for the same host and purpose.

Why libcurl and not urllib3: docs/decisions/0002-libcurl-transport.md.
"""

import errno
import ipaddress
import os
import socket
import threading
import time
from dataclasses import dataclass, field

import certifi
import pycurl
from django.conf import settings

from outbound.errors import ErrorClass
from outbound.netguard import blocked_reason, is_loopback
from outbound.urls import InvalidURLError, ascii_url

# Response bytes read (the rest is not waited for) and stored with an attempt.
RESPONSE_READ_CAP = 64 * 1024
RESPONSE_STORE_CAP = 4 * 1024


@dataclass
class Result:
    """What one POST gave: a response, or an error class and message."""

    duration_ms: int
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error_class: str = ""
    error_message: str = ""
    # A permanent error (a blocked address, an invalid URL) will not go away by retrying.
    permanent: bool = False


_TLS_ERRORS = {
    pycurl.E_SSL_CONNECT_ERROR,
    pycurl.E_PEER_FAILED_VERIFICATION,
    pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_CIPHER,
    pycurl.E_SSL_CACERT_BADFILE,
    pycurl.E_SSL_ENGINE_NOTFOUND,
    pycurl.E_SSL_ENGINE_SETFAILED,
    pycurl.E_SSL_SHUTDOWN_FAILED,
    pycurl.E_SSL_CRL_BADFILE,
    pycurl.E_SSL_ISSUER_ERROR,
    pycurl.E_USE_SSL_FAILED,
}
_INVALID_URL = {pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL}


class _Exchange:
    """The state of one request, filled in by libcurl's callbacks."""

    __slots__ = ("blocked", "body", "capped", "header_lines", "host", "size")

    def __init__(self, host: str):
        self.host = host
        self.blocked = ""
        self.body: list[bytes] = []
        # Filled by list.append itself: a builtin, so each header line libcurl hands over
        # costs no Python frame while the thread holds the GIL; parsed after the transfer.
        self.header_lines: list[bytes] = []
        self.size = 0
        self.capped = False

    def write(self, chunk: bytes):
        room = RESPONSE_READ_CAP - self.size
        if len(chunk) >= room:
            self.body.append(chunk[:room])
            self.size = RESPONSE_READ_CAP
            self.capped = True
            return 0  # stop reading: unread bytes remain, the connection is dropped
        self.body.append(chunk)
        self.size += len(chunk)
        return None

    def parsed_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for line in self.header_lines:
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text.startswith("HTTP/"):
                headers = {}  # a new response (after an interim 1xx)
            elif ":" in text:
                name, _, value = text.partition(":")
                headers[name.strip()] = value.strip()
        return headers

    def open_socket(self, purpose, address):
        family, socktype, protocol, sockaddr = address
        reason = guard_reason(ipaddress.ip_address(sockaddr[0].split("%")[0]))
        if reason:
            self.blocked = f"{self.host} resolves to {sockaddr[0]}, a {reason}"
            return pycurl.SOCKET_BAD
        return socket.socket(family, socktype, protocol)


def guard_reason(ip) -> str | None:
    """Why the guard refuses to connect to ip under the current settings, or None."""
    if settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS:
        return None
    if settings.FLEXHOOKS_ALLOW_LOOPBACK and is_loopback(ip):
        return None
    return blocked_reason(ip, settings.FLEXHOOKS_ALLOWED_CIDRS)


_local = threading.local()


def _new_handle() -> pycurl.Curl:
    handle = pycurl.Curl()
    handle.setopt(pycurl.NOSIGNAL, 1)
    handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
    handle.setopt(pycurl.FOLLOWLOCATION, 0)
    handle.setopt(pycurl.PROXY, "")  # never a proxy from http_proxy and friends
    handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
    handle.setopt(pycurl.CAINFO, certifi.where())
    handle.setopt(pycurl.MAXCONNECTS, 32)
    handle.setopt(pycurl.POST, 1)
    return handle


def _handle(purpose: str) -> pycurl.Curl:
    # One per thread and purpose, created in the thread's own process: never shared
    # across a fork, and a connection one purpose opened never carries another's request.
    handles = getattr(_local, "handles", None)
    if handles is None or handles[0] != os.getpid():
        handles = _local.handles = (os.getpid(), {})
    if purpose not in handles[1]:
        handles[1][purpose] = _new_handle()
    return handles[1][purpose]


def post(url: str, body: bytes, headers: dict[str, str], *, purpose: str = "deliveries") -> Result:
    """POST body to url; never raises for network trouble, it classifies it instead.

    The URL may be an IRI (non-ASCII host, path or query): it is sent in its ASCII form.
    Every request passes the network guard, whatever its purpose.
    """
    started = time.monotonic()
    try:
        wire_url = ascii_url(url)
    except InvalidURLError as exc:
        return Result(0, error_class=ErrorClass.INVALID_URL, error_message=str(exc), permanent=True)
    lines = [f"{name}: {value}".encode() for name, value in headers.items()]
    if any(b"\r" in line or b"\n" in line for line in lines):  # endpoints validate this too
        return Result(
            0,
            error_class=ErrorClass.INVALID_URL,
            error_message="a header value spans more than one line",
            permanent=True,
        )
    handle = _handle(purpose)
    exchange = _Exchange(wire_url.split("://", 1)[-1].split("/", 1)[0])
    handle.setopt(pycurl.URL, wire_url)
    handle.setopt(pycurl.POSTFIELDS, body)
    # "Expect:" and "Accept:" with no value: libcurl sends neither (no 100-continue wait).
    handle.setopt(pycurl.HTTPHEADER, [*lines, b"Expect:", b"Accept:"])
    handle.setopt(pycurl.WRITEFUNCTION, exchange.write)
    handle.setopt(pycurl.HEADERFUNCTION, exchange.header_lines.append)
    handle.setopt(pycurl.OPENSOCKETFUNCTION, exchange.open_socket)
    handle.setopt(pycurl.CONNECTTIMEOUT_MS, int(settings.FLEXHOOKS_CONNECT_TIMEOUT * 1000))
    handle.setopt(pycurl.TIMEOUT_MS, int(settings.FLEXHOOKS_REQUEST_DEADLINE * 1000))
    try:
        handle.perform()
    except pycurl.error as exc:
        code, message = exc.args
        if not (code == pycurl.E_WRITE_ERROR and exchange.capped):
            error_class, permanent = _classify(handle, code, message, exchange)
            return Result(
                duration_ms=_elapsed_ms(started),
                error_class=error_class,
                error_message=(exchange.blocked or message)[:500],
                permanent=permanent,
            )
    return Result(
        duration_ms=_elapsed_ms(started),
        status=handle.getinfo(pycurl.RESPONSE_CODE),
        headers=exchange.parsed_headers(),
        body=b"".join(exchange.body),
    )


def _classify(
    handle: pycurl.Curl, code: int, message: str, exchange: _Exchange
) -> tuple[str, bool]:
    """Map a libcurl error to (error class, permanent?)."""
    if exchange.blocked:
        return ErrorClass.BLOCKED_ADDRESS, True
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        return ErrorClass.DNS, False
    if code == pycurl.E_OPERATION_TIMEDOUT:
        # libcurl says which: "Connection timed out after …" (connecting, a reused
        # connection never is) or "Operation timed out after …" (waiting for the answer).
        connecting = message.startswith(("Connection timed out", "Failed to connect"))
        return (ErrorClass.CONNECT_TIMEOUT if connecting else ErrorClass.TIMEOUT), False
    if code == pycurl.E_COULDNT_CONNECT:
        refused = handle.getinfo(pycurl.OS_ERRNO) == errno.ECONNREFUSED
        return (ErrorClass.CONNECTION_REFUSED if refused else ErrorClass.CONNECTION_ERROR), False
    if code in _TLS_ERRORS:
        return ErrorClass.TLS, False
    if code in _INVALID_URL:
        return ErrorClass.INVALID_URL, True
    return ErrorClass.CONNECTION_ERROR, False


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
