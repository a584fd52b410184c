"""Wake-up messages go through Celery's public publishing API to the real Redis broker."""

import base64
import json
import socket
import time
from datetime import timedelta

import pytest
from celery import Celery
from django.utils import timezone

from deliveries import wakeups

pytestmark = pytest.mark.services


def _popped(broker, queue: str = "deliveries") -> list[dict]:
    """The messages of a queue, in the order a worker takes them."""
    messages = []
    while (raw := broker.rpop(queue)) is not None:
        messages.append(json.loads(raw))
    return messages


def _task_and_args(message: dict):
    return message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0]


def test_a_batch_is_one_message_per_delivery_taken_first_in_first_out(broker):
    wakeups.wake([1, 2, 3])
    assert [_task_and_args(m) for m in _popped(broker)] == [
        ("deliveries.tasks.deliver", [1]),
        ("deliveries.tasks.deliver", [2]),
        ("deliveries.tasks.deliver", [3]),
    ]


def test_what_the_sweeper_wakes_goes_to_a_queue_of_its_own(broker, monkeypatch):
    wakeups.wake([1, 2], swept=True)
    assert _popped(broker) == []
    assert [_task_and_args(m) for m in _popped(broker, "deliveries_swept")] == [
        ("deliveries.tasks.deliver", [1]),
        ("deliveries.tasks.deliver", [2]),
    ]
    monkeypatch.setattr(wakeups, "INLINE_MAX", 1)
    wakeups.wake([3, 4], swept=True)
    assert [_task_and_args(m) for m in _popped(broker, "deliveries_swept")] == [
        ("deliveries.tasks.wake_chunk", [[3, 4], True])
    ]


def test_a_large_fan_out_is_left_to_the_workers_in_chunks(broker, monkeypatch):
    monkeypatch.setattr(wakeups, "INLINE_MAX", 3)
    monkeypatch.setattr(wakeups, "CHUNK", 2)
    wakeups.wake([1, 2, 3, 4, 5])
    assert [_task_and_args(m) for m in _popped(broker)] == [
        ("deliveries.tasks.wake_chunk", [[1, 2], False]),
        ("deliveries.tasks.wake_chunk", [[3, 4], False]),
        ("deliveries.tasks.wake_chunk", [[5], False]),
    ]


def test_a_short_wait_rides_on_a_countdown_and_a_long_one_on_the_sweeper(broker):
    wakeups.wake([7], at=timezone.now() + timedelta(seconds=30))
    (message,) = _popped(broker)
    eta = message["headers"]["eta"]
    assert 25 < (timezone.datetime.fromisoformat(eta) - timezone.now()).total_seconds() <= 30
    wakeups.wake([8], at=timezone.now() + timedelta(minutes=5))
    assert _popped(broker) == []


def _app_with_broker(monkeypatch, url: str) -> Celery:
    """An app configured as ours but for its broker (Celery reads the environment first)."""
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    app = Celery("flexhooks-test", broker=url, set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = url
    return app


def test_a_broker_that_is_down_costs_only_the_message(caplog, monkeypatch):
    monkeypatch.setattr(
        wakeups, "current_app", _app_with_broker(monkeypatch, "redis://127.0.0.1:1/0")
    )
    wakeups.wake([1])  # does not raise: the sweeper publishes it again
    assert "could not publish 1 deliveries.tasks.deliver messages" in caplog.text


def test_a_broker_that_hangs_costs_a_bounded_wait(caplog, monkeypatch):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    monkeypatch.setattr(wakeups, "current_app", _app_with_broker(monkeypatch, url))
    started = time.monotonic()
    wakeups.wake([1])
    print(f"hung broker: {time.monotonic() - started:.1f} s")
    assert time.monotonic() - started < 10
    assert "could not publish 1 deliveries.tasks.deliver messages" in caplog.text
    silent.close()


def test_a_chunk_is_published_as_one_message_per_delivery(broker, monkeypatch):
    from deliveries.tasks import wake_chunk

    monkeypatch.setattr(wakeups, "INLINE_MAX", 1)
    wake_chunk([4, 5])  # what a worker runs for one chunk: never another chunk
    assert [_task_and_args(m) for m in _popped(broker)] == [
        ("deliveries.tasks.deliver", [4]),
        ("deliveries.tasks.deliver", [5]),
    ]
