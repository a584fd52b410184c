"""The hot path's SQL: insert an event with its deliveries, claim a delivery, record an attempt.

On PostgreSQL each is one statement (data-modifying CTEs), so one round trip and one
commit; the delivery path is two statements per attempt. Elsewhere (SQLite, the embedded
development default) the same effect is reached through the ORM inside a transaction.
Every rule about *what* happens stays in services.py; this module only says *how* rows
are written.
"""

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce

from deliveries.models import Attempt, Delivery, Event
from endpoints.models import Endpoint, EndpointSecret, EventType, signing_at
from flexhooks.prepared import statement

Status = Delivery.Status
_SUBSCRIPTIONS = Endpoint.event_types.through._meta.db_table


def _postgres() -> bool:
    return connection.vendor == "postgresql"


# --- emit ----------------------------------------------------------------------------------


def insert_event(*, event: Event, only_endpoint_id: int | None) -> list[int] | None:
    """Insert the (unsaved) event and one pending delivery per target endpoint; return the
    deliveries' ids, or None when nothing was inserted: the account already used the
    event's idempotency key, or the event type has been archived meanwhile."""
    if _postgres():
        return _insert_event_postgres(event, only_endpoint_id)
    try:
        with transaction.atomic():
            if EventType.objects.filter(pk=event.event_type_id, archived=True).exists():
                return None
            event.save(force_insert=True)
            endpoint_ids = (
                [only_endpoint_id]
                if only_endpoint_id is not None
                else _subscribed_endpoint_ids(event.account_id, event.event_type_id)
            )
            deliveries = Delivery.objects.bulk_create(
                Delivery(
                    event=event,
                    endpoint_id=endpoint_id,
                    account_id=event.account_id,
                    next_attempt_at=event.created_at,
                    dispatched_at=event.created_at,
                    created_at=event.created_at,
                )
                for endpoint_id in endpoint_ids
            )
    except IntegrityError:
        if event.idempotency_key is None:
            raise
        return None
    return [delivery.pk for delivery in deliveries]


def _subscribed_endpoint_ids(account_id: int, event_type_id: int) -> list[int]:
    through = Endpoint.event_types.through
    subscriptions = through.objects.filter(endpoint_id=OuterRef("pk"))
    return list(
        Endpoint.objects.filter(account_id=account_id, enabled=True)
        .filter(
            Q(Exists(subscriptions.filter(eventtype_id=event_type_id))) | ~Q(Exists(subscriptions))
        )
        .values_list("pk", flat=True)
    )


_INSERT_EVENT = """
WITH ev AS (
    INSERT INTO deliveries_event (id, account_id, event_type_id, body, idempotency_key, created_at)
    SELECT %(id)s, %(account)s, %(type)s, %(body)s, %(key)s, %(now)s
    FROM endpoints_eventtype et WHERE et.id = %(type)s AND NOT et.archived
    ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
), d AS (
    INSERT INTO deliveries_delivery (event_id, endpoint_id, account_id, status, attempt_count,
        retry_step, next_trigger, next_attempt_at, dispatched_at, last_error_class, last_error,
        created_at, updated_at)
    SELECT ev.id, ep.id, %(account)s, 'pending', 0, 0, 'scheduled', %(now)s, %(now)s, '', '',
        %(now)s, %(now)s
    FROM ev, endpoints_endpoint ep
    WHERE ep.account_id = %(account)s AND {target}
    ORDER BY ep.id
    RETURNING id
)
SELECT (SELECT count(*) FROM ev), ARRAY(SELECT id FROM d ORDER BY id)
"""
_SUBSCRIBED = f"""ep.enabled AND (
    EXISTS (SELECT 1 FROM {_SUBSCRIPTIONS} s
            WHERE s.endpoint_id = ep.id AND s.eventtype_id = %(type)s)
    OR NOT EXISTS (SELECT 1 FROM {_SUBSCRIPTIONS} s WHERE s.endpoint_id = ep.id))"""
_INSERT_EVENT_SUBSCRIBED = _INSERT_EVENT.format(target=_SUBSCRIBED)
_INSERT_EVENT_ONE_ENDPOINT = _INSERT_EVENT.format(target="ep.id = %(endpoint)s")


def _insert_event_postgres(event: Event, only_endpoint_id: int | None) -> list[int] | None:
    sql = _INSERT_EVENT_SUBSCRIBED if only_endpoint_id is None else _INSERT_EVENT_ONE_ENDPOINT
    params = {
        "id": event.id,
        "account": event.account_id,
        "type": event.event_type_id,
        "body": event.body,
        "key": event.idempotency_key,
        "now": event.created_at,
        "endpoint": only_endpoint_id,
    }
    with connection.cursor() as cursor:
        statement(sql).execute(cursor, params)
        inserted, delivery_ids = cursor.fetchone()
    return delivery_ids if inserted else None


