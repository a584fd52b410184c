"""Maintenance (beat): reclaim lost attempts, re-wake deliveries, trim old history."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from deliveries import lifecycle, outcome, wakeups
from deliveries.models import Attempt, Delivery, Event, Notice
from deliveries.notifications import notices_post_again
from deliveries.services.sending import attempt_from, notify_outcome
from endpoints.models import Endpoint
from outbound.errors import ErrorClass
from outbound.transport import Result

logger = logging.getLogger("deliveries.services")

# Deliveries one sweep handles at most, per kind of work.
SWEEP_BATCH = 1000
# Events deleted per transaction when trimming history.
PURGE_BATCH = 5000
# A due delivery whose wake-up message is this many sweeps overdue is published again.
REDISPATCH_AFTER_SWEEPS = 12


@dataclass(frozen=True)
class SweepResult:
    reclaimed: int
    redispatched: int
    notices: int = 0


def deliveries_sweep(*, now: datetime | None = None) -> SweepResult:
    """Reclaim attempts whose worker vanished, wake due deliveries that have no message,
    and send again the operational notices the operations webhook has not taken.

    Safe on several hosts at once: rows are taken with SKIP LOCKED, so two sweepers never
    take the same row, and a duplicate message is harmless (the claim lets one through).
    """
    now = now or timezone.now()
    return SweepResult(
        reclaimed=_reclaim(now),
        redispatched=_redispatch(now),
        notices=notices_post_again(now=now),
    )


@transaction.atomic
def _reclaim(now: datetime) -> int:
    """A lease that expired is an attempt like any other: recorded as `worker_lost` and
    judged by the schedule, so a delivery that kills its worker every time still ends."""
    lost = lifecycle.expired_leases(now=now, limit=SWEEP_BATCH)
    policy = outcome.Policy.from_settings()
    result = Result(
        0,
        error_class=ErrorClass.WORKER_LOST,
        error_message="the worker stopped before recording the outcome (lease expired)",
    )
    for claim in lost:
        verdict = outcome.judge(
            result,
            retry_step=claim.retry_step,
            now=now,
            failing_since=claim.failing_since,
            policy=policy,
        )
        attempt = attempt_from(claim, result, started_at=claim.claimed_at, request_headers={})
        lifecycle.record(claim=claim, attempt=attempt, verdict=verdict, now=now)
        notify_outcome(claim=claim, verdict=verdict)
        if verdict.countdown is not None:
            wakeups.wake_on_commit([claim.delivery_id], at=verdict.next_attempt_at)
    if lost:
        logger.warning("reclaimed %d deliveries whose lease expired", len(lost))
    return len(lost)


@transaction.atomic
def _redispatch(now: datetime) -> int:
    stale = now - timedelta(seconds=REDISPATCH_AFTER_SWEEPS * settings.FLEXHOOKS_SWEEP_INTERVAL)
    ids = lifecycle.due_without_message(now=now, stale_before=stale, limit=SWEEP_BATCH)
    wakeups.wake_on_commit(ids, swept=True)
    return len(ids)


@dataclass(frozen=True)
class PurgeResult:
    events: int
    deliveries: int
    attempts: int
    endpoints: int = 0


def history_purge(*, now: datetime | None = None, max_batches: int = 1000) -> PurgeResult:
    """Delete events older than FLEXHOOKS_RETENTION_DAYS with their deliveries and
    attempts, and deleted endpoints that have no history left.

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
            .values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not ids:
            break
        with transaction.atomic():
            attempts += Attempt.objects.filter(delivery__event_id__in=ids)._raw_delete("default")
            deliveries += Delivery.objects.filter(event_id__in=ids)._raw_delete("default")
            events += Event.objects.filter(pk__in=ids)._raw_delete("default")
    Notice.objects.filter(last_seen_at__lt=cutoff).delete()
    gone, _ = (
        Endpoint.objects.filter(deleted_at__isnull=False)
        .exclude(Exists(Delivery.objects.filter(endpoint=OuterRef("pk"))))
        .delete()
    )
    if events or gone:
        logger.info(
            "purged events=%s deliveries=%s attempts=%s endpoint rows=%s",
            events,
            deliveries,
            attempts,
            gone,
        )
    return PurgeResult(events=events, deliveries=deliveries, attempts=attempts, endpoints=gone)
