"""Everything that changes events and deliveries: emit, send, retry, recover, sweep.

The admin, the API, the management commands and the Celery tasks all call these, so each
rule lives here once.
"""

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from deliveries import retry_policy, signing, store, transport
from deliveries.models import Attempt, Delivery, Event, Notice, new_event_id
from deliveries.notifications import notify
from endpoints import crypto
from endpoints.models import Endpoint, EventType
from endpoints.services import endpoint_disable, endpoint_disable_if_failing_since

logger = logging.getLogger(__name__)

Status = Delivery.Status
Trigger = Delivery.Trigger

# Custom header values that look like credentials are not stored with the attempt.
_SENSITIVE_HEADER_WORDS = ("authorization", "token", "key", "secret", "cookie", "password")


class PayloadTooLargeError(Exception):
    """The rendered event is larger than FLEXHOOKS_MAX_PAYLOAD_BYTES."""


@dataclass(frozen=True)
class EmitResult:
    event: Event
    deliveries: int
    created: bool


@dataclass
class RetryResult:
    queued: int = 0
    skipped: Counter = field(default_factory=Counter)


# --- emit --------------------------------------------------------------------------------


def render_envelope(*, event_id: str, event_type: EventType, created_at: datetime, data) -> str:
    """The request body, rendered once per event and sent byte for byte on every attempt."""
    envelope = {
        "id": event_id,
        "webhook_type": event_type.name,
        "object_type": event_type.object_type,
        "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"object": data},
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def _validated_event_type(name: str) -> EventType:
    try:
        event_type = EventType.objects.get(name=name)
    except EventType.DoesNotExist:
        raise ValidationError({"event_type": f"unknown event type {name!r}"}) from None
    if event_type.archived:
        raise ValidationError({"event_type": f"event type {name!r} is archived"})
    return event_type


def _validate_object(event_type: EventType, data) -> None:
    if not isinstance(data, dict):
        raise ValidationError({"object": "must be a JSON object"})
    if event_type.schema:
        try:
            jsonschema.validate(data, event_type.schema)
        except jsonschema.ValidationError as exc:
            path = "/".join(str(part) for part in exc.absolute_path) or "(root)"
            raise ValidationError({"object": f"{path}: {exc.message}"}) from exc


def _existing_emit(account: Account, idempotency_key: str) -> EmitResult | None:
    event = Event.objects.filter(account=account, idempotency_key=idempotency_key).first()
    if event is None:
        return None
    return EmitResult(event=event, deliveries=event.deliveries.count(), created=False)


def event_emit(
    *,
    account: Account,
    event_type: str,
    data,
    idempotency_key: str | None = None,
    endpoint: Endpoint | None = None,
) -> EmitResult:
    """Record an event and one delivery per subscribed endpoint; wake the workers after commit.

    With an idempotency key the account already used, return that event and create nothing.
    With `endpoint`, deliver to that endpoint only, whatever it subscribes to (test events).
    Raises ValidationError for a bad type or object, PayloadTooLargeError over the cap.
    """
    if idempotency_key:
        existing = _existing_emit(account, idempotency_key)
        if existing:
            return existing
    etype = _validated_event_type(event_type)
    _validate_object(etype, data)
    now = timezone.now()
    event_id = new_event_id()
    body = render_envelope(event_id=event_id, event_type=etype, created_at=now, data=data)
    if len(body.encode()) > settings.FLEXHOOKS_MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"the event is larger than {settings.FLEXHOOKS_MAX_PAYLOAD_BYTES} bytes"
        )
    event = Event(
        id=event_id,
        account=account,
        event_type=etype,
        body=body,
        idempotency_key=idempotency_key or None,
        created_at=now,
    )
    delivery_ids = store.insert_event(
        event=event, only_endpoint_id=endpoint.pk if endpoint is not None else None
    )
    if delivery_ids is None:
        # Another request with the same idempotency key won the race.
        return _existing_emit(account, idempotency_key)
    _dispatch_on_commit(delivery_ids)
    return EmitResult(event=event, deliveries=len(delivery_ids), created=True)


def _dispatch_on_commit(delivery_ids: list[int]) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: dispatch(delivery_ids))


