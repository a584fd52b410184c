"""Deleting an endpoint keeps its history: disabled and hidden at once, pending deliveries
cancelled, everything readable until retention purges it."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import account_create
from deliveries.models import Attempt, Delivery, Event, new_event_id
from deliveries.services import endpoint_delete, event_emit, history_purge
from endpoints.models import Endpoint, EventType
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


def _history(endpoint: Endpoint, count: int) -> None:
    """count delivered events of the endpoint, each with an attempt (bulk, for speed)."""
    event_type = EventType.objects.get(name="invoice.created")
    now = timezone.now()
    events = Event.objects.bulk_create(
        Event(id=new_event_id(), account_id=endpoint.account_id, event_type=event_type, body="{}")
        for _ in range(count)
    )
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            event=event,
            endpoint=endpoint,
            account_id=endpoint.account_id,
            status="succeeded",
            attempt_count=1,
            created_at=now,
        )
        for event in events
    )
    Attempt.objects.bulk_create(
        Attempt(delivery=d, number=1, trigger="scheduled", started_at=now, response_status=200)
        for d in deliveries
    )


def test_deleting_keeps_the_history_readable_and_cancels_what_was_pending():
    account, raw_key = account_create(name="alpha")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    endpoint, _ = make_endpoint(account, "https://hooks.example.com/in")
    _history(endpoint, 3)
    pending = event_emit(account=account, event_type="invoice.created", data={}).event
    sent = Delivery.objects.filter(status="succeeded").first()

    assert api.delete(f"/api/v1/endpoints/{endpoint.pk}").status_code == 204

    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.deleted_at and endpoint.disabled_reason == "deleted"
    assert api.get(f"/api/v1/endpoints/{endpoint.pk}").status_code == 404
    assert api.get("/api/v1/endpoints").json()["results"] == []
    cancelled = Delivery.objects.get(event=pending)
    assert cancelled.status == "cancelled" and cancelled.attempt_count == 0
    detail = api.get(f"/api/v1/deliveries/{sent.pk}")
    assert detail.status_code == 200 and detail.json()["attempts"][0]["response_status"] == 200
    assert len(api.get("/api/v1/deliveries").json()["results"]) == 4
    # A new event no longer goes there.
    assert event_emit(account=account, event_type="invoice.created", data={}).deliveries == 0


def test_deleting_costs_the_same_statements_whatever_the_history(account):
    small, _ = make_endpoint(account, "https://small.example.com/")
    large, _ = make_endpoint(account, "https://large.example.com/")
    _history(small, 2)
    _history(large, 2000)
    with CaptureQueriesContext(connection) as few:
        endpoint_delete(endpoint=small)
    with CaptureQueriesContext(connection) as many:
        endpoint_delete(endpoint=large)
    assert len(many) == len(few) <= 8  # a handful, the same for 2 or 2,000
    assert Delivery.objects.filter(endpoint=large).count() == 2000  # all still there


def test_retention_purges_a_deleted_endpoint_once_its_history_is_gone(account, settings):
    endpoint, _ = make_endpoint(account, "https://gone.example.com/")
    kept, _ = make_endpoint(account, "https://kept.example.com/")
    _history(endpoint, 2)
    endpoint_delete(endpoint=endpoint)
    history_purge()
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()  # history still within retention
    Event.objects.update(
        created_at=timezone.now() - timedelta(days=settings.FLEXHOOKS_RETENTION_DAYS + 1)
    )
    result = history_purge()
    assert result.deliveries == 2 and result.endpoints >= 1
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert Endpoint.objects.filter(pk=kept.pk).exists()  # not deleted: kept
