"""Celery wiring only: each task takes ids and calls a service."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from deliveries import wakeups
from deliveries.notifications import notice_send
from deliveries.services import deliveries_sweep, delivery_send, history_purge


@shared_task(
    bind=True,
    max_retries=None,
    # The database went away before the claim: try again soon. After the claim, the
    # lease brings the delivery back through the sweeper.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
)
def deliver(self, delivery_id: int) -> None:
    """Make one attempt of a delivery; a short wait for the next one rides on countdown."""
    countdown = delivery_send(delivery_id=delivery_id)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task
def wake_chunk(delivery_ids: list[int], swept: bool = False) -> None:
    """Publish the wake-up messages of one chunk of a large fan-out."""
    wakeups.wake(delivery_ids, swept=swept, chunked=False)


@shared_task
def sweep() -> None:
    """Reclaim lost attempts and wake due deliveries that have no message (beat)."""
    deliveries_sweep()


@shared_task
def purge_history() -> None:
    """Delete history past the retention period (beat, hourly)."""
    history_purge()


@shared_task(
    autoretry_for=(ConnectionError,), retry_backoff=5, retry_backoff_max=600, max_retries=8
)
def send_notice(notice_id: int) -> None:
    """POST one operational notification to the operations webhook."""
    notice_send(notice_id=notice_id)
