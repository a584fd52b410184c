"""The portable (ORM) write path gives the same results as PostgreSQL's single statements,
prepared on the server or sent as they are."""

import pytest

from deliveries import store
from deliveries.models import Attempt, Delivery
from deliveries.services import delivery_send, event_emit
from tests.factories import make_endpoint
from tests.receiver import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["native", "unprepared", "portable"])
def path(request, monkeypatch, settings):
    if request.param == "portable":
        monkeypatch.setattr(store, "_postgres", lambda: False)
    settings.FLEXHOOKS_DB_PREPARED_STATEMENTS = request.param == "native"
    return request.param


def test_emit_send_and_record_agree_on_both_paths(path, account, receiver):
    make_endpoint(account, receiver.url + "/a", ["invoice.created"])
    make_endpoint(account, receiver.url + "/b", ["wallet.created"])
    make_endpoint(account, receiver.url + "/c", enabled=False)
    first = event_emit(account=account, event_type="invoice.created", data={}, idempotency_key="k")
    again = event_emit(account=account, event_type="invoice.created", data={}, idempotency_key="k")
    assert (first.deliveries, again.created, again.event.pk) == (1, False, first.event.pk)

    receiver.default = Reply(503)
    delivery = Delivery.objects.get()
    assert delivery_send(delivery_id=delivery.pk) is not None
    assert delivery_send(delivery_id=delivery.pk) is None  # not due again yet
    delivery.refresh_from_db()
    attempt = Attempt.objects.get()
    assert (delivery.status, delivery.retry_step, delivery.attempt_count) == ("pending", 1, 1)
    assert (attempt.response_status, attempt.number, attempt.trigger) == (503, 1, "scheduled")
    assert attempt.request_headers["webhook-id"] == first.event.pk


def test_a_type_archived_after_it_was_cached_is_refused_at_once(path, account):
    from django.core.exceptions import ValidationError

    from deliveries.models import Event
    from endpoints.models import EventType

    make_endpoint(account)
    event_emit(account=account, event_type="fee.created", data={})  # now cached
    EventType.objects.filter(name="fee.created").update(archived=True)
    with pytest.raises(ValidationError, match="archived"):
        event_emit(account=account, event_type="fee.created", data={})
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1
