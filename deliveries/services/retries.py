"""Retry by hand: single deliveries, an event's failures, an endpoint's since a date."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from deliveries.models import Delivery, Event
from deliveries.services.emit import dispatch_on_commit
from endpoints.models import Endpoint

Status = Delivery.Status
Trigger = Delivery.Trigger


@dataclass
class RetryResult:
    queued: int = 0
    skipped: Counter = field(default_factory=Counter)


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
        dispatch_on_commit(eligible)
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
