"""The benchmark's measurements; each returns a dict of figures."""

import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pycurl
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from bench.receivers import HangingServer
from deliveries.models import Delivery
from deliveries.services import event_emit
from endpoints.models import Endpoint, EndpointSecret
from endpoints.services import endpoint_create
from flexhooks.testing import celery_worker_command
from outbound import signing

ROOT = Path(__file__).resolve().parent.parent
OBJECT = {
    "lago_id": "inv_bench",
    "number": "INV-BENCH-1",
    "currency": "USD",
    "total_amount_cents": 12000,
    "status": "finalized",
}


class Workers:
    """Real Celery worker processes, and Celery beat."""

    def __init__(self, *, pool: str, concurrency: int, processes: int):
        self.pool, self.concurrency, self.processes = pool, concurrency, processes
        self.procs: list[subprocess.Popen] = []
        self.beat: subprocess.Popen | None = None
        self.logs = ROOT / "bench" / "results"

    def start(self, *, flush_broker: bool = True) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        if flush_broker:
            redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        env = {**os.environ, "FLEXHOOKS_SWEEP_INTERVAL": "2"}
        for n in range(self.processes):
            command = celery_worker_command(
                f"bench{n}",
                "-I",
                "bench.tasks",
                f"--pool={self.pool}",
                f"--concurrency={self.concurrency}",
                "--loglevel=WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            )
            self.procs.append(self._spawn(command, env, f"worker{n}.log"))
        # Beat in its own process, as in production.
        schedule = str(self.logs / "celerybeat-schedule")
        beat = [sys.executable, "-m", "celery", "-A", "flexhooks", "beat", "-s", schedule]
        self.beat = self._spawn([*beat, "--loglevel=WARNING"], env, "beat.log")
        # Ready when a no-op task comes back through every process.
        celery_floor(self.processes * 4, warm_up=True)

    def _spawn(self, command: list[str], env: dict, log_name: str) -> subprocess.Popen:
        log = open(self.logs / log_name, "wb")  # noqa: SIM115 - lives with the process
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )

    def rss_mb(self) -> float:
        total = 0
        for proc in self.procs:
            for pid in _tree(proc.pid):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except FileNotFoundError:
                    continue
                total += int(
                    next(li for li in status.splitlines() if li.startswith("VmRSS")).split()[1]
                )
        return total / 1024

    def stop(self) -> None:
        everything = self.procs + ([self.beat] if self.beat else [])
        for proc in everything:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in everything:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return pids
    for child in children:
        pids += _tree(int(child))
    return pids


def _account(name: str, urls: list[str], **kwargs) -> tuple[Account, list[Endpoint]]:
    account = Account.objects.create(name=name)
    return account, [endpoint_create(account=account, url=url, **kwargs)[0] for url in urls]


def _wait_succeeded(count: int, timeout: float = 600, **filters) -> float:
    """Wait until `count` deliveries matching filters succeeded; return when the last one
    was recorded (its updated_at, written by the worker in the recording statement).

    Polls four times a second: counting thousands of rows every few milliseconds would
    take PostgreSQL CPU away from the system being measured."""
    deadline = time.time() + timeout
    queryset = Delivery.objects.filter(status=Delivery.Status.SUCCEEDED, **filters)
    while queryset.count() < count:
        if time.time() > deadline:
            raise TimeoutError(f"only {queryset.count()} of {count} deliveries succeeded")
        time.sleep(0.25)
    return queryset.aggregate(last=Max("updated_at"))["last"].timestamp()


def _rate(n: int, seconds: float) -> dict:
    return {"n": n, "seconds": round(seconds, 3), "per_second": round(n / seconds, 1)}


def http_floor(nginx, n: int) -> dict:
    """One process POSTing the same signed body to nginx over one keep-alive connection,
    with the client the transport uses (libcurl)."""
    body = b'{"id":"evt_floor","webhook_type":"invoice.created","data":{"object":{}}}'
    secret, timestamp = signing.generate_secret(), int(time.time())
    signature = signing.sign(msg_id="evt_floor", timestamp=timestamp, body=body, secrets=[secret])
    headers = [
        b"content-type: application/json",
        b"webhook-id: evt_floor",
        f"webhook-timestamp: {timestamp}".encode(),
        f"webhook-signature: {signature}".encode(),
    ]
    handle = pycurl.Curl()
    handle.setopt(pycurl.URL, nginx.url + "/floor")
    handle.setopt(pycurl.POSTFIELDS, body)
    handle.setopt(pycurl.HTTPHEADER, headers)
    handle.setopt(pycurl.WRITEFUNCTION, len)
    for _ in range(50):
        handle.perform()
    started = time.perf_counter()
    for _ in range(n):
        handle.perform()
        assert handle.getinfo(pycurl.RESPONSE_CODE) == 204
    return _rate(n, time.perf_counter() - started)


