"""The life of a delivery: every transition, each written once, as an ORM definition.

    create ──▶ pending ──claim──▶ sending ──record──▶ succeeded | failed | pending (retry)
                  ▲  └─postpone─┘    └─reclaim: a lease that expired is an attempt too
                  └──requeue (by hand, recover) ◀── succeeded | failed | cancelled
    pending ──cancel──▶ cancelled (endpoint disabled or deleted: never sent)

The hot transitions (create, claim, record) are compiled once per process
(deliveries/compiled.py). On PostgreSQL the pieces of one transition run as one
statement (data-modifying CTEs); elsewhere they run one after another in a transaction.
tests/deliveries/test_lifecycle.py holds the two forms to the same table of cases, on
PostgreSQL and on SQLite. What an outcome means is decided in deliveries/outcome.py.
"""

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from deliveries import compiled
from deliveries.compiled import Param
from deliveries.models import Attempt, Delivery, Event
from deliveries.outcome import Health, Verdict, jittered
from endpoints.models import Endpoint, signing_at

Status = Delivery.Status
Trigger = Delivery.Trigger

# PostgreSQL runs a transition's pieces as one statement; tests turn it off to compare.
COMBINE = True
# A slow endpoint (timed out lately, or an attempt in flight longer than STUCK_AFTER)
# gets at most this many attempts in flight, so a hanging receiver holds few worker slots.
SLOW_ENDPOINT_MAX_IN_FLIGHT = 1
STUCK_AFTER = timedelta(seconds=0.5)
# A delivery with no room (its endpoint or account slow and full) waits about this long,
# no attempt spent.
BUSY_WAIT = timedelta(seconds=5)
# Health is written on success only when it changes, or once a minute: a busy healthy
# endpoint's row is not locked by every delivery.
SUCCESS_REFRESH = timedelta(seconds=60)

_TIME = models.DateTimeField()
_ID = models.BigIntegerField()
_INT = models.IntegerField()
_TEXT = models.TextField()


def _combined() -> bool:
    return COMBINE and connection.vendor == "postgresql"


def lease_length() -> timedelta:
    """How long a claimed delivery belongs to its worker: twice the request deadline and
    some, so only a worker that is gone loses it."""
    return timedelta(seconds=2 * settings.FLEXHOOKS_REQUEST_DEADLINE + 5)


def _below(queryset: models.QuerySet, cap: int) -> Q:
    """Fewer than `cap` rows match (LIMIT 1 OFFSET cap-1 finds none)."""
    return ~Q(Exists(queryset[cap - 1 : cap]))


def _in_flight(**lookups) -> models.QuerySet:
    return Delivery.objects.filter(status=Status.SENDING, **lookups)


def endpoint_slow(now) -> Q:
    """The delivery's endpoint timed out lately, or has an attempt in flight for longer
    than STUCK_AFTER (found slow before its first timeout)."""
    endpoint = OuterRef("endpoint_id")
    return Q(Exists(Endpoint.objects.filter(pk=endpoint, slow_until__gt=now))) | Q(
        Exists(_in_flight(endpoint_id=endpoint, updated_at__lt=now - STUCK_AFTER))
    )


def has_room(*, now, account_cap: int) -> Q:
    """A delivery may be claimed only if its endpoint is not slow or is below the slow
    endpoints' cap, and its account is not slow (an endpoint of it slow, or an attempt of
    it stuck in flight) or is below its share of attempts in flight. Like the endpoint's,
    the account's cap applies once it shows slowness: a healthy account's burst takes
    every free slot (its attempts end in milliseconds), a tenant whose endpoints hang takes
    at most `account_cap`."""
    endpoint_room = ~endpoint_slow(now) | _below(
        _in_flight(endpoint_id=OuterRef("endpoint_id")), SLOW_ENDPOINT_MAX_IN_FLIGHT
    )
    if account_cap < 1:  # no cap
        return endpoint_room
    account = OuterRef("account_id")
    account_slow = Q(Exists(Endpoint.objects.filter(account_id=account, slow_until__gt=now))) | Q(
        Exists(_in_flight(account_id=account, updated_at__lt=now - STUCK_AFTER))
    )
    account_room = ~account_slow | _below(_in_flight(account_id=account), account_cap)
    return endpoint_room & account_room


def due(now) -> Q:
    return Q(status=Status.PENDING, next_attempt_at__lte=now)


# --- create (emit) -------------------------------------------------------------------------

