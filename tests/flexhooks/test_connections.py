"""Each process keeps a bounded pool of PostgreSQL connections: a burst of API calls to the
development server (a thread per request) beside a working worker holds few of them."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connection

from accounts.services import account_create
from deliveries.models import Delivery
from tests.conftest import wait_until
from tests.factories import make_endpoint
from tests.worker import ROOT, database_url

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

CALLS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _connections_to(database: str) -> int:
    with psycopg.connect(database_url().rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        (count,) = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]
        ).fetchone()
    return count


def test_a_burst_of_300_calls_holds_few_connections(event_types, receiver, start_worker):
    account, raw_key = account_create(name="burst")
    make_endpoint(account, receiver.url + "/burst")
    start_worker(concurrency=8)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "FLEXHOOKS_API_RATE": "off",
        "DATABASE_POOL_SIZE": "8",
    }
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = connection.settings_dict["NAME"]
    peak, sampling = [0], threading.Event()

    def sample():
        while not sampling.is_set():
            peak[0] = max(peak[0], _connections_to(database))
            time.sleep(0.02)

    def call(number: int) -> int:
        body = b'{"event_type": "invoice.created", "object": {"n": 1}}'
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/" + ("events" if number % 3 == 0 else "endpoints"),
            data=body if number % 3 == 0 else None,
            headers={"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status

    try:
        wait_until(lambda: _answers(port), timeout=30, message="the development server is up")
        sampler = threading.Thread(target=sample)
        sampler.start()
        with ThreadPoolExecutor(24) as pool:  # runserver listens with a backlog of 10
            statuses = list(pool.map(call, range(CALLS)))
        wait_until(
            lambda: Delivery.objects.filter(status="succeeded").count() == CALLS // 3,
            timeout=60,
            message="every emitted event delivered",
        )
        sampling.set()
        sampler.join()
        held_after = _connections_to(database)
    finally:
        server.terminate()
        server.wait(10)
    print(f"\nBURST {CALLS} calls: peak {peak[0]} connections, {held_after} held after")
    assert sorted(set(statuses)) == [200, 202]
    # web pool (8) + worker pool (8) + beat + this test's own: well under 40
    assert peak[0] < 30 and held_after < 30


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
