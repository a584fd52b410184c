"""Standard Webhooks signatures: signing for the sender, `verify` for receivers.

This module imports nothing from Django or the rest of flexhooks, so a receiver can copy
it as it is. See https://www.standardwebhooks.com/ for the scheme.
"""

import base64
import hashlib
import hmac
import json
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook from flexhooks."""


def generate_secret(nbytes: int = 32) -> str:
    """A new signing secret: `whsec_` + base64 of nbytes (24–64) random bytes."""
    if not 24 <= nbytes <= 64:
        raise ValueError("a secret has 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(nbytes)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def sign(*, msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """The `webhook-signature` header: one `v1,<sig>` per secret, space-separated."""
    return " ".join(f"v1,{_signature(_key(secret), msg_id, timestamp, body)}" for secret in secrets)


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    tolerance: int = 300,
    now: float | None = None,
) -> dict:
    """Check a received webhook and return its parsed JSON body.

    Raises WebhookVerificationError when a header is missing, the timestamp is more than
    `tolerance` seconds away from now (a replay), or no signature matches `secret`.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp_header = lowered["webhook-timestamp"]
        signature_header = lowered["webhook-signature"]
    except KeyError as exc:
        raise WebhookVerificationError(f"missing header {exc.args[0]}") from exc
    try:
        timestamp = int(timestamp_header)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not a number") from exc
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old or too new")
    raw = body.encode() if isinstance(body, str) else body
    expected = _signature(_key(secret), msg_id, timestamp, raw)
    for candidate in signature_header.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return json.loads(raw)
    raise WebhookVerificationError("no matching signature")
