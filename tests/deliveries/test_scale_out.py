"""Scale-out and broker choice, with real worker processes."""

import os
import socket
import subprocess
import sys

import pytest
from django.db import connection

from deliveries.models import Delivery
from deliveries.services import event_emit
from tests.conftest import report_drill, wait_until
from tests.factories import make_endpoint
from tests.receiver import Reply
from tests.worker import ROOT, WORKER_APPLICATION_NAME, database_url

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

RABBITMQ_URL = os.environ.get("FLEXHOOKS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _all_succeeded(count: int):
    return lambda: Delivery.objects.filter(status="succeeded").count() == count


def test_two_workers_on_one_backlog_send_each_delivery_once(account, receiver, start_worker):
    make_endpoint(account, receiver.url + "/pair")
    events = {
        event_emit(account=account, event_type="invoice.created", data={"n": n}).event.id
        for n in range(200)
    }
    first = start_worker(name="alpha", beat=True)
    second = start_worker(name="beta", beat=False)

    wait_until(_all_succeeded(200), timeout=60, message="the pair drained the backlog")
    received = report_drill("two workers", receiver, events)
    assert set(received) == events and max(received.values()) == 1
    assert "alpha@" in first.output() and "beta@" in second.output()


def test_a_database_connection_killed_under_a_running_worker_loses_nothing(
    account, receiver, start_worker
):
    make_endpoint(account, receiver.url + "/db")
    receiver.default = Reply(200, delay=0.1)
    start_worker()
    events = {
        event_emit(account=account, event_type="invoice.created", data={"n": n}).event.id
        for n in range(40)
    }
    wait_until(lambda: Delivery.objects.filter(status="succeeded").count() >= 5)

    def kill_the_workers_connections() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s",
                [WORKER_APPLICATION_NAME],
            )
            return cursor.fetchone()[0]

    # The worker's connections are named (PGAPPNAME); between two takes it may hold none.
    killed = wait_until(kill_the_workers_connections, timeout=10, message="a worker connection")
    assert killed >= 1  # the worker's connection(s)

    wait_until(_all_succeeded(40), timeout=60, message="every delivery after the kill")
    received = report_drill("database connection killed", receiver, events)
    assert set(received) == events


def _rabbitmq_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
        return True
    except OSError:
        return False


def test_dispatch_over_rabbitmq(account, receiver, start_worker):
    if not _rabbitmq_up():
        if os.environ.get("FLEXHOOKS_REQUIRE_SERVICES") == "1":
            pytest.fail("RabbitMQ does not answer on 127.0.0.1:5672")
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672")
    make_endpoint(account, receiver.url + "/amqp")
    receiver.script.append(Reply(503))  # one retry, through Celery's countdown
    start_worker(broker_url=RABBITMQ_URL)

    # Emitted from another process (the CLI) whose broker is RabbitMQ too.
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": RABBITMQ_URL}
    emitted = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "emit_event",
            "--account",
            "acme",
            "invoice.created",
            '{"id": "inv_amqp"}',
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert emitted.returncode == 0, emitted.stderr
    event_id = emitted.stdout.strip()

    wait_until(_all_succeeded(1), timeout=30, message="delivered over RabbitMQ")
    delivery = Delivery.objects.get()
    assert delivery.event_id == event_id and delivery.attempt_count == 2
    assert [r.headers["webhook-id"] for r in receiver.received()] == [event_id] * 2
