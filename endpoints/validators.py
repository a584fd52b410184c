import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from outbound.netguard import blocked_reason, is_loopback, parse_literal
from outbound.urls import InvalidURLError, ascii_url

# Headers the sender sets itself; an endpoint's custom headers may not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "user-agent", "connection", "transfer-encoding"}
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


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
    if not isinstance(headers, dict):
        raise ValidationError("headers must be an object of name → value", code="invalid")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValidationError(f"{name!r} is not a valid header name", code="invalid")
        if not isinstance(value, str) or "\n" in value or "\r" in value or len(value) > 4096:
            raise ValidationError(f"header {name!r} needs a one-line string value", code="invalid")
        lowered = name.lower()
        if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
            raise ValidationError(f"header {name!r} is set by flexhooks itself", code="reserved")