_EVENT_COLUMNS = ("id", "account_id", "event_type_id", "body", "idempotency_key", "created_at")
_DELIVERY_COLUMNS = (
    "event_id",
    "endpoint_id",
    "account_id",
    "next_attempt_at",
    "dispatched_at",
    "created_at",
    "updated_at",
)


@functools.cache
def _create_statements(combined: bool, only_endpoint: bool) -> list[compiled.Statement]:
    event = compiled.insert(
        Event,
        {name: Param(name, Event._meta.get_field(name)) for name in _EVENT_COLUMNS},
        ignore_conflicts=True,
        returning=("id",),
    )
    now = Param("now", _TIME)
    targets = (
        Endpoint.objects.filter(pk=Param("endpoint_id", _ID), account_id=Param("account_id", _ID))
        if only_endpoint
        else Endpoint.objects.subscribed(
            account_id=Param("account_id", _ID), event_type_id=Param("event_type_id", _ID)
        )
    )
    rows = (
        targets.annotate(e=Param("id", _TEXT), n=now, d=now, c=now, u=now)
        .order_by("pk")
        .values_list("e", "pk", "account_id", "n", "d", "c", "u")
    )
    if not combined:
        return [event, compiled.insert_select(Delivery, _DELIVERY_COLUMNS, rows, returning=("id",))]
    # One statement: the deliveries only if the event was inserted (not an idempotent
    # repeat); one row per delivery, or one without a delivery id.
    deliveries = compiled.insert_select(
        Delivery, _DELIVERY_COLUMNS, rows, only_if="EXISTS (SELECT 1 FROM ev)", returning=("id",)
    )
    text = compiled.text
    return [
        text("WITH ev AS (")
        + event
        + text("), d AS (")
        + deliveries
        + text(") SELECT ev.id, d.id FROM ev LEFT JOIN d ON true ORDER BY d.id")
    ]


def create(*, event: Event, only_endpoint_id: int | None = None) -> list[int] | None:
    """Insert the event and one pending delivery per endpoint it goes to (or to
    `only_endpoint_id` alone); return the deliveries' ids, or None when the account has
    used the event's idempotency key already (nothing is inserted then)."""
    values = {name: getattr(event, name) for name in _EVENT_COLUMNS}
    values.update(now=event.created_at, endpoint_id=only_endpoint_id)
    statements = _create_statements(_combined(), only_endpoint_id is not None)
    with connection.cursor() as cursor:
        if len(statements) == 1:
            statements[0].run(cursor, values)
            rows = cursor.fetchall()
            return [delivery for _, delivery in rows if delivery is not None] if rows else None
        with transaction.atomic():
            statements[0].run(cursor, values)
            if cursor.fetchone() is None:
                return None
            statements[1].run(cursor, values)
            return [delivery for (delivery,) in cursor.fetchall()]


# --- claim ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One attempt's worth of a delivery, taken under a lease."""

    delivery_id: int
    number: int
    trigger: str
    retry_step: int
    event_id: str
    endpoint_id: int
    account_id: int
    claimed_at: datetime
    body: str = ""
    url: str = ""
    headers: dict | None = None
    enabled: bool = True
    failing_since: datetime | None = None
    secret_ciphertexts: tuple[str, ...] = ()


_CLAIMED = ("attempt_count", "next_trigger", "retry_step", "event_id", "endpoint_id", "account_id")
_LOADED = (
    "event__body",
    "endpoint__url",
    "endpoint__headers",
    "endpoint__enabled",
    "endpoint__first_failure_at",
    "endpoint__secrets__ciphertext",
)


@functools.cache
def _claim_statements(combined: bool, account_cap: int) -> list[compiled.Statement]:
    now = Param("now", _TIME)
    claim = compiled.update(
        Delivery.objects.filter(due(now), pk=Param("id", _ID)).filter(
            has_room(now=now, account_cap=account_cap)
        ),
        {
            "status": Status.SENDING,
            "lease_expires_at": Param("lease_until", _TIME),
            "attempt_count": F("attempt_count") + 1,
            "updated_at": now,
        },
        returning=_CLAIMED,
    )
    load = compiled.select(
        Delivery.objects.filter(signing_at(now, path="endpoint__secrets__"), pk=Param("id", _ID))
        .order_by("-endpoint__secrets__created_at")
        .values_list(*_LOADED)
    )
    if not combined:
        return [claim, load]
    text = compiled.text
    return [
        text("WITH c AS (")
        + claim
        + text(") SELECT * FROM c LEFT JOIN (")
        + load
        + text(") l ON true")
    ]