# --- claim ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One attempt's worth of a delivery, taken under a lease."""

    number: int
    trigger: str
    retry_step: int
    event_id: str
    endpoint_id: int
    body: str
    url: str
    headers: dict
    enabled: bool
    secret_ciphertexts: list[str]


# An endpoint that timed out recently (slow_until ahead), or has an attempt in flight for
# longer than a moment (stuck_before), gets at most `cap` attempts in flight, checked in
# the same statement; two claims racing may both pass it, so it is a
# soft cap (at most one over per racing worker), which is all it needs to be.
_CLAIM_SET = (
    "UPDATE deliveries_delivery"
    " SET status = 'sending', lease_expires_at = %(lease)s, attempt_count = attempt_count + 1,"
    " updated_at = %(now)s"
    " WHERE id = %(id)s AND status = 'pending' AND next_attempt_at <= %(now)s"
    " AND ((NOT EXISTS (SELECT 1 FROM endpoints_endpoint slow"
    "       WHERE slow.id = deliveries_delivery.endpoint_id AND slow.slow_until > %(now)s)"
    "   AND NOT EXISTS (SELECT 1 FROM deliveries_delivery stuck"
    "       WHERE stuck.endpoint_id = deliveries_delivery.endpoint_id"
    "       AND stuck.status = 'sending' AND stuck.updated_at < %(stuck_before)s))"
    "  OR (SELECT count(*) FROM deliveries_delivery busy"
    "      WHERE busy.endpoint_id = deliveries_delivery.endpoint_id"
    "      AND busy.status = 'sending') < %(cap)s)"
    " RETURNING attempt_count, next_trigger, retry_step, event_id, endpoint_id"
)
_CLAIM_POSTGRES = f"""
WITH c AS ({_CLAIM_SET})
SELECT c.attempt_count, c.next_trigger, c.retry_step, c.event_id, c.endpoint_id,
    e.body, ep.url, ep.headers, ep.enabled,
    ARRAY(SELECT s.ciphertext FROM endpoints_endpointsecret s
          WHERE s.endpoint_id = c.endpoint_id AND (s.expires_at IS NULL OR s.expires_at > %(now)s)
          ORDER BY s.created_at DESC)
FROM c JOIN deliveries_event e ON e.id = c.event_id
    JOIN endpoints_endpoint ep ON ep.id = c.endpoint_id
"""


# The claim's commit does not wait for its WAL to reach the disk. Safe because every
# later write of the attempt waits: the recording statement's synchronous commit flushes
# the WAL up to itself, the claim included. Only a PostgreSQL crash between claim and
# record can lose the claim, and then the record cannot be written either, whichever way
# the claim was committed: the delivery comes back pending (not through an expired
# lease) and is sent again, as at-least-once allows. The emit and the record stay
# synchronous: those are what a caller and the history rely on. Saves a disk flush per
# delivery (the backend's CPU in the kernel and the worker thread's wait).
_CLAIM_PRELUDE = "SET LOCAL synchronous_commit = off"


def claim(
    *,
    delivery_id: int,
    now: datetime,
    lease_until: datetime,
    max_in_flight: int,
    stuck_before: datetime,
) -> Claim | None:
    """Take a pending, due delivery for one attempt, unless its endpoint is slow (timed out
    lately, or has an attempt under way since before stuck_before) and already has
    max_in_flight attempts under way; None if it is not ours to send now."""
    params = {
        "id": delivery_id,
        "now": now,
        "lease": lease_until,
        "cap": max_in_flight,
        "stuck_before": stuck_before,
    }
    with connection.cursor() as cursor:
        if _postgres():
            # Inside a caller's transaction a SET LOCAL would reach past the claim.
            prelude = "" if connection.in_atomic_block else _CLAIM_PRELUDE
            statement(_CLAIM_POSTGRES).execute(cursor, params, prelude=prelude)
            row = cursor.fetchone()
            return None if row is None else _claim_from_row(row)
        cursor.execute(_CLAIM_SET, params)
        claimed = cursor.fetchone()
        if claimed is None:
            return None
        cursor.execute(
            "SELECT e.body, ep.url, ep.headers, ep.enabled FROM deliveries_event e,"
            " endpoints_endpoint ep WHERE e.id = %s AND ep.id = %s",
            [claimed[3], claimed[4]],
        )
        target = cursor.fetchone()
    ciphertexts = list(
        EndpointSecret.objects.filter(signing_at(now), endpoint_id=claimed[4]).values_list(
            "ciphertext", flat=True
        )
    )
    return _claim_from_row((*claimed, *target, ciphertexts))


def _claim_from_row(row) -> Claim:
    number, trigger, retry_step, event_id, endpoint_id, body, url, headers, enabled, secrets = row
    if isinstance(headers, str):
        headers = json.loads(headers)
    return Claim(
        number,
        trigger,
        retry_step,
        event_id,
        endpoint_id,
        body,
        url,
        headers,
        enabled,
        list(secrets),
    )


