"""Endpoints for operators' tooling: Prometheus /metrics and /healthz."""

import hmac

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from deliveries.metrics import DeliveryCollector
from flexhooks.celery import app as celery_app

_registry = CollectorRegistry(auto_describe=False)
_registry.register(DeliveryCollector())


@require_GET
def metrics(request):
    token = settings.FLEXHOOKS_METRICS_TOKEN
    if token and not hmac.compare_digest(
        request.headers.get("Authorization", ""), f"Bearer {token}"
    ):
        return HttpResponse("metrics need the bearer token\n", status=401)
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)


@require_GET
def healthz(request):
    """200 when the database and the broker both answer, 503 (saying which) otherwise."""
    checks = {"database": _check(_database), "broker": _check(_broker)}
    healthy = all(result == "ok" for result in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)


def _check(probe) -> str:
    try:
        probe()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