def claim(*, delivery_id: int, now: datetime) -> Claim | None:
    """pending and due → sending, under a lease, if its endpoint and account have room; the
    claim carries what the attempt needs. None: not ours to send now."""
    values = {"id": delivery_id, "now": now, "lease_until": now + lease_length()}
    statements = _claim_statements(_combined(), settings.FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT)
    with connection.cursor() as cursor:
        statements[0].run(cursor, values)
        rows = cursor.fetchall()
        if rows and len(statements) == 2:
            statements[1].run(cursor, values)
            rows = [rows[0] + loaded for loaded in cursor.fetchall()] or [rows[0] + (None,) * 6]
    if not rows:
        return None
    number, trigger, retry_step, event_id, endpoint_id, account_id = rows[0][:6]
    body, url, headers, enabled, failing_since, _ = rows[0][6:]
    return Claim(
        delivery_id=delivery_id,
        number=number,
        trigger=trigger,
        retry_step=retry_step,
        event_id=event_id,
        endpoint_id=endpoint_id,
        account_id=account_id,
        claimed_at=now,
        body=body,
        url=url,
        headers=Endpoint._meta.get_field("headers").from_db_value(headers, None, connection)
        if isinstance(headers, str)
        else headers,
        enabled=enabled,
        failing_since=_aware(failing_since),
        secret_ciphertexts=tuple(row[-1] for row in rows if row[-1] is not None),
    )


def _aware(value) -> datetime | None:
    """A timestamp read by a compiled statement (SQLite hands back naive UTC or text)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def postpone(*, delivery_id: int, now: datetime) -> None:
    """A due delivery that was not claimed had no room (its endpoint slow and full, or its
    slow account at its share): it waits about BUSY_WAIT without spending an attempt, with
    no message — the sweeper wakes it (a hanging tenant may have hundreds waiting, and
    their messages would crowd the queue). Not due, or not pending: nothing changes."""
    Delivery.objects.filter(due(now), pk=delivery_id).update(
        # Jittered: the waiting deliveries of a hanging endpoint do not all come back at once.
        next_attempt_at=now + timedelta(seconds=jittered(BUSY_WAIT.total_seconds(), 0.2)),
        dispatched_at=None,
    )


# --- record --------------------------------------------------------------------------------

_ATTEMPT_COLUMNS = (
    "delivery_id",
    "number",
    "trigger",
    "started_at",
    "duration_ms",
    "request_headers",
    "response_status",
    "response_headers",
    "response_body",
    "error_class",
    "error_message",
)


def _health_changes(health: str) -> tuple[Q, dict]:
    """The endpoint row an attempt's health verdict writes: (which rows, what)."""
    now = Param("now", _TIME)
    if health == Health.SUCCESS:
        changed = (
            Q(failure_streak__gt=0)
            | Q(last_success_at__isnull=True)
            | Q(last_success_at__lt=Param("fresh_before", _TIME))
        )
        return changed, {"failure_streak": 0, "first_failure_at": None, "last_success_at": now}
    failure = {
        "failure_streak": F("failure_streak") + 1,
        "first_failure_at": Coalesce("first_failure_at", now),
    }
    if health == Health.TIMEOUT:
        failure["slow_until"] = Param("slow_until", _TIME)
    return Q(), failure


@functools.cache
def _record_statements(combined: bool, health: str) -> list[compiled.Statement]:
    attempt = compiled.insert(
        Attempt, {name: Param(name, Attempt._meta.get_field(name)) for name in _ATTEMPT_COLUMNS}
    )
    changed, changes = _health_changes(health)
    endpoint = compiled.update(
        Endpoint.objects.filter(changed, pk=Param("endpoint_id", _ID)), changes
    )
    # Still ours: the lease was not reclaimed (and claimed again) meanwhile.
    delivery = compiled.update(
        Delivery.objects.filter(
            pk=Param("delivery_id", _ID), status=Status.SENDING, attempt_count=Param("number", _INT)
        ),
        {
            "status": Param("status", _TEXT),
            "next_attempt_at": Param("next_attempt_at", _TIME),
            "retry_step": Param("retry_step", _INT),
            "dispatched_at": Param("dispatched_at", _TIME),
            "lease_expires_at": None,
            "next_trigger": Trigger.SCHEDULED,
            "last_status_code": Param("last_status_code", _INT),
            "last_error_class": Param("last_error_class", _TEXT),
            "last_error": Param("last_error", _TEXT),
            "updated_at": Param("now", _TIME),
        },
    )
    if not combined:
        return [attempt, endpoint, delivery]
    text = compiled.text
    return [text("WITH a AS (") + attempt + text("), h AS (") + endpoint + text(") ") + delivery]


