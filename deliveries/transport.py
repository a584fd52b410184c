"""The HTTP transport: POST one body to one URL, the only place that talks to the outside.

libcurl (through pycurl) makes the request. Each thread keeps one curl handle, and with it
a keep-alive connection per host. Every request has a connect timeout and a total
deadline, follows no redirect, speaks only HTTP/1.1 over http or https, ignores proxy
variables in the environment, verifies TLS certificates against certifi's bundle, keeps
at most a capped number of response bytes, and connects only to an address the network
guard allows: libcurl hands every address it is about to connect to (after resolution,
so also a DNS answer that changed since anything else looked) to `_open_socket`, which
refuses the blocked ones.

Why libcurl and not urllib3: a whole request runs in C with the GIL released once, where
urllib3 spends about 190 µs of Python per request and releases the GIL four times; with
a dozen worker threads that handoff doubled urllib3's cost (measured: 372 µs against
46 µs of CPU per request with 8 threads, bench/ in the README).
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

from flexhooks.netguard import blocked_reason


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


# Error classes of a request that ran out of time (the receiver may be struggling).
TIMEOUT_ERRORS = frozenset({"timeout", "connect_timeout"})

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

    __slots__ = ("blocked", "body", "cap", "capped", "guarded", "header_lines", "host", "size")

    def __init__(self, host: str, guarded: bool, cap: int):
        self.host, self.guarded, self.cap = host, guarded, cap
        self.blocked = ""
        self.body: list[bytes] = []
        # Filled by list.append itself: a builtin, so each header line libcurl hands over
        # costs no Python frame while the thread holds the GIL; parsed after the transfer.
        self.header_lines: list[bytes] = []
        self.size = 0
        self.capped = False

    def write(self, chunk: bytes):
        room = self.cap - self.size
        if len(chunk) >= room:
            self.body.append(chunk[:room])
            self.size = self.cap
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
        if self.guarded and not settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS:
            ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
            reason = blocked_reason(ip, settings.FLEXHOOKS_ALLOWED_CIDRS)
            if reason:
                self.blocked = f"{self.host} resolves to {ip}, a {reason}"
                return pycurl.SOCKET_BAD
        return socket.socket(family, socktype, protocol)


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


def _handle() -> pycurl.Curl:
    # One per thread, created in the thread's own process: never shared across a fork.
    pid_and_handle = getattr(_local, "handle", None)
    if pid_and_handle is None or pid_and_handle[0] != os.getpid():
        pid_and_handle = _local.handle = (os.getpid(), _new_handle())
    return pid_and_handle[1]


def post(url: str, body: bytes, headers: dict[str, str], *, guarded: bool = True) -> Result:
    """POST body to url; never raises for network trouble, it classifies it instead.

    guarded=False skips the address guard: only for URLs the operator configured.
    """
    started = time.monotonic()
    handle = _handle()
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    exchange = _Exchange(host, guarded, settings.FLEXHOOKS_RESPONSE_READ_CAP)
    handle.setopt(pycurl.URL, url)
    handle.setopt(pycurl.POSTFIELDS, body)
    # "Expect:" and "Accept:" with no value: libcurl sends neither (no 100-continue wait).
    lines = [f"{name}: {value}".encode() for name, value in headers.items()]
    if any(b"\r" in line or b"\n" in line for line in lines):  # endpoints validate this too
        return Result(
            duration_ms=0,
            error_class="invalid_header",
            permanent=True,
            error_message="a header value spans more than one line",
        )
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
        return "blocked_address", True
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        return "dns", False
    if code == pycurl.E_OPERATION_TIMEDOUT:
        # libcurl says which: "Connection timed out after …" (connecting, a reused
        # connection never is) or "Operation timed out after …" (waiting for the answer).
        connecting = message.startswith(("Connection timed out", "Failed to connect"))
        return ("connect_timeout" if connecting else "timeout"), False
    if code == pycurl.E_COULDNT_CONNECT:
        refused = handle.getinfo(pycurl.OS_ERRNO) == errno.ECONNREFUSED
        return ("connection_refused" if refused else "connection_error"), False
    if code in _TLS_ERRORS:
        return "tls", False
    if code in _INVALID_URL:
        return "invalid_url", True
    return "connection_error", False


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
