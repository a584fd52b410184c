"""delivery_send in-process against a real local receiver: the record of each outcome."""

from datetime import timedelta

import pytest
import standardwebhooks
from django.db.models import F
from django.utils import timezone

from deliveries import lifecycle
from deliveries.models import Attempt, Delivery, Notice
from deliveries.services import deliveries_retry, deliveries_sweep, delivery_send, event_emit
from endpoints.models import Endpoint
from endpoints.services import endpoint_rotate_secret
from outbound import transport
from tests.factories import make_endpoint
from tests.receiver import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(account, receiver):
    make_endpoint(account, receiver.url + "/in", headers={"X-Tenant": "acme", "X-Api-Key": "k1"})
    event_emit(account=account, event_type="invoice.created", data={"id": "inv_1"})
    return Delivery.objects.get()


def test_a_2xx_succeeds_and_custom_headers_are_sent(delivery, receiver):
    assert delivery_send(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.last_status_code == 200
    (request,) = receiver.received()
    assert request.headers["x-tenant"] == "acme"
    attempt = Attempt.objects.get()
    assert attempt.request_headers["X-Api-Key"] == "[redacted]"


def test_a_second_message_for_the_same_delivery_does_nothing(delivery, receiver):
    delivery_send(delivery_id=delivery.pk)
    assert delivery_send(delivery_id=delivery.pk) is None
    assert len(receiver.received()) == 1 and Attempt.objects.count() == 1


def test_a_5xx_goes_back_to_pending_with_a_short_countdown(delivery, receiver, settings):
    settings.FLEXHOOKS_RETRY_SCHEDULE = (10, 600)
    receiver.default = Reply(502)
    countdown = delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert 8 <= countdown <= 12
    assert delivery.status == "pending" and delivery.retry_step == 1
    assert delivery.dispatched_at == delivery.next_attempt_at


def test_a_long_delay_is_left_to_the_sweeper(delivery, receiver, settings):
    settings.FLEXHOOKS_RETRY_SCHEDULE = (3600,)
    receiver.default = Reply(500)
    assert delivery_send(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.dispatched_at is None
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=45)
    assert deliveries_sweep().redispatched == 0  # not due yet


def test_retry_after_on_429_is_honoured(delivery, receiver, settings):
    settings.FLEXHOOKS_RETRY_SCHEDULE = (1,)
    receiver.default = Reply(429, headers={"Retry-After": "120"})
    delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 110 < wait <= 120


def test_a_redirect_is_recorded_and_not_followed(delivery, receiver):
    receiver.default = Reply(302, headers={"Location": receiver.url + "/elsewhere"})
    delivery_send(delivery_id=delivery.pk)
    assert [r.path for r in receiver.received()] == ["/in"]
    attempt = Attempt.objects.get()
    assert attempt.response_status == 302
    assert Delivery.objects.get().status == "pending"


def test_a_large_response_body_is_stored_truncated(delivery, receiver, monkeypatch):
    monkeypatch.setattr(transport, "RESPONSE_STORE_CAP", 100)
    receiver.default = Reply(200, body=b"x" * 100_000)
    delivery_send(delivery_id=delivery.pk)
    assert len(Attempt.objects.get().response_body) == 100
    assert Delivery.objects.get().status == "succeeded"


def test_during_a_rotation_both_secrets_sign_and_after_it_only_the_new(delivery, receiver):
    endpoint = delivery.endpoint
    old_secret = endpoint.secrets.get().secret
    new_secret = endpoint_rotate_secret(endpoint=endpoint, grace_seconds=3600)
    delivery_send(delivery_id=delivery.pk)
    request = receiver.received()[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, new_secret):
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)

    endpoint.secrets.exclude(expires_at__isnull=True).update(expires_at=timezone.now())
    deliveries_retry(delivery_ids=[delivery.pk])
    delivery_send(delivery_id=delivery.pk)
    request = receiver.received()[-1]
    standardwebhooks.Webhook(new_secret).verify(request.body, request.headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(old_secret).verify(request.body, request.headers)


def test_the_sweeper_reclaims_an_expired_lease_and_records_the_lost_attempt(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(
        status="sending", attempt_count=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert deliveries_sweep().reclaimed == 1
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.lease_expires_at is None
    assert delivery.retry_step == 1 and delivery.next_attempt_at > timezone.now()  # counted
    assert Attempt.objects.get().error_class == "worker_lost"


def test_retry_skips_in_flight_deliveries_and_says_why(delivery):
    Delivery.objects.filter(pk=delivery.pk).update(status="sending")
    result = deliveries_retry(delivery_ids=[delivery.pk])
    assert result.queued == 0
    assert result.skipped == {"an attempt is in flight": 1}


def test_a_slow_endpoint_at_its_in_flight_cap_postpones_without_spending_an_attempt(
    delivery, account, receiver, monkeypatch
):
    monkeypatch.setattr(lifecycle, "BUSY_WAIT", timedelta(seconds=2))
    Endpoint.objects.update(slow_until=timezone.now() + timedelta(minutes=5))
    event_emit(account=account, event_type="wallet.created", data={})
    busy = Delivery.objects.exclude(pk=delivery.pk).get()
    Delivery.objects.filter(pk=busy.pk).update(status="sending")

    before = timezone.now()
    assert delivery_send(delivery_id=delivery.pk) is None  # no countdown: the sweeper wakes it

    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempt_count == 0
    waited = (delivery.next_attempt_at - before).total_seconds()
    assert 1.5 <= waited <= 2.5 and delivery.dispatched_at is None
    assert receiver.received() == [] and not Attempt.objects.exists()
    Delivery.objects.filter(pk=busy.pk).update(status="succeeded")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_send(delivery_id=delivery.pk) is None
    assert Delivery.objects.get(pk=delivery.pk).status == "succeeded"


def test_health_counts_the_failure_streak_and_a_success_resets_it(delivery, receiver, settings):
    settings.FLEXHOOKS_RETRY_SCHEDULE = (0, 0, 0)
    receiver.script.extend([Reply(500), Reply(500)])
    delivery_send(delivery_id=delivery.pk)
    delivery_send(delivery_id=delivery.pk)
    endpoint = Endpoint.objects.get()
    assert endpoint.failure_streak == 2 and endpoint.first_failure_at is not None
    delivery_send(delivery_id=delivery.pk)
    endpoint.refresh_from_db()
    assert (endpoint.failure_streak, endpoint.first_failure_at) == (0, None)
    assert endpoint.last_success_at is not None


def test_a_timeout_marks_the_endpoint_slow(delivery, receiver, settings):
    settings.FLEXHOOKS_REQUEST_DEADLINE = 0.5
    receiver.script.append(Reply(200, delay=1.5))
    delivery_send(delivery_id=delivery.pk)
    endpoint = Endpoint.objects.get()
    assert Attempt.objects.get().error_class == "timeout"
    assert endpoint.slow_until > timezone.now() + timedelta(minutes=4)


def test_an_attempt_stuck_in_flight_makes_its_endpoint_slow_at_once(delivery, account, receiver):
    event_emit(account=account, event_type="wallet.created", data={})
    stuck = Delivery.objects.exclude(pk=delivery.pk).get()
    Delivery.objects.filter(pk=stuck.pk).update(status="sending")
    Delivery.objects.filter(pk=stuck.pk).update(updated_at=timezone.now() - timedelta(seconds=3))
    assert delivery_send(delivery_id=delivery.pk) is None
    assert receiver.received() == []  # postponed, not sent
    assert Delivery.objects.get(pk=delivery.pk).next_attempt_at > timezone.now()
    # A fresh in-flight attempt (a fast endpoint with parallel requests) does not cap it.
    Delivery.objects.filter(pk=stuck.pk).update(updated_at=timezone.now())
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delivery_send(delivery_id=delivery.pk) is None
    assert len(receiver.received()) == 1


def test_an_attempt_that_raises_is_an_attempt_and_the_delivery_still_ends(
    delivery, monkeypatch, settings
):
    settings.FLEXHOOKS_RETRY_SCHEDULE = (1, 1, 1)

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(transport, "post", explode)
    for _ in range(10):  # more messages than the schedule has attempts
        Delivery.objects.filter(pk=delivery.pk, status="pending").update(
            next_attempt_at=timezone.now()
        )
        delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("failed", 4)  # 1 + len(schedule)
    attempts = list(Attempt.objects.filter(delivery=delivery).order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert {a.error_class for a in attempts} == {"internal"}
    assert attempts[0].error_message == "RuntimeError: boom"
    assert delivery.last_error_class == "internal"
    assert Notice.objects.get(kind="delivery_failed").endpoint_id == delivery.endpoint_id
    assert Endpoint.objects.get().failure_streak == 4


def test_a_lost_worker_is_an_attempt_too(delivery, settings):
    settings.FLEXHOOKS_RETRY_SCHEDULE = (1, 1)
    for _ in range(5):
        Delivery.objects.filter(pk=delivery.pk, status="pending").update(
            status="sending",
            attempt_count=F("attempt_count") + 1,
            lease_expires_at=timezone.now() - timedelta(seconds=1),
        )
        deliveries_sweep()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("failed", 3)
    assert list(Attempt.objects.values_list("error_class", flat=True)) == ["worker_lost"] * 3
    assert Notice.objects.filter(kind="delivery_failed").exists()


@pytest.mark.django_db(transaction=True)  # a fresh connection: outside a test transaction
def test_a_record_that_loses_its_connection_is_made_again_on_a_fresh_one(
    delivery, receiver, monkeypatch
):
    from django.db import OperationalError

    record, failures = lifecycle.record, []

    def record_once_broken(**kwargs):
        if not failures:
            failures.append(1)
            raise OperationalError("the connection is closed")
        record(**kwargs)

    monkeypatch.setattr(lifecycle, "record", record_once_broken)
    delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and len(receiver.received()) == 1
    assert Attempt.objects.filter(delivery=delivery).count() == 1
