"""Retry by hand: single deliveries, an event's failures, an endpoint's since a date."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from deliveries import lifecycle, wakeups
from deliveries.models import Delivery, Event
from endpoints.models import Endpoint

Status = Delivery.Status


@dataclass
class RetryResult:
    queued: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def message(self) -> str:
        """What happened, for people (the dashboard's and the portal's confirmation)."""
        text = f"Queued {self.queued} deliver{'y' if self.queued == 1 else 'ies'} for retry."
        if self.skipped:
            reasons = ", ".join(f"{n} because {why}" for why, n in self.skipped.items())
            text += f" Skipped {sum(self.skipped.values())}: {reasons}."
        return text


@transaction.atomic
def deliveries_retry(*, delivery_ids: Iterable[int]) -> RetryResult:
    """Queue deliveries for an attempt now, by hand: same event, same webhook-id.

    Finished deliveries are sent again and pending ones brought forward, with a fresh
    retry schedule; one whose attempt is in flight, or whose endpoint is disabled, is
    skipped and counted with its reason.
    """
    queued, skipped = lifecycle.requeue(delivery_ids=delivery_ids, now=timezone.now())
    wakeups.wake_on_commit(queued)
    return RetryResult(queued=len(queued), skipped=skipped)


def delivery_retry(*, delivery: Delivery) -> RetryResult:
    return deliveries_retry(delivery_ids=[delivery.pk])


def event_retry_failed(*, event: Event) -> RetryResult:
    """Queue every failed delivery of one event."""
    failed = event.deliveries.filter(status=Status.FAILED).values_list("pk", flat=True)
    return deliveries_retry(delivery_ids=failed)


def endpoint_recover(
    *, endpoint: Endpoint, since: datetime, until: datetime | None = None
) -> RetryResult:
    """Queue again every delivery of the endpoint created in [since, until) that failed or
    was cancelled (never sent while the endpoint was disabled)."""
    missed = endpoint.deliveries.filter(
        status__in=[Status.FAILED, Status.CANCELLED], created_at__gte=since
    )
    if until is not None:
        missed = missed.filter(created_at__lt=until)
    return deliveries_retry(delivery_ids=missed.values_list("pk", flat=True))
