import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from outbound.netguard import blocked_reason, is_loopback, parse_literal
from outbound.urls import InvalidURLError, ascii_url

# Headers an endpoint's custom headers may not set: the ones flexhooks sets itself, and
# hop-by-hop or framing headers that would change how the request travels.
DENIED_HEADERS = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
    }
)
MAX_HEADERS = 50
MAX_HEADERS_BYTES = 8 * 1024
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def validate_endpoint_url(url: str) -> None:
    """An http(s) URL with a host and a valid port, no credentials, and not a literal
    address the network guard blocks. IRIs (non-ASCII host, path or query) are fine: they
    are sent in their ASCII form, which is what is checked."""
    parts = urlsplit(url or "")
    schemes = {"https"} if settings.FLEXHOOKS_HTTPS_ONLY else {"http", "https"}
    if parts.scheme not in schemes:
        raise ValidationError(
            f"URL must start with {' or '.join(s + '://' for s in sorted(schemes))}",
            code="invalid_scheme",
        )
    if parts.username or parts.password:
        raise ValidationError(
            "URL may not carry credentials; use a custom header instead", code="invalid_url"
        )
    try:
        wire = urlsplit(ascii_url(url))
    except InvalidURLError as exc:
        raise ValidationError(f"URL is not valid: {exc}", code="invalid_url") from exc
    literal = parse_literal(wire.hostname or "")
    if literal is None or settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS:
        return
    if settings.FLEXHOOKS_ALLOW_LOOPBACK and is_loopback(literal):
        return
    reason = blocked_reason(literal, settings.FLEXHOOKS_ALLOWED_CIDRS)
    if reason:
        raise ValidationError(f"URL points at a {reason}", code="blocked_address")


def validate_headers(headers) -> None:
    """Custom headers: at most MAX_HEADERS names and MAX_HEADERS_BYTES in all, names that
    are HTTP tokens, one-line values without control characters, none of DENIED_HEADERS or
    webhook-*. Each error says which header and what is wrong."""
    if not isinstance(headers, dict):
        raise ValidationError("headers must be an object of name → value", code="invalid_header")
    if len(headers) > MAX_HEADERS:
        raise ValidationError(
            f"at most {MAX_HEADERS} custom headers (got {len(headers)})", code="too_many_headers"
        )
    size = 0
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValidationError(
                f"{name!r} is not a header name (letters, digits and !#$%&'*+.^_`|~- only)",
                code="invalid_header",
            )
        lowered = name.lower()
        if lowered in DENIED_HEADERS or lowered.startswith("webhook-"):
            raise ValidationError(
                f"header {name!r} may not be set: flexhooks sets it, or it changes how the"
                " request travels",
                code="reserved_header",
            )
        if not isinstance(value, str):
            raise ValidationError(f"header {name!r} needs a text value", code="invalid_header")
        if _CONTROL.search(value):
            raise ValidationError(
                f"header {name!r} has a line break or control character in its value",
                code="invalid_header",
            )
        size += len(name.encode()) + len(value.encode()) + 4
    if size > MAX_HEADERS_BYTES:
        raise ValidationError(
            f"custom headers take at most {MAX_HEADERS_BYTES} bytes in all (got {size})",
            code="headers_too_large",
        )
