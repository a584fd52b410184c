import importlib
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.apps import apps as django_apps

from endpoints.models import EventType
from tests.factories import make_account
from tests.receiver import Receiver
from tests.worker import WorkerProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"

_seed = importlib.import_module("endpoints.migrations.0002_seed_event_types").seed


@pytest.fixture
def event_types(db):
    """The seeded catalogue (a transactional test before this one may have flushed it)."""
    if not EventType.objects.exists():
        _seed(django_apps, None)
    return EventType.objects.all()


@pytest.fixture
def account(event_types):
    return make_account("acme")[0]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def broker(settings):
    """The real Redis test broker, emptied before and after the test."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def start_worker(tmp_path, broker, transactional_db):
    """Start real Celery workers (subprocesses); all are stopped after the test."""
    workers = []

    def start(**kwargs) -> WorkerProcess:
        worker = WorkerProcess(tmp_path, **kwargs).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(predicate, timeout: float = 30, interval: float = 0.1, message: str = ""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting: {message or predicate}")


def report_drill(name: str, receiver, expected: set[str]) -> Counter:
    """Print a drill's counts (run pytest -s to see them) and return receipts per event."""
    received = Counter(r.headers["webhook-id"] for r in receiver.received())
    duplicates = sum(n - 1 for n in received.values())
    lost = len(expected - set(received))
    print(
        f"\nDRILL {name}: delivered={len(set(received) & expected)} lost={lost} "
        f"duplicates={duplicates}"
    )
    return received


@pytest.fixture(scope="session", autouse=True)
def _end_other_connections_before_the_drop(django_db_setup, django_db_blocker):
    """Live servers' request threads (and the connection pools of every thread) leave
    idle connections behind, which would stop the test database from being dropped: end
    them once, after the last test, just before the drop."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
