"""Endpoint health, operational notices, retention, /metrics and /healthz."""

import socket
from datetime import timedelta

import pytest
import standardwebhooks
from django.utils import timezone

from deliveries.models import Attempt, Delivery, Event, Notice
from deliveries.notifications import notice_send
from deliveries.services import delivery_send, event_emit, history_purge
from endpoints.models import Endpoint
from endpoints.services import endpoint_enable
from outbound.signing import generate_secret
from tests.factories import make_endpoint
from tests.receiver import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery(account, receiver):
    make_endpoint(account, receiver.url + "/in")
    event_emit(account=account, event_type="invoice.created", data={"id": "inv_1"})
    return Delivery.objects.get()


def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_noticed(
    delivery, receiver, settings
):
    settings.FLEXHOOKS_AUTO_DISABLE_AFTER = 5 * 24 * 3600
    receiver.default = Reply(500)
    Endpoint.objects.update(failure_streak=40, first_failure_at=timezone.now() - timedelta(days=6))
    delivery_send(delivery_id=delivery.pk)
    endpoint = Endpoint.objects.get()
    assert not endpoint.enabled and "failing without a success since" in endpoint.disabled_reason
    notice = Notice.objects.get(kind="endpoint_disabled")
    assert notice.endpoint == endpoint and endpoint.url in notice.message


def test_a_young_streak_does_not_disable(delivery, receiver):
    receiver.default = Reply(500)
    Endpoint.objects.update(failure_streak=3, first_failure_at=timezone.now() - timedelta(days=1))
    delivery_send(delivery_id=delivery.pk)
    assert Endpoint.objects.get().enabled and not Notice.objects.exists()


def test_enabling_again_starts_a_clean_streak(delivery):
    endpoint = Endpoint.objects.get()
    Endpoint.objects.update(
        enabled=False, failure_streak=9, first_failure_at=timezone.now() - timedelta(days=9)
    )
    endpoint.refresh_from_db()
    endpoint_enable(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failure_streak == 0 and endpoint.first_failure_at is None


def test_a_410_disables_and_notices_and_repeats_fold_into_one_notice(account, delivery, receiver):
    receiver.default = Reply(410)
    delivery_send(delivery_id=delivery.pk)
    assert Notice.objects.get(kind="endpoint_disabled").count == 1
    assert Notice.objects.get(kind="delivery_failed").count == 1
    Endpoint.objects.update(enabled=True)
    event_emit(account=account, event_type="invoice.created", data={"id": "inv_2"})
    delivery_send(delivery_id=Delivery.objects.exclude(pk=delivery.pk).get().pk)
    assert Notice.objects.get(kind="delivery_failed").count == 2


def test_a_notice_is_posted_signed_to_the_operations_webhook(delivery, receiver, settings):
    settings.FLEXHOOKS_OPS_WEBHOOK_SECRET = generate_secret()
    settings.FLEXHOOKS_OPS_WEBHOOK_URL = receiver.url + "/ops"
    receiver.default = Reply(410)
    delivery_send(delivery_id=delivery.pk)
    receiver.default = Reply(200)
    notice = Notice.objects.get(kind="endpoint_disabled")
    notice_send(notice_id=notice.pk)
    (request,) = receiver.received("/ops")
    payload = standardwebhooks.Webhook(settings.FLEXHOOKS_OPS_WEBHOOK_SECRET).verify(
        request.body, request.headers
    )
    assert payload["kind"] == "endpoint_disabled" and payload["account"] == "acme"
    assert request.headers["user-agent"].startswith("flexhooks/")  # not libcurl's
    notice.refresh_from_db()
    assert notice.posted_at is not None


def test_a_notice_the_webhook_did_not_take_is_sent_again_by_the_sweeper(
    delivery, receiver, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from deliveries import wakeups
    from deliveries.services import deliveries_sweep

    settings.FLEXHOOKS_OPS_WEBHOOK_URL = receiver.url + "/ops"
    sent = []
    monkeypatch.setattr(
        wakeups, "_publish", lambda task, arguments, countdown: sent.append(arguments)
    )
    receiver.default = Reply(410)
    delivery_send(delivery_id=delivery.pk)  # two notices: disabled, gave up
    receiver.default = Reply(503)
    for notice in Notice.objects.all():
        with pytest.raises(ConnectionError):
            notice_send(notice_id=notice.pk)  # the task's retries would follow, then stop
    assert not Notice.objects.filter(posted_at__isnull=False).exists()

    assert deliveries_sweep().notices == 0  # not yet: the task's own retries come first
    later = timezone.now() + timedelta(minutes=31)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep(now=later).notices == 2
    assert sorted(arguments[0][0] for arguments in sent) == sorted(
        Notice.objects.values_list("pk", flat=True)
    )
    receiver.default = Reply(200)
    for notice in Notice.objects.all():
        notice_send(notice_id=notice.pk)
    assert deliveries_sweep(now=later + timedelta(hours=1)).notices == 0  # all taken


def test_retention_deletes_old_history_in_batches_and_keeps_the_rest(
    account, settings, monkeypatch
):
    from deliveries.services import maintenance

    settings.FLEXHOOKS_RETENTION_DAYS = 30
    monkeypatch.setattr(maintenance, "PURGE_BATCH", 2)
    make_endpoint(account)
    make_endpoint(account, "https://two.example.com/")
    for n in range(5):
        event_emit(account=account, event_type="invoice.created", data={"n": n})
    old = list(Event.objects.order_by("pk").values_list("pk", flat=True)[:3])
    Event.objects.filter(pk__in=old).update(created_at=timezone.now() - timedelta(days=31))
    for delivery in Delivery.objects.all():
        Attempt.objects.create(
            delivery=delivery,
            number=1,
            trigger="scheduled",
            started_at=timezone.now(),
            response_status=200,
        )

    result = history_purge()

    assert (result.events, result.deliveries, result.attempts) == (3, 6, 6)
    assert Event.objects.count() == 2 and Delivery.objects.count() == 4
    assert Attempt.objects.count() == 4
    assert not Event.objects.filter(pk__in=old).exists()


def test_metrics_report_real_deliveries(client, delivery, receiver):
    delivery_send(delivery_id=delivery.pk)
    text = client.get("/metrics").content.decode()
    assert 'flexhooks_deliveries_24h{status="succeeded"} 1.0' in text
    assert 'flexhooks_attempts_5m{outcome="2xx"} 1.0' in text
    assert 'flexhooks_attempt_duration_seconds_bucket{le="+Inf"} 1.0' in text
    assert "flexhooks_backlog_due 0.0" in text
    assert "flexhooks_endpoints_disabled 0.0" in text
    assert "hooks.example" not in text and receiver.url not in text  # no URL labels


def test_metrics_can_require_a_token(client, settings, db):
    settings.FLEXHOOKS_METRICS_TOKEN = "s3cret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


@pytest.mark.services
def test_healthz_is_ok_with_database_and_broker(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_healthz_fails_when_redis_is_down(client, settings, db):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"].startswith("error")
