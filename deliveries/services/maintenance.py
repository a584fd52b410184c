"""Maintenance (beat): reclaim and re-wake deliveries; trim old history."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deliveries.models import Attempt, Delivery, Event, Notice
from deliveries.services.emit import dispatch_on_commit

logger = logging.getLogger("deliveries.services")

Status = Delivery.Status


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
        dispatch_on_commit(ids)
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
        dispatch_on_commit(ids)
    return len(ids)


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