def celery_floor(n: int, warm_up: bool = False) -> dict:
    """n no-op tasks through the same broker, queue, pool and concurrency."""
    from bench.tasks import noop

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    key = f"bench:noop:{time.time()}"
    started = time.perf_counter()
    with noop.app.producer_or_acquire() as producer:
        for _ in range(n):
            noop.apply_async((key,), producer=producer, queue="deliveries")
    deadline = time.time() + (120 if warm_up else 600)
    while int(client.get(key) or 0) < n:
        if time.time() > deadline:
            raise TimeoutError("the no-op tasks were not all consumed")
        time.sleep(0.005)
    return _rate(n, time.perf_counter() - started)


def floor_and_throughput(nginx, n: int, emitters: int, pairs: int) -> dict:
    """The Celery floor and the throughput, measured in alternating pairs: on a shared
    machine either can drift by a tenth between two runs of a few seconds. The figures
    shown are the pair whose ratio is the median; every pair is kept."""
    measured = []
    for number in range(pairs):
        floor = celery_floor(n)
        rate = throughput(nginx, n, emitters, label=f"throughput-{number}")
        measured.append((rate["per_second"] / floor["per_second"], floor, rate))
    _, floor, rate = sorted(measured, key=lambda pair: pair[0])[(pairs - 1) // 2]
    return {
        "celery_floor": floor,
        "throughput": rate,
        "pairs": [
            {"celery_floor": f["per_second"], "throughput": t["per_second"], "ratio": round(r, 3)}
            for r, f, t in measured
        ],
    }


def throughput(nginx, n: int, emitters: int = 1, label: str = "throughput") -> dict:
    """n events to one endpoint, from the first emit to the last recorded success.

    `emitters` threads can share the emitting, as concurrent API requests would; on two
    cores more than one takes CPU from the worker faster than it helps (measured: 0.49-0.50
    of the Celery floor with one, 0.45-0.46 with two or four)."""
    _, (endpoint,) = _account(label, [nginx.url + f"/{label}"])

    def emit(count: int) -> None:
        try:
            for _ in range(count):
                event_emit(account=endpoint.account, event_type="invoice.created", data=OBJECT)
        finally:
            connection.close()  # this thread's own connection

    shares = [n // emitters + (1 if i < n % emitters else 0) for i in range(emitters)]
    started = time.time()
    with ThreadPoolExecutor(emitters) as pool:
        list(pool.map(emit, shares))
    emitted = time.time()
    done = _wait_succeeded(n, endpoint=endpoint)
    attempts = Delivery.objects.filter(endpoint=endpoint).values_list("attempt_count", flat=True)
    return {
        **_rate(n, done - started),
        "emit_per_second": round(n / (emitted - started), 1),
        "emitters": emitters,
        "attempts": sum(attempts),
    }


def drain(nginx, n: int, label: str = "drain") -> dict:
    """n deliveries queued while the workers do not consume, then released: the workers'
    own rate, without the emitting process competing for the CPU."""
    from flexhooks.celery import app

    _, (endpoint,) = _account(label, [nginx.url + f"/{label}"])
    app.control.cancel_consumer("deliveries", reply=True, timeout=5)
    for _ in range(n):
        event_emit(account=endpoint.account, event_type="invoice.created", data=OBJECT)
    started = time.time()
    app.control.add_consumer("deliveries", reply=True, timeout=5)
    return _rate(n, _wait_succeeded(n, endpoint=endpoint) - started)


def celery_drain_floor(n: int) -> dict:
    """n no-op tasks queued while the workers do not consume, then released: the Celery
    floor measured the way the drain is."""
    from bench.tasks import noop
    from flexhooks.celery import app

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    key = f"bench:drain-noop:{time.time()}"
    app.control.cancel_consumer("deliveries", reply=True, timeout=5)
    with noop.app.producer_or_acquire() as producer:
        for _ in range(n):
            noop.apply_async((key,), producer=producer, queue="deliveries")
    started = time.perf_counter()
    app.control.add_consumer("deliveries", reply=True, timeout=5)
    deadline = time.time() + 600
    while int(client.get(key) or 0) < n:
        if time.time() > deadline:
            raise TimeoutError("the no-op tasks were not all consumed")
        time.sleep(0.005)
    return _rate(n, time.perf_counter() - started)


def drain_and_floor(nginx, n: int, pairs: int) -> dict:
    """The drain and the Celery floor measured the same way (queued first, then
    released), in alternating pairs; the pair with the median ratio is shown."""
    measured = []
    for number in range(pairs):
        floor = celery_drain_floor(n)
        rate = drain(nginx, n, label=f"drain-{number}")
        measured.append((rate["per_second"] / floor["per_second"], floor, rate))
    _, floor, rate = sorted(measured, key=lambda pair: pair[0])[(pairs - 1) // 2]
    return {
        "drain_floor": floor,
        "drain": rate,
        "drain_pairs": [
            {"celery_floor": f["per_second"], "drain": d["per_second"], "ratio": round(r, 3)}
            for r, f, d in measured
        ],
    }


def latency(nginx, rate: float, seconds: float) -> dict:
    """Events at a steady rate: time from emit to arrival at the receiver."""
    _, (endpoint,) = _account("latency", [nginx.url + "/latency"])
    count = int(rate * seconds)
    sent, next_at = {}, time.time()
    for _ in range(count):
        delay = next_at - time.time()
        if delay > 0:
            time.sleep(delay)
        before = time.time()
        sent[
            event_emit(account=endpoint.account, event_type="invoice.created", data=OBJECT).event.id
        ] = before
        next_at += 1 / rate
    _wait_succeeded(count, endpoint=endpoint)
    receipts = nginx.receipts()
    millis = sorted((receipts[event_id] - at) * 1000 for event_id, at in sent.items())
    cuts = statistics.quantiles(millis, n=100, method="inclusive")
    return {
        "events": count,
        "rate": rate,
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(millis[-1], 1),
    }


def fanout(nginx, n: int) -> dict:
    """One event to n subscribed endpoints: the emit call, its SQL, and full delivery."""
    small, _ = _account("fanout-10", [f"{nginx.url}/small/{i}" for i in range(10)])
    account, _ = _account("fanout", [f"{nginx.url}/fan/{i}" for i in range(n)])
    event_emit(account=small, event_type="invoice.created", data=OBJECT)  # warm caches
    with CaptureQueriesContext(connection) as few:
        event_emit(account=small, event_type="invoice.created", data=OBJECT)
    with CaptureQueriesContext(connection) as many:
        started = time.time()
        event_emit(account=account, event_type="invoice.created", data=OBJECT)
        emitted = time.time()
    done = _wait_succeeded(n, account=account)
    return {
        "endpoints": n,
        "emit_seconds": round(emitted - started, 4),
        "statements": len(many.captured_queries),
        "statements_with_10_endpoints": len(few.captured_queries),
        "delivered_seconds": round(done - started, 3),
    }


def isolation(nginx, events: int, workers: Workers) -> dict:
    """One account's 95 healthy endpoints beside another account's 5 that hang until the
    deadline: the healthy ones' rate against runs where nothing hangs, one before and one
    after (the machine and the database drift during a run; their mean cancels a steady
    drift)."""

    def healthy_run(name: str) -> float:
        base, _ = _account(name, [f"{nginx.url}/{name}/{i}" for i in range(95)])
        started = time.time()
        for _ in range(events):
            event_emit(account=base, event_type="invoice.created", data=OBJECT)
        return events * 95 / (_wait_succeeded(events * 95, account=base) - started)

    before = healthy_run("isolation-before")
    hanging = [HangingServer() for _ in range(5)]
    account, _ = _account("isolation", [f"{nginx.url}/iso/{i}" for i in range(95)])
    slow_account, slow = _account("isolation-hanging", [h.url + "/hang" for h in hanging])
    try:
        started = time.time()
        for _ in range(events):
            event_emit(account=account, event_type="invoice.created", data=OBJECT)
            event_emit(account=slow_account, event_type="invoice.created", data=OBJECT)
        done = _wait_succeeded(events * 95, account=account)
        rate = events * 95 / (done - started)
    finally:
        Endpoint.objects.filter(pk__in=[e.pk for e in slow]).update(enabled=False)
        for server in hanging:
            server.stop()
    after = healthy_run("isolation-after")
    healthy_rate = (before + after) / 2
    return {
        "events": events,
        "healthy_per_second": round(rate, 1),
        "all_healthy_per_second": round(healthy_rate, 1),
        "all_healthy_before_after": [round(before, 1), round(after, 1)],
        "ratio": round(rate / healthy_rate, 3),
    }


def backlog_memory(n: int, workers: Workers) -> dict:
    """n deliveries scheduled hours ahead: worker memory before and after (and the broker)."""
    account, (endpoint,) = _account("backlog", ["https://backlog.example.com/h"])
    EndpointSecret.objects.filter(endpoint=endpoint).count()
    time.sleep(3)
    before = workers.rss_mb()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO deliveries_event (id, account_id, event_type_id, body, created_at)"
            " SELECT 'evt_B' || lpad(g::text, 25, '0'), %s,"
            " (SELECT id FROM endpoints_eventtype WHERE name = 'invoice.created'), '{}', now()"
            " FROM generate_series(1, %s) g",
            [account.pk, n],
        )
        cursor.execute(
            "INSERT INTO deliveries_delivery (event_id, endpoint_id, account_id, status,"
            " attempt_count, retry_step, next_trigger, next_attempt_at, last_error_class,"
            " last_error, created_at, updated_at)"
            " SELECT id, %s, account_id, 'pending', 1, 3, 'scheduled',"
            " now() + interval '3 hours', 'http', 'HTTP 503', now(), now()"
            " FROM deliveries_event WHERE account_id = %s",
            [endpoint.pk, account.pk],
        )
    time.sleep(8)  # several sweeps walk past the backlog
    after = workers.rss_mb()
    queued = redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("deliveries")
    return {
        "scheduled": n,
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "growth_pct": round((after - before) / before * 100, 1),
        "broker_messages": queued,
    }


def table(r: dict) -> str:
    pair_ratios = ", ".join(f"{pair['ratio']:.2f}" for pair in r["pairs"])
    drain_ratios = ", ".join(f"{pair['ratio']:.2f}" for pair in r["drain_pairs"])
    rows = [
        ("HTTP floor (1 process, keep-alive)", f"{r['http_floor']['per_second']:,.0f} req/s"),
        ("Celery floor (no-op tasks)", f"{r['celery_floor']['per_second']:,.0f} tasks/s"),
        (
            "Throughput, 1 endpoint",
            f"{r['throughput']['per_second']:,.0f} deliveries/s"
            f" ({r['throughput']['n']} events, {r['throughput']['emitters']} emitting;"
            f" emit {r['throughput']['emit_per_second']:,.0f}/s)",
        ),
        (
            "  ÷ Celery floor",
            f"{r['ratios']['throughput_over_celery_floor']:.2f} (median of {pair_ratios}:"
            " floor and throughput measured in turn)",
        ),
        ("  ÷ HTTP floor", f"{r['ratios']['throughput_over_http_floor']:.2f}"),
        (
            "Celery floor, queued first",
            f"{r['drain_floor']['per_second']:,.0f} tasks/s",
        ),
        ("Drain (queued first, workers only)", f"{r['drain']['per_second']:,.0f} deliveries/s"),
        (
            "  ÷ Celery floor queued first",
            f"{r['ratios']['drain_over_celery_floor']:.2f} (median of {drain_ratios})",
        ),
        (
            "Latency p50 / p95 / p99",
            f"{r['latency']['p50_ms']} / {r['latency']['p95_ms']} / {r['latency']['p99_ms']} ms"
            f" ({r['latency']['events']} events at {r['latency']['rate']:.0f}/s)",
        ),
        (
            f"Fan-out emit to {r['fanout']['endpoints']}",
            f"{r['fanout']['emit_seconds'] * 1000:.0f} ms,"
            f" SQL statements: {r['fanout']['statements']}"
            f" ({r['fanout']['statements_with_10_endpoints']} with 10 endpoints)",
        ),
        ("Fan-out all delivered", f"{r['fanout']['delivered_seconds']:.2f} s"),
        (
            "Isolation (95 beside 5 hanging)",
            f"{r['isolation']['healthy_per_second']:,.0f} vs"
            f" {r['isolation']['all_healthy_per_second']:,.0f} deliveries/s"
            f" (all healthy, before and after) = {r['isolation']['ratio']:.2f}",
        ),
        (
            f"Worker RSS with {r['backlog_memory']['scheduled']:,} scheduled",
            f"{r['backlog_memory']['rss_before_mb']} → {r['backlog_memory']['rss_after_mb']} MB"
            f" ({r['backlog_memory']['growth_pct']:+.1f} %), broker holds "
            f"{r['backlog_memory']['broker_messages']}",
        ),
    ]
    width = max(len(name) for name, _ in rows)
    header = (
        f"flexhooks bench — {r['machine']['cpus']} CPUs, worker {r['worker']['processes']}"
        f" × {r['worker']['pool']} × {r['worker']['concurrency']}"
    )
    return "\n".join([header, "-" * len(header)] + [f"{n:<{width}}  {v}" for n, v in rows])
