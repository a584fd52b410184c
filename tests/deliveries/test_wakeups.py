"""Wake-up messages written straight to Redis are the messages kombu would write."""

import base64
import json
import socket
import time

import pytest

from deliveries import wakeups
from deliveries.tasks import deliver, publish_wakeups

pytestmark = pytest.mark.services

# Fields that are new random values in every message.
_FRESH = {("headers", "id"), ("headers", "root_id"), ("properties", "correlation_id")}


def _queue(task):
    return task.app.amqp.router.route({}, task.name)["queue"]


def _popped(broker) -> list[dict]:
    """The messages of the deliveries queue, in the order a worker takes them."""
    messages = []
    while (raw := broker.rpop("deliveries")) is not None:
        messages.append(json.loads(raw))
    return messages


def _args(message: dict):
    return json.loads(base64.b64decode(message["body"]))[0]


def _without_fresh_values(message: dict) -> dict:
    masked = json.loads(json.dumps(message))
    for part, name in _FRESH:
        assert masked[part][name]
        masked[part][name] = "…"
    assert masked["properties"]["delivery_tag"]
    masked["properties"]["delivery_tag"] = "…"
    return masked


@pytest.mark.parametrize(("task", "args"), [(deliver, (7,)), (publish_wakeups, ([1, 2, 3],))])
def test_a_message_is_written_exactly_as_kombu_writes_it(broker, task, args):
    assert wakeups._lpush_possible(task.app, _queue(task))
    wakeups._publish_kombu(task, _queue(task), [args])
    wakeups._publish_lpush(task, "deliveries", [args])
    by_kombu, by_lpush = _popped(broker)
    assert _without_fresh_values(by_lpush) == _without_fresh_values(by_kombu)
    assert _args(by_lpush) == list(args)
    assert by_lpush["headers"]["id"] == by_lpush["properties"]["correlation_id"]


def test_a_batch_is_one_push_taken_first_in_first_out(broker):
    wakeups.publish(deliver, [(1,), (2,), (3,)])
    assert [_args(message) for message in _popped(broker)] == [[1], [2], [3]]


def test_other_brokers_and_options_that_move_messages_go_through_kombu(monkeypatch):
    conf, queue = deliver.app.conf, _queue(deliver)
    assert wakeups._lpush_possible(deliver.app, queue)
    for name, value in [
        ("broker_url", "amqp://guest@127.0.0.1//"),
        ("broker_url", "sentinel://127.0.0.1:26379"),
        ("broker_transport_options", {"global_keyprefix": "tenant1:"}),
        ("broker_transport_options", {"priority_steps": [0, 5]}),
        ("broker_use_ssl", {"ssl_cert_reqs": "required"}),
    ]:
        with monkeypatch.context() as patched:
            if name == "broker_url":  # Celery reads the environment first
                patched.setenv("CELERY_BROKER_URL", value)
            patched.setitem(conf, name, value)
            assert not wakeups._lpush_possible(deliver.app, queue), (name, value)


def test_a_broker_that_is_down_costs_only_the_message(monkeypatch, caplog):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(deliver.app.conf, "broker_url", "redis://127.0.0.1:1/0")
    wakeups.publish(deliver, [(1,)])  # does not raise: the sweeper publishes it again
    assert "could not publish 1 deliveries.tasks.deliver messages" in caplog.text


def test_a_broker_that_hangs_costs_a_bounded_wait(monkeypatch, caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(deliver.app.conf, "broker_url", url)
    monkeypatch.setitem(deliver.app.conf, "broker_connection_timeout", 0.5)
    started = time.monotonic()
    wakeups.publish(deliver, [(1,)])
    assert time.monotonic() - started < 3
    assert "could not publish 1 deliveries.tasks.deliver messages" in caplog.text
    silent.close()