def dispatch(delivery_ids: Iterable[int]) -> None:
    """Publish one wake-up message per delivery. A failure loses nothing: the sweeper
    publishes again whatever is due and was not consumed."""
    from deliveries.tasks import deliver

    delivery_ids = list(delivery_ids)
    try:
        with deliver.app.producer_or_acquire() as producer:
            for delivery_id in delivery_ids:
                deliver.apply_async((delivery_id,), producer=producer)
    except Exception:
        logger.exception("could not publish %d deliveries; the sweeper will", len(delivery_ids))


# --- send --------------------------------------------------------------------------------


def _postpone_if_endpoint_busy(delivery_id: int, now: datetime) -> float | None:
    """A due delivery not claimed has a slow endpoint at its in-flight cap: try again
    shortly, without spending an attempt. (Not due, or not pending: nothing to do.)"""
    wait = settings.FLEXHOOKS_BUSY_DELAY * random.uniform(0.8, 1.2)  # noqa: S311
    until = now + timedelta(seconds=wait)
    return wait if store.postpone_if_due(delivery_id=delivery_id, now=now, until=until) else None


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
        return _postpone_if_endpoint_busy(delivery_id, now)
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
            endpoint=Endpoint.objects.get(pk=endpoint_id),
            message=f"gave up on delivery {attempt.delivery_id} after attempt "
            f"{attempt.number} ({error})",
        )


def _health(result: transport.Result, now: datetime) -> tuple[str, datetime | None]:
    if retry_policy.is_success(result.status):
        return store.Health.SUCCESS, None
    if result.error_class in ("timeout", "connect_timeout"):
        return store.Health.TIMEOUT, now + timedelta(
            seconds=settings.FLEXHOOKS_SLOW_ENDPOINT_SECONDS
        )
    return store.Health.FAILURE, None


def _retry_delay(result: transport.Result, retry_step: int, now: datetime) -> float | None:
    retry_after = None
    if result.status in (429, 503):
        retry_after = retry_policy.parse_retry_after(result.headers.get("Retry-After"), now)
    if result.status == 429 or result.error_class in ("timeout", "connect_timeout"):
        # A struggling receiver gets room to breathe, whatever the schedule says.
        retry_after = max(retry_after or 0.0, settings.FLEXHOOKS_MIN_DELAY_WHEN_SLOW)
    return retry_policy.next_delay(
        step=retry_step,
        schedule=settings.FLEXHOOKS_RETRY_SCHEDULE,
        jitter=settings.FLEXHOOKS_RETRY_JITTER,
        retry_after=retry_after,
    )


# --- retry, recover ------------------------------------------------------------------------


def deliveries_retry(*, delivery_ids: Iterable[int]) -> RetryResult:
    """Queue deliveries for an attempt now, by hand: same event, same webhook-id.

    Failed and succeeded deliveries (a resend) and pending ones (brought forward) are
    queued, with a fresh retry schedule; one whose attempt is in flight, or whose endpoint
    is disabled, is skipped and counted with its reason.
    """
    result = RetryResult()
    eligible = []
    rows = Delivery.objects.filter(pk__in=list(delivery_ids)).values_list(
        "pk", "status", "endpoint__enabled"
    )
    for pk, status, endpoint_enabled in rows:
        if status == Status.SENDING:
            result.skipped["an attempt is in flight"] += 1
        elif not endpoint_enabled:
            result.skipped["the endpoint is disabled"] += 1
        else:
            eligible.append(pk)
    if not eligible:
        return result
    now = timezone.now()
    with transaction.atomic():
        result.queued = Delivery.objects.filter(
            pk__in=eligible, status__in=[Status.FAILED, Status.SUCCEEDED, Status.PENDING]
        ).update(
            status=Status.PENDING,
            next_attempt_at=now,
            dispatched_at=now,
            retry_step=0,
            next_trigger=Trigger.MANUAL,
        )
        _dispatch_on_commit(eligible)
    return result


def delivery_retry(*, delivery: Delivery) -> RetryResult:
    return deliveries_retry(delivery_ids=[delivery.pk])


