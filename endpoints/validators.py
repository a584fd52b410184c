import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from flexhooks.netguard import blocked_reason, parse_literal

# Headers the sender sets itself; an endpoint's custom headers may not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "user-agent", "connection", "transfer-encoding"}
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


def validate_endpoint_url(url: str) -> None:
    parts = urlsplit(url or "")
    schemes = {"https"} if settings.FLEXHOOKS_HTTPS_ONLY else {"http", "https"}
    if parts.scheme not in schemes:
        raise ValidationError(
            f"URL must start with {' or '.join(s + '://' for s in sorted(schemes))}",
            code="invalid_scheme",
        )
    if not parts.hostname:
        raise ValidationError("URL must name a host", code="invalid_url")
    if parts.username or parts.password:
        raise ValidationError(
            "URL may not carry credentials; use a custom header instead", code="invalid_url"
        )
    literal = parse_literal(parts.hostname)
    if literal is not None and not settings.FLEXHOOKS_ALLOW_PRIVATE_NETWORKS:
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