def postpone_if_due(*, delivery_id: int, now: datetime, until: datetime) -> None:
    """Move a pending, due delivery (one its endpoint had no room for) to `until`, with
    no message on the way: the sweeper wakes it then."""
    Delivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=until, dispatched_at=None
    )


# --- record --------------------------------------------------------------------------------


class Health:
    """What an attempt says about its endpoint's health."""

    SUCCESS = "success"  # reset the failure streak
    FAILURE = "failure"  # one more failure in the streak
    TIMEOUT = "timeout"  # a failure that also marks the endpoint slow


_ONE_MORE_FAILURE = (
    "failure_streak = failure_streak + 1, first_failure_at = COALESCE(first_failure_at, %(now)s)"
)
_HEALTH_SQL = {
    Health.SUCCESS: (
        "failure_streak = 0, first_failure_at = NULL, last_success_at = %(now)s",
        # Written only when something changes (or once a minute), so a busy healthy
        # endpoint's row is not locked by every delivery.
        " AND (failure_streak > 0 OR last_success_at IS NULL OR last_success_at < %(fresh)s)",
    ),
    Health.FAILURE: (_ONE_MORE_FAILURE, ""),
    Health.TIMEOUT: (_ONE_MORE_FAILURE + ", slow_until = %(slow_until)s", ""),
}

_RECORD_POSTGRES = """
WITH a AS (
    INSERT INTO deliveries_attempt (delivery_id, number, trigger, started_at, duration_ms,
        request_headers, response_status, response_headers, response_body, error_class,
        error_message)
    VALUES (%(delivery_id)s, %(number)s, %(trigger)s, %(started_at)s, %(duration_ms)s,
        %(request_headers)s::jsonb, %(response_status)s, %(response_headers)s::jsonb,
        %(response_body)s, %(error_class)s, %(error_message)s)
), h AS (
    UPDATE endpoints_endpoint SET {health} WHERE id = %(endpoint_id)s{health_condition}
)
UPDATE deliveries_delivery SET {assignments}, updated_at = %(now)s
WHERE id = %(delivery_id)s AND status = 'sending'
"""


def record(
    *,
    attempt: Attempt,
    changes: dict,
    endpoint_id: int,
    health: str,
    now: datetime,
    slow_until: datetime | None = None,
) -> None:
    """Insert the attempt, apply `changes` to its delivery (if still ours) and the attempt's
    verdict to the endpoint's health, atomically."""
    fresh = now - timedelta(seconds=60)
    if not _postgres():
        with transaction.atomic():
            attempt.save(force_insert=True)
            Delivery.objects.filter(pk=attempt.delivery_id, status=Status.SENDING).update(**changes)
            _record_health_orm(endpoint_id, health, now, fresh, slow_until)
        return
    record_statement = _record_statement(health, tuple(changes))
    params = {
        "delivery_id": attempt.delivery_id,
        "number": attempt.number,
        "trigger": attempt.trigger,
        "started_at": attempt.started_at,
        "duration_ms": attempt.duration_ms,
        "request_headers": json.dumps(attempt.request_headers),
        "response_status": attempt.response_status,
        "response_headers": json.dumps(attempt.response_headers),
        "response_body": attempt.response_body.replace("\x00", "\ufffd"),
        "error_class": attempt.error_class,
        "error_message": attempt.error_message,
        "endpoint_id": endpoint_id,
        "now": now,
        "fresh": fresh,
        "slow_until": slow_until,
        **{f"set_{column}": value for column, value in changes.items()},
    }
    with connection.cursor() as cursor:
        record_statement.execute(cursor, params)


@functools.cache
def _record_statement(health: str, columns: tuple[str, ...]):
    """The recording statement for one health verdict and one set of changed columns (a
    handful of combinations), built once per process."""
    health_set, health_condition = _HEALTH_SQL[health]
    return statement(
        _RECORD_POSTGRES.format(
            health=health_set,
            health_condition=health_condition,
            assignments=", ".join(f"{column} = %(set_{column})s" for column in columns),
        )
    )


def _record_health_orm(endpoint_id, health, now, fresh, slow_until) -> None:
    endpoints = Endpoint.objects.filter(pk=endpoint_id)
    if health == Health.SUCCESS:
        endpoints.filter(
            Q(failure_streak__gt=0) | Q(last_success_at__isnull=True) | Q(last_success_at__lt=fresh)
        ).update(failure_streak=0, first_failure_at=None, last_success_at=now)
        return
    extra = {"slow_until": slow_until} if health == Health.TIMEOUT else {}
    endpoints.update(
        failure_streak=F("failure_streak") + 1,
        first_failure_at=Coalesce("first_failure_at", Value(now)),
        **extra,
    )
