"""Send: one attempt of a delivery, from the claim to the recorded outcome."""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from deliveries import retry_policy, signing, store, transport
from deliveries.models import Attempt, Delivery, Notice
from deliveries.notifications import notify
from endpoints import crypto
from endpoints.models import Endpoint
from endpoints.services import endpoint_disable, endpoint_disable_if_failing_since

logger = logging.getLogger("deliveries.services")

Status = Delivery.Status
Trigger = Delivery.Trigger

# Custom header values that look like credentials are not stored with the attempt.
_SENSITIVE_HEADER_WORDS = ("authorization", "token", "key", "secret", "cookie", "password")


def _postpone_if_endpoint_busy(delivery_id: int, now: datetime) -> None:
    """A due delivery not claimed has a slow endpoint at its in-flight cap: it waits
    FLEXHOOKS_BUSY_DELAY without spending an attempt, and the sweeper wakes it when it is
    due again. (Not due, or not pending: nothing to do.)

    No countdown message: a hanging endpoint can have hundreds of deliveries waiting,
    and each countdown would be a publish now and a message held in a worker until it
    is due (measured with five of a hundred endpoints hanging: the worker spent a fifth
    more CPU per healthy delivery than with none hanging; with the sweeper, a few %)."""
    wait = retry_policy.jittered(settings.FLEXHOOKS_BUSY_DELAY, 0.2)
    store.postpone_if_due(delivery_id=delivery_id, now=now, until=now + timedelta(seconds=wait))


def _request_headers(event_id: str, body: bytes, custom: dict, secrets: list[str]) -> dict:
    timestamp = int(time.time())
    return {
        **custom,
        "content-type": "application/json",
        "user-agent": f"flexhooks/{settings.FLEXHOOKS_VERSION}",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.sign(
            msg_id=event_id, timestamp=timestamp, body=body, secrets=secrets
        ),
    }


def _headers_to_store(headers: dict) -> dict:
    return {
        name: "[redacted]"
        if any(word in name.lower() for word in _SENSITIVE_HEADER_WORDS)
        else value
        for name, value in headers.items()
    }


def delivery_send(*, delivery_id: int) -> float | None:
    """Make one attempt of a delivery, if it is pending and due, and record what happened.

    Returns the seconds to hand to Celery's countdown when the next try is soon; None when
    there is nothing more for this message to do (done, failed, or left to the sweeper).
    """
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.FLEXHOOKS_LEASE_SECONDS)
    claimed = store.claim(
        delivery_id=delivery_id,
        now=now,
        lease_until=lease_until,
        max_in_flight=settings.FLEXHOOKS_SLOW_ENDPOINT_MAX_IN_FLIGHT,
        stuck_before=now - timedelta(seconds=settings.FLEXHOOKS_SLOW_ATTEMPT_SECONDS),
    )
    if claimed is None:
        _postpone_if_endpoint_busy(delivery_id, now)
        return None
    if not claimed.enabled:
        Delivery.objects.filter(pk=delivery_id, status=Status.SENDING).update(
            status=Status.FAILED,
            lease_expires_at=None,
            last_error_class="endpoint_disabled",
            last_error="the endpoint is disabled",
        )
        return None
    body = claimed.body.encode()
    secrets = [crypto.decrypt(ciphertext) for ciphertext in claimed.secret_ciphertexts]
    headers = _request_headers(claimed.event_id, body, claimed.headers, secrets)
    started_at = timezone.now()
    result = transport.post(claimed.url, body, headers)
    attempt = Attempt(
        delivery_id=delivery_id,
        number=claimed.number,
        trigger=claimed.trigger,
        started_at=started_at,
        duration_ms=result.duration_ms,
        request_headers=_headers_to_store(headers),
        response_status=result.status,
        response_headers=result.headers,
        response_body=result.body[: settings.FLEXHOOKS_RESPONSE_STORE_CAP].decode(
            "utf-8", "replace"
        ),
        error_class=result.error_class,
        error_message=result.error_message,
    )
    return _record(attempt, result, claimed.retry_step, claimed.endpoint_id)


