"""Wake-up messages: which Celery task wakes a delivery, and when.

PostgreSQL holds the truth; a message only wakes a worker, so a publish that fails loses
nothing (the sweeper publishes again whatever is due and was not consumed). Messages go
through Celery's and kombu's public publishing API, one producer held per batch; what
that costs per message is in the README's benchmarks.
"""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.utils import timezone

from deliveries.outcome import MAX_COUNTDOWN

logger = logging.getLogger(__name__)

DELIVER = "deliveries.tasks.deliver"
WAKE_CHUNK = "deliveries.tasks.wake_chunk"
# What the sweeper wakes (deliveries that waited: long retries, lost messages, and those
# behind a slow endpoint or account) goes to a queue of its own, which workers consume
# beside `deliveries`: fresh deliveries never wait behind a hanging tenant's backlog.
SWEPT = "deliveries_swept"
# A fan-out larger than INLINE_MAX is published by the workers, one message per CHUNK ids:
# the caller does not wait for a thousand publishes.
INLINE_MAX = 50
CHUNK = 250


def wake(
    delivery_ids: Sequence[int],
    *,
    at: datetime | None = None,
    swept: bool = False,
    chunked: bool = True,
) -> None:
    """Make a worker attempt each delivery, now or at `at`: a short wait rides on a
    countdown message, a long one is left to the sweeper (nothing long-lived sits in the
    broker). `swept`: the sweeper's queue. A large batch is handed to the workers in
    chunks unless `chunked` is off (the chunk's own task). Never raises."""
    countdown = None
    if at is not None:
        countdown = (at - timezone.now()).total_seconds()
        if countdown > MAX_COUNTDOWN:
            return
    queue = SWEPT if swept else None
    if chunked and len(delivery_ids) > INLINE_MAX:
        chunks = [delivery_ids[i : i + CHUNK] for i in range(0, len(delivery_ids), CHUNK)]
        _publish(WAKE_CHUNK, [(list(chunk), swept) for chunk in chunks], countdown, queue)
    else:
        _publish(DELIVER, [(delivery_id,) for delivery_id in delivery_ids], countdown, queue)


def wake_on_commit(
    delivery_ids: Sequence[int], *, at: datetime | None = None, swept: bool = False
) -> None:
    """wake() once the current transaction commits (at once outside one)."""
    if delivery_ids:
        transaction.on_commit(lambda: wake(delivery_ids, at=at, swept=swept))


def call_on_commit(task_name: str, *args) -> None:
    """One message of another task (by name), once the current transaction commits."""
    transaction.on_commit(lambda: _publish(task_name, [args], None))


def _publish(
    task_name: str, arguments: list[tuple], countdown: float | None, queue_name: str | None = None
) -> None:
    app = current_app
    try:
        # Routed once per batch, on one producer from the app's pool; kombu's publish
        # batch sends a batch's messages in one round trip (one Redis pipeline: about a
        # third of the CPU per message; other brokers publish them one by one).
        queue = (
            app.amqp.queues[queue_name]
            if queue_name
            else app.amqp.router.route({}, task_name)["queue"]
        )
        with app.producer_or_acquire() as producer, producer.batch(max_size=CHUNK):
            for args in arguments:
                message = app.amqp.create_task_message(
                    str(uuid.uuid4()),
                    task_name,
                    args,
                    {},
                    countdown=countdown,
                    argsrepr=repr(args),  # ids only: no need for Celery's bounded saferepr
                    kwargsrepr="{}",
                )
                app.amqp.send_task_message(producer, task_name, message, queue=queue)
    except Exception:  # the database already holds the truth; the sweeper re-sends
        logger.exception(
            "could not publish %d %s messages; the sweeper will", len(arguments), task_name
        )
