"""`make bench`: dispatch measured against the floors of this machine, in one run.

Runs the real stack — PostgreSQL (its own database), Redis (its own db number), real Celery
worker processes with the settings the README recommends, nginx answering 204 — and prints
one table, also written as JSON to bench/results/latest.json. `--quick` runs everything
with tiny numbers (the smoke test uses it).
"""

import argparse
import json
import os
import platform
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DATABASE_URL = os.environ.get(
    "FLEXHOOKS_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flexhooks_bench"
)
BROKER_URL = os.environ.get("FLEXHOOKS_BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")

# The worker settings the README recommends (see "Production").
WORKER_POOL = os.environ.get("FLEXHOOKS_BENCH_POOL", "threads")
WORKER_CONCURRENCY = int(os.environ.get("FLEXHOOKS_BENCH_CONCURRENCY", "32"))
WORKER_PROCESSES = int(os.environ.get("FLEXHOOKS_BENCH_PROCESSES", "1"))
BENCH_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER_URL,
    "FLEXHOOKS_ALLOW_LOOPBACK": "1",
    "FLEXHOOKS_REQUEST_DEADLINE": "5",
    "FLEXHOOKS_CONNECT_TIMEOUT": "2",
    "FLEXHOOKS_API_RATE": "off",
    "FLEXHOOKS_MAX_ENDPOINTS_PER_ACCOUNT": "100000",  # the fan-out has 1,000 on one account
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "flexhooks.settings",
}


def parse_args():
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--emitters", type=int, default=1, help="threads emitting the throughput phase's events"
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="Celery floor and throughput measured in this many alternating pairs",
    )
    parser.add_argument("--latency-rate", type=float, default=50)
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--fanout", type=int, default=1000)
    parser.add_argument("--isolation-events", type=int, default=60)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="tiny numbers: a smoke run")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args()
    if args.quick:
        args.events, args.latency_rate, args.latency_seconds = 60, 20, 1.5
        args.fanout, args.isolation_events, args.backlog, args.pairs = 30, 3, 500, 2
    return args


def main() -> None:
    args = parse_args()
    os.environ.update(BENCH_ENV)
    # The production checks want real secrets; the bench's are its own, per run.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("FLEXHOOKS_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    _recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from bench import phases
    from bench.receivers import Nginx

    nginx = Nginx().start()
    workers = phases.Workers(
        pool=WORKER_POOL, concurrency=WORKER_CONCURRENCY, processes=WORKER_PROCESSES
    )
    results: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "worker": {
            "pool": WORKER_POOL,
            "concurrency": WORKER_CONCURRENCY,
            "processes": WORKER_PROCESSES,
        },
    }
    try:
        workers.start()
        results["http_floor"] = phases.http_floor(nginx, max(args.events, 200))
        results.update(phases.floor_and_throughput(nginx, args.events, args.emitters, args.pairs))
        results.update(phases.drain_and_floor(nginx, args.events, args.pairs))
        results["latency"] = phases.latency(nginx, args.latency_rate, args.latency_seconds)
        results["fanout"] = phases.fanout(nginx, args.fanout)
        results["isolation"] = phases.isolation(nginx, args.isolation_events, workers)
        results["backlog_memory"] = phases.backlog_memory(args.backlog, workers)
    finally:
        workers.stop()
        nginx.stop()
    results["ratios"] = {
        "throughput_over_celery_floor": round(
            results["throughput"]["per_second"] / results["celery_floor"]["per_second"], 3
        ),
        "drain_over_celery_floor": round(
            results["drain"]["per_second"] / results["drain_floor"]["per_second"], 3
        ),
        "throughput_over_http_floor": round(
            results["throughput"]["per_second"] / results["http_floor"]["per_second"], 3
        ),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(phases.table(results))
    print(f"\nJSON: {args.output}")


def _recreate_database() -> None:
    import psycopg
    from psycopg import sql

    base, name = DATABASE_URL.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
