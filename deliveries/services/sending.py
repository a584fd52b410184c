"""Send: one attempt of a delivery — claim, sign, post, judge, record, notify."""

import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from deliveries import lifecycle, outcome
from deliveries.models import Attempt, Notice
from deliveries.notifications import notify
from deliveries.services.endpoints import endpoint_disable
from endpoints import crypto
from endpoints.models import Endpoint
from outbound import signing, transport
from outbound.errors import ErrorClass

logger = logging.getLogger("deliveries.services")

# Custom header values that look like credentials are not stored with the attempt.
_SENSITIVE_HEADER_WORDS = ("authorization", "token", "key", "secret", "cookie", "password")


def delivery_send(*, delivery_id: int) -> float | None:
    """Make one attempt of a delivery, if it is pending and due, and record what happened.

    Whatever goes wrong inside the attempt (a bad URL, a bug) is recorded as an attempt
    with error class `internal` and counts towards the schedule, so every delivery ends
    within its schedule. Returns the seconds to hand to Celery's countdown when the next
    try is soon; None when this message has nothing more to do.
    """
    now = timezone.now()
    claim = lifecycle.claim(delivery_id=delivery_id, now=now)
    if claim is None:  # not ours to send now; if it had no room, it waits
        lifecycle.postpone(delivery_id=delivery_id, now=now)
        return None
    if not claim.enabled:
        lifecycle.cancel_claimed(claim=claim, reason="the endpoint is disabled", now=now)
        return None
    _release_connection()
    started_at, started = timezone.now(), time.monotonic()
    headers: dict = {}
    try:
        body = claim.body.encode()
        headers = _request_headers(claim, body)
        result = transport.post(claim.url, body, headers)
    except Exception as exc:
        logger.exception("attempt of delivery %s failed inside flexhooks", delivery_id)
        result = transport.Result(
            duration_ms=int((time.monotonic() - started) * 1000),
            error_class=ErrorClass.INTERNAL,
            error_message=f"{type(exc).__name__}: {exc}"[:500],
        )
    now = timezone.now()
    verdict = outcome.judge(
        result,
        retry_step=claim.retry_step,
        now=now,
        failing_since=claim.failing_since,
        policy=outcome.Policy.from_settings(),
    )
    attempt = attempt_from(claim, result, started_at=started_at, request_headers=headers)
    try:
        lifecycle.record(claim=claim, attempt=attempt, verdict=verdict, now=now)
    except (OperationalError, InterfaceError):
        # The connection died while the request was out (a database restart): the attempt
        # happened, so record it on a fresh connection rather than let the lease send it
        # again.
        logger.warning("recording delivery %s again on a fresh connection", delivery_id)
        connection.close()
        lifecycle.record(claim=claim, attempt=attempt, verdict=verdict, now=now)
    notify_outcome(claim=claim, verdict=verdict)
    logger.info(
        "attempt delivery=%s event=%s endpoint=%s number=%s status=%s error=%s duration_ms=%s"
        " outcome=%s",
        delivery_id,
        claim.event_id,
        claim.endpoint_id,
        claim.number,
        result.status,
        result.error_class or "-",
        result.duration_ms,
        verdict.status,
    )
    return verdict.countdown


def notify_outcome(*, claim: lifecycle.Claim, verdict: outcome.Verdict) -> None:
    """The rare outcomes operators hear about: an endpoint disabled, a delivery given up."""
    endpoint = None
    if verdict.disable_reason:
        endpoint = Endpoint.objects.get(pk=claim.endpoint_id)
        if endpoint_disable(endpoint=endpoint, reason=verdict.disable_reason, only_if_enabled=True):
            notify(
                kind=Notice.Kind.ENDPOINT_DISABLED,
                endpoint=endpoint,
                message=f"{endpoint.url} disabled: {verdict.disable_reason}",
            )
    if verdict.gave_up:
        endpoint = endpoint or Endpoint.objects.get(pk=claim.endpoint_id)
        error = verdict.last_error or verdict.last_error_class
        notify(
            kind=Notice.Kind.DELIVERY_FAILED,
            endpoint=endpoint,
            message=f"gave up on delivery {claim.delivery_id} after attempt "
            f"{claim.number} ({error})",
        )


def attempt_from(
    claim: lifecycle.Claim, result: transport.Result, *, started_at, request_headers: dict
) -> Attempt:
    """The attempt's record: what was sent (secrets never) and what came back."""
    return Attempt(
        delivery_id=claim.delivery_id,
        number=claim.number,
        trigger=claim.trigger,
        started_at=started_at,
        duration_ms=result.duration_ms,
        request_headers=_headers_to_store(request_headers),
        response_status=result.status,
        response_headers=result.headers,
        # PostgreSQL text cannot hold NUL.
        response_body=result.body[: transport.RESPONSE_STORE_CAP]
        .decode("utf-8", "replace")
        .replace("\x00", "\ufffd"),
        error_class=result.error_class,
        error_message=result.error_message,
    )


def _request_headers(claim: lifecycle.Claim, body: bytes) -> dict:
    if not claim.secret_ciphertexts:
        raise LookupError("the endpoint has no signing secret")
    secrets = [crypto.decrypt(ciphertext) for ciphertext in claim.secret_ciphertexts]
    timestamp = int(time.time())
    return {
        **(claim.headers or {}),
        "content-type": "application/json",
        "user-agent": f"flexhooks/{settings.FLEXHOOKS_VERSION}",
        "webhook-id": claim.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(
            msg_id=claim.event_id, timestamp=timestamp, body=body, secrets=secrets
        ),
    }


def _headers_to_store(headers: dict) -> dict:
    return {
        name: "[redacted]"
        if any(word in name.lower() for word in _SENSITIVE_HEADER_WORDS)
        else value
        for name, value in headers.items()
    }


def _release_connection() -> None:
    """Hand the database connection back to the pool while the attempt waits on the
    network, so worker slots do not hold connections (nothing to do in a transaction, or
    without a pool)."""
    if getattr(connection, "pool", None) and not connection.in_atomic_block:
        connection.close()
