"""Endpoint URLs as people write them, and as they go on the wire.

A URL is stored as it was given (an IDN host, a non-ASCII path or query) and sent in its
standard ASCII form: the host IDNA-encoded (IDNA 2008 with UTS #46, as browsers), path
and query percent-encoded as UTF-8 (an escape already there is kept, not encoded twice).
"""

import functools
from urllib.parse import urlsplit, urlunsplit

import idna
from django.utils.encoding import iri_to_uri


class InvalidURLError(ValueError):
    """The URL cannot be sent: it says why."""


@functools.lru_cache(maxsize=4096)  # every attempt asks again for a few URLs
def ascii_url(url: str) -> str:
    """The URL's ASCII form; InvalidURLError when it has no valid host or port."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise InvalidURLError("the URL names no host")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidURLError("the port must be a number from 1 to 65535") from exc
    if port == 0:
        raise InvalidURLError("the port must be a number from 1 to 65535")
    if ":" in host:  # an IPv6 literal
        ascii_host = f"[{host}]"
    else:
        try:
            # IDNA 2008 with UTS #46 mapping, as browsers do (ß stays ß: xn--zca), so the
            # host people read is the host we connect to.
            ascii_host = (
                idna.encode(host.rstrip("."), uts46=True).decode("ascii")
                if not host.isascii()
                else host
            )
        except (UnicodeError, idna.IDNAError) as exc:
            raise InvalidURLError(f"the host {host!r} is not a valid domain name") from exc
    netloc = ascii_host if port is None else f"{ascii_host}:{port}"
    path = iri_to_uri(parts.path) or "/"
    return urlunsplit((parts.scheme, netloc, path, iri_to_uri(parts.query), ""))


def host_of(url: str) -> str:
    """The ASCII host the URL connects to (IDNA-encoded), '' when there is none."""
    try:
        return urlsplit(ascii_url(url)).hostname or ""
    except InvalidURLError:
        return ""
