"""Fault drills with real processes: nothing is lost when a worker dies or Redis forgets."""

import pytest

from deliveries.models import Attempt, Delivery
from deliveries.services import event_emit
from tests.conftest import report_drill, wait_until
from tests.factories import make_endpoint
from tests.receiver import Reply

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _emit_many(account, count: int) -> list[str]:
    return [
        event_emit(account=account, event_type="invoice.created", data={"n": n}).event.id
        for n in range(count)
    ]


def _all_succeeded(count: int):
    return lambda: Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count() == count


def test_a_worker_killed_mid_batch_loses_nothing(account, receiver, start_worker):
    make_endpoint(account, receiver.url + "/slow")
    receiver.default = Reply(200, delay=0.3)
    first = start_worker(concurrency=2)
    event_ids = _emit_many(account, 20)
    wait_until(
        lambda: Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count() >= 3,
        message="some deliveries done",
    )

    first.kill()
    in_flight = Delivery.objects.filter(status=Delivery.Status.SENDING).count()
    start_worker(concurrency=2)

    wait_until(_all_succeeded(20), timeout=60, message="every delivery succeeded after restart")
    received = report_drill("worker SIGKILLed mid-batch", receiver, set(event_ids))
    assert set(received) == set(event_ids)
    lost_attempts = Attempt.objects.filter(error_class="worker_lost").count()
    # Any attempt cut off by the kill was reclaimed through its lease and recorded.
    assert lost_attempts == in_flight


def test_a_flushed_redis_loses_nothing(account, receiver, start_worker, broker):
    make_endpoint(account, receiver.url + "/hook")
    event_ids = _emit_many(account, 10)
    assert broker.llen("deliveries") == 10

    broker.flushdb()  # every wake-up message is gone; PostgreSQL still has the truth
    start_worker()

    wait_until(_all_succeeded(10), timeout=30, message="the sweeper re-enqueued everything")
    received = report_drill("Redis flushed", receiver, set(event_ids))
    assert set(received) == set(event_ids)
    assert max(received.values()) == 1