def _record(attempt: Attempt, result: transport.Result, retry_step: int, endpoint_id: int):
    now = timezone.now()
    changes = {
        "lease_expires_at": None,
        "last_status_code": result.status,
        "last_error_class": result.error_class or ("" if result.status is None else "http"),
        "last_error": result.error_message,
        "next_trigger": Trigger.SCHEDULED,
    }
    countdown = None
    gone = result.status == 410
    if retry_policy.is_success(result.status):
        changes.update(status=Status.SUCCEEDED, next_attempt_at=None, last_error_class="")
    elif gone or result.permanent:
        changes.update(status=Status.FAILED, next_attempt_at=None)
    else:
        delay = _retry_delay(result, retry_step, now)
        if delay is None:
            changes.update(status=Status.FAILED, next_attempt_at=None)
        else:
            next_at = now + timedelta(seconds=delay)
            short = delay <= settings.FLEXHOOKS_MAX_COUNTDOWN
            changes.update(
                status=Status.PENDING,
                next_attempt_at=next_at,
                retry_step=retry_step + 1,
                # A long wait is the sweeper's job: nothing long-lived sits in the broker.
                dispatched_at=next_at if short else None,
            )
            countdown = delay if short else None
    if result.status is not None and not retry_policy.is_success(result.status):
        changes["last_error"] = f"HTTP {result.status}"
    health, slow_until = _health(result, now)
    store.record(
        attempt=attempt,
        changes=changes,
        endpoint_id=endpoint_id,
        health=health,
        now=now,
        slow_until=slow_until,
    )
    _notify_outcome(attempt, result, changes["status"], health, endpoint_id, now)
    logger.info(
        "attempt delivery=%s event=%s endpoint=%s number=%s status=%s error=%s duration_ms=%s"
        " outcome=%s",
        attempt.delivery_id,
        attempt.request_headers.get("webhook-id"),
        endpoint_id,
        attempt.number,
        result.status,
        result.error_class or "-",
        result.duration_ms,
        changes["status"],
    )
    return countdown


def _notify_outcome(attempt, result, status, health, endpoint_id, now) -> None:
    """The rare outcomes operators hear about: an endpoint disabled, a delivery given up."""
    endpoint = None
    if result.status == 410:
        endpoint = Endpoint.objects.get(pk=endpoint_id)
        endpoint_disable(endpoint=endpoint, reason="the endpoint answered 410 Gone")
        notify(
            kind=Notice.Kind.ENDPOINT_DISABLED,
            endpoint=endpoint,
            message=f"{endpoint.url} disabled: it answered 410 Gone",
        )
    elif health != store.Health.SUCCESS:
        failing_since = now - timedelta(seconds=settings.FLEXHOOKS_AUTO_DISABLE_AFTER)
        endpoint = endpoint_disable_if_failing_since(endpoint_id=endpoint_id, since=failing_since)
        if endpoint is not None:
            notify(
                kind=Notice.Kind.ENDPOINT_DISABLED,
                endpoint=endpoint,
                message=f"{endpoint.url} disabled: {endpoint.disabled_reason}",
            )
    if status == Status.FAILED:
        error = result.error_class or f"HTTP {result.status}"
        notify(
            kind=Notice.Kind.DELIVERY_FAILED,
            endpoint=endpoint or Endpoint.objects.get(pk=endpoint_id),
            message=f"gave up on delivery {attempt.delivery_id} after attempt "
            f"{attempt.number} ({error})",
        )


def _health(result: transport.Result, now: datetime) -> tuple[str, datetime | None]:
    if retry_policy.is_success(result.status):
        return store.Health.SUCCESS, None
    if result.error_class in transport.TIMEOUT_ERRORS:
        return store.Health.TIMEOUT, now + timedelta(
            seconds=settings.FLEXHOOKS_SLOW_ENDPOINT_SECONDS
        )
    return store.Health.FAILURE, None


def _retry_delay(result: transport.Result, retry_step: int, now: datetime) -> float | None:
    retry_after = None
    if result.status in (429, 503):
        retry_after = retry_policy.parse_retry_after(result.headers.get("Retry-After"), now)
    if result.status == 429 or result.error_class in transport.TIMEOUT_ERRORS:
        # A struggling receiver gets room to breathe, whatever the schedule says.
        retry_after = max(retry_after or 0.0, settings.FLEXHOOKS_MIN_DELAY_WHEN_SLOW)
    return retry_policy.next_delay(
        step=retry_step,
        schedule=settings.FLEXHOOKS_RETRY_SCHEDULE,
        jitter=settings.FLEXHOOKS_RETRY_JITTER,
        retry_after=retry_after,
    )