def event_retry_failed(*, event: Event) -> RetryResult:
    """Queue every failed delivery of one event."""
    failed = event.deliveries.filter(status=Status.FAILED).values_list("pk", flat=True)
    return deliveries_retry(delivery_ids=failed)


def endpoint_recover(
    *, endpoint: Endpoint, since: datetime, until: datetime | None = None
) -> RetryResult:
    """Queue again every failed delivery of the endpoint created in [since, until)."""
    failed = endpoint.deliveries.filter(status=Status.FAILED, created_at__gte=since)
    if until is not None:
        failed = failed.filter(created_at__lt=until)
    return deliveries_retry(delivery_ids=failed.values_list("pk", flat=True))


def endpoint_send_test(*, endpoint: Endpoint, event_type: str) -> EmitResult:
    """Send the catalogue's example object of event_type to this endpoint only."""
    etype = _validated_event_type(event_type)
    return event_emit(
        account=endpoint.account, event_type=etype.name, data=etype.example or {}, endpoint=endpoint
    )


# --- sweep -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    reclaimed: int
    redispatched: int


def deliveries_sweep(*, now: datetime | None = None) -> SweepResult:
    """Reclaim deliveries whose worker vanished, and wake those that are due with no message.

    Safe on several hosts at once: rows are taken with SKIP LOCKED, so two sweepers never
    take the same row, and a duplicate message is harmless (the claim lets one through).
    """
    now = now or timezone.now()
    return SweepResult(reclaimed=_reclaim_expired(now), redispatched=_redispatch_due(now))


def _reclaim_expired(now: datetime) -> int:
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SENDING, lease_expires_at__lt=now)
            .order_by("lease_expires_at")
            .values_list("pk", "attempt_count", "next_trigger")[: settings.FLEXHOOKS_SWEEP_BATCH]
        )
        if not rows:
            return 0
        # The lost attempt is part of the history too: record it, then send again.
        Attempt.objects.bulk_create(
            Attempt(
                delivery_id=pk,
                number=number,
                trigger=trigger,
                started_at=now,
                error_class="worker_lost",
                error_message="the worker stopped before recording the outcome (lease expired)",
            )
            for pk, number, trigger in rows
        )
        ids = [pk for pk, _, _ in rows]
        Delivery.objects.filter(pk__in=ids, status=Status.SENDING).update(
            status=Status.PENDING,
            lease_expires_at=None,
            next_attempt_at=now,
            dispatched_at=now,
            last_error_class="worker_lost",
            last_error="the worker stopped before recording the outcome",
        )
        _dispatch_on_commit(ids)
    logger.warning("reclaimed %d deliveries whose lease expired", len(ids))
    return len(ids)


def _redispatch_due(now: datetime) -> int:
    stale = now - timedelta(seconds=settings.FLEXHOOKS_REDISPATCH_AFTER)
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[: settings.FLEXHOOKS_SWEEP_BATCH]
        )
        if not ids:
            return 0
        Delivery.objects.filter(pk__in=ids).update(dispatched_at=now)
        _dispatch_on_commit(ids)
    return len(ids)


# --- retention -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    events: int
    deliveries: int
    attempts: int


def history_purge(*, now: datetime | None = None, max_batches: int = 1000) -> PurgeResult:
    """Delete events older than FLEXHOOKS_RETENTION_DAYS with their deliveries and attempts.

    Batch by batch, each in its own short transaction, so no table is locked and workers
    and the dashboard carry on while a large history is trimmed.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.FLEXHOOKS_RETENTION_DAYS)
    events = deliveries = attempts = 0
    for _ in range(max_batches):
        ids = list(
            Event.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[: settings.FLEXHOOKS_RETENTION_BATCH]
        )
        if not ids:
            break
        with transaction.atomic():
            attempts += Attempt.objects.filter(delivery__event_id__in=ids)._raw_delete("default")
            deliveries += Delivery.objects.filter(event_id__in=ids)._raw_delete("default")
            events += Event.objects.filter(pk__in=ids)._raw_delete("default")
    Notice.objects.filter(last_seen_at__lt=cutoff).delete()
    if events:
        logger.info("purged events=%s deliveries=%s attempts=%s", events, deliveries, attempts)
    return PurgeResult(events=events, deliveries=deliveries, attempts=attempts)
