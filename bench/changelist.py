"""Time the dashboard's delivery list on a table of a million deliveries.

    python -m bench.changelist [--deliveries 1000000]

Uses its own PostgreSQL database (flexhooks_bench_history, created and filled once; pass
--refill to start over), then times the changelist pages an operator opens, with their SQL
statement counts, through Django's test client as a staff user.
"""

import argparse
import os
import secrets
import time

from cryptography.fernet import Fernet

BENCH_DB = os.environ.get(
    "FLEXHOOKS_BENCH_HISTORY_URL", "postgres://postgres@127.0.0.1:5432/flexhooks_bench_history"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = BENCH_DB
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexhooks.settings")
    # Production settings (DEBUG off) need secrets; the pages need no collectstatic.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("FLEXHOOKS_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault(
        "FLEXHOOKS_STATIC_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage"
    )
    _create_database(args.refill)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from deliveries.models import Delivery

    call_command("migrate", verbosity=0)
    if not Delivery.objects.exists():
        started = time.perf_counter()
        call_command("fill_history", deliveries=args.deliveries)
        print(f"fill: {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname IN "
            "('deliveries_delivery', 'deliveries_attempt')"
        )
        print("rows (estimated):", dict(cursor.fetchall()))

    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    newest = Delivery.objects.order_by("-id").first()
    some = newest.event_id
    endpoint = newest.endpoint_id
    autocomplete = (
        "/admin/autocomplete/?app_label=deliveries&model_name=delivery&field_name=endpoint"
        "&term=fill-7"
    )
    pages = {
        "list (newest first)": "/admin/deliveries/delivery/",
        "filter status=failed": "/admin/deliveries/delivery/?status__exact=failed",
        "filter outcome=5xx": "/admin/deliveries/delivery/?outcome=5xx",
        "filter created=24h": "/admin/deliveries/delivery/?created=24h",
        "search by event id": f"/admin/deliveries/delivery/?q={some}",
        "search by endpoint URL": "/admin/deliveries/delivery/?q=fill-7.example.com",
        "filter endpoint": f"/admin/deliveries/delivery/?endpoint__id__exact={endpoint}",
        "endpoint filter search": autocomplete,
        "page 100": "/admin/deliveries/delivery/?p=100",
        "delivery detail": f"/admin/deliveries/delivery/{newest.pk}/change/",
        "overview": "/admin/deliveries/delivery/overview/",
        "endpoints with 24 h health": "/admin/endpoints/endpoint/",
        "endpoint page with charts": f"/admin/endpoints/endpoint/{endpoint}/change/",
        "events list": "/admin/deliveries/event/",
    }
    print(f"{'page':28} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    for name, url in pages.items():
        timings = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        timings.sort()
        print(
            f"{name:28} {timings[len(timings) // 2]:10.1f} {timings[-1]:8.1f} "
            f"{len(queries.captured_queries):8}"
        )


def _create_database(refill: bool) -> None:
    import psycopg
    from psycopg import sql

    name = BENCH_DB.rsplit("/", 1)[1]
    admin = psycopg.connect(BENCH_DB.rsplit("/", 1)[0] + "/postgres", autocommit=True)
    with admin.cursor() as cursor:
        if refill:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()


if __name__ == "__main__":
    main()