def record(*, claim: Claim, attempt: Attempt, verdict: Verdict, now: datetime) -> None:
    """Store the attempt, apply the verdict to the delivery (if the lease is still ours) and
    the attempt's health to the endpoint, atomically."""
    values = {name: getattr(attempt, name) for name in _ATTEMPT_COLUMNS}
    values.update(
        endpoint_id=claim.endpoint_id,
        now=now,
        fresh_before=now - SUCCESS_REFRESH,
        slow_until=verdict.slow_until,
        status=verdict.status,
        next_attempt_at=verdict.next_attempt_at,
        retry_step=verdict.retry_step,
        # A soon retry rides on a countdown message, due then; a later one waits for the
        # sweeper (no message).
        dispatched_at=verdict.next_attempt_at if verdict.countdown is not None else None,
        last_status_code=verdict.last_status_code,
        last_error_class=verdict.last_error_class,
        last_error=verdict.last_error,
    )
    statements = _record_statements(_combined(), verdict.health)
    with connection.cursor() as cursor:
        if len(statements) == 1:
            statements[0].run(cursor, values)
            return
        with transaction.atomic():
            for statement in statements:
                statement.run(cursor, values)


# --- reclaim, cancel, requeue, re-wake -----------------------------------------------------


def expired_leases(*, now: datetime, limit: int) -> list[Claim]:
    """Deliveries whose worker vanished mid-attempt (lease expired), locked for the caller's
    transaction (SKIP LOCKED: several sweepers never take the same one)."""
    rows = (
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Status.SENDING, lease_expires_at__lt=now)
        .order_by("lease_expires_at")
        .values_list(
            "pk",
            "attempt_count",
            "next_trigger",
            "retry_step",
            "event_id",
            "endpoint_id",
            "account_id",
            "updated_at",
            "endpoint__first_failure_at",
        )[:limit]
    )
    return [
        Claim(pk, number, trigger, step, event, endpoint, account, claimed_at, failing_since=since)
        for pk, number, trigger, step, event, endpoint, account, claimed_at, since in rows
    ]


def cancel(*, deliveries: models.QuerySet, reason: str, now: datetime) -> int:
    """pending → cancelled: never to be sent (its endpoint was disabled or deleted)."""
    return deliveries.filter(status=Status.PENDING).update(
        status=Status.CANCELLED,
        next_attempt_at=None,
        dispatched_at=None,
        last_error=reason[:500],
        updated_at=now,
    )


def cancel_claimed(*, claim: Claim, reason: str, now: datetime) -> None:
    """sending → cancelled, for a claim whose endpoint turned out disabled: nothing sent,
    so the attempt is handed back."""
    Delivery.objects.filter(
        pk=claim.delivery_id, status=Status.SENDING, attempt_count=claim.number
    ).update(
        status=Status.CANCELLED,
        attempt_count=F("attempt_count") - 1,
        lease_expires_at=None,
        next_attempt_at=None,
        last_error=reason[:500],
        updated_at=now,
    )


# Why a delivery asked to be sent again by hand is not.
IN_FLIGHT = "an attempt is in flight"
ENDPOINT_DISABLED = "the endpoint is disabled"


def requeue(*, delivery_ids: Iterable[int], now: datetime) -> tuple[list[int], Counter]:
    """Back to pending, due now, with a fresh schedule and the manual trigger: a finished
    delivery is sent again (same event, same webhook-id), a pending one brought forward.
    Return the ids queued and, by reason, how many were not."""
    skipped: Counter = Counter()
    queued = []
    rows = Delivery.objects.filter(pk__in=list(delivery_ids)).values_list(
        "pk", "status", "endpoint__enabled"
    )
    for pk, status, endpoint_enabled in rows:
        if status == Status.SENDING:
            skipped[IN_FLIGHT] += 1
        elif not endpoint_enabled:
            skipped[ENDPOINT_DISABLED] += 1
        else:
            queued.append(pk)
    if queued:
        Delivery.objects.filter(pk__in=queued).exclude(status=Status.SENDING).update(
            status=Status.PENDING,
            next_attempt_at=now,
            dispatched_at=now,
            retry_step=0,
            next_trigger=Trigger.MANUAL,
            updated_at=now,
        )
    return queued, skipped


def due_without_message(*, now: datetime, stale_before: datetime, limit: int) -> list[int]:
    """Due deliveries whose wake-up message is long overdue (lost, flushed) or that never
    had one (long waits): marked as woken now, for the caller to publish after commit."""
    ids = list(
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(due(now))
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale_before))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        Delivery.objects.filter(pk__in=ids).update(dispatched_at=now)
    return ids
