"""The dispatch pipeline end to end: real PostgreSQL, Redis, Celery worker and HTTP."""

import itertools
import json
import socket

import pytest
import standardwebhooks

from deliveries import wakeups
from deliveries.models import Attempt, Delivery, Notice
from deliveries.services import deliveries_retry, event_emit
from tests.conftest import wait_until
from tests.factories import make_endpoint
from tests.receiver import Reply

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

INVOICE = {"lago_id": "inv_1", "number": "INV-1", "total_amount_cents": 1200}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settled(event_id: str, count: int = 1):
    def check():
        rows = list(Delivery.objects.filter(event_id=event_id))
        done = [d for d in rows if d.status in (Delivery.Status.SUCCEEDED, Delivery.Status.FAILED)]
        return rows if len(done) == count else None

    return check


def test_it_delivers_a_signed_envelope_that_standardwebhooks_verifies(
    account, receiver, start_worker
):
    _endpoint, secret = make_endpoint(account, receiver.url + "/hook", ["invoice.created"])
    start_worker()

    result = event_emit(account=account, event_type="invoice.created", data=INVOICE)

    (delivery,) = wait_until(_settled(result.event.id), message="delivery settled")
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempt_count == 1
    (request,) = receiver.received("/hook")
    envelope = json.loads(request.body)
    assert envelope == {
        "id": result.event.id,
        "webhook_type": "invoice.created",
        "object_type": "invoice",
        "created_at": result.event.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"object": INVOICE},
    }
    assert request.body == result.event.body.encode()
    assert request.headers["webhook-id"] == result.event.id
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("flexhooks/")
    verified = standardwebhooks.Webhook(secret).verify(request.body, request.headers)
    assert verified["data"]["object"] == INVOICE
    (attempt,) = Attempt.objects.filter(delivery=delivery)
    assert attempt.response_status == 200
    assert attempt.trigger == "scheduled"
    assert attempt.request_headers["webhook-signature"] == request.headers["webhook-signature"]


def test_it_retries_500s_with_growing_gaps_and_the_same_webhook_id(account, receiver, start_worker):
    make_endpoint(account, receiver.url + "/flaky")
    receiver.script.extend([Reply(500), Reply(500), Reply(200)])
    start_worker(extra_env={"FLEXHOOKS_RETRY_SCHEDULE": "1,2,2"})

    result = event_emit(account=account, event_type="invoice.created", data=INVOICE)

    (delivery,) = wait_until(_settled(result.event.id), message="delivery settled")
    assert delivery.status == Delivery.Status.SUCCEEDED
    requests = receiver.received("/flaky")
    assert [r.headers["webhook-id"] for r in requests] == [result.event.id] * 3
    assert len({r.body for r in requests}) == 1
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    # 1 s then 2 s, each scaled by 1 ± 0.2 (outcome.JITTER): they do not overlap
    assert 0.75 < gaps[0] < 1.6 < gaps[1], gaps
    statuses = list(delivery.attempts.order_by("number").values_list("number", "response_status"))
    assert statuses == [(1, 500), (2, 500), (3, 200)]


def test_it_records_timeouts_and_refused_connections_and_retries_them(
    account, receiver, start_worker
):
    slow, _ = make_endpoint(account, receiver.url + "/slow")
    closed, _ = make_endpoint(account, f"http://127.0.0.1:{closed_port()}/refused")
    receiver.script.append(Reply(200, delay=3))  # longer than the 2 s deadline
    start_worker()

    result = event_emit(account=account, event_type="customer.created", data={"id": "c1"})

    wait_until(_settled(result.event.id, 2), timeout=40, message="both deliveries settled")
    slow_attempts = list(Attempt.objects.filter(delivery__endpoint=slow).order_by("number"))
    assert slow_attempts[0].error_class == "timeout"
    assert slow_attempts[-1].response_status == 200
    assert Delivery.objects.get(endpoint=slow).status == Delivery.Status.SUCCEEDED
    refused = list(Attempt.objects.filter(delivery__endpoint=closed))
    assert len(refused) == 4  # 1 + the three retries of the schedule
    assert {a.error_class for a in refused} == {"connection_refused"}
    assert Delivery.objects.get(endpoint=closed).status == Delivery.Status.FAILED


def test_a_slow_endpoint_gets_one_attempt_at_a_time_and_the_sweeper_wakes_the_rest(
    account, receiver, start_worker
):
    from django.utils import timezone

    from endpoints.models import Endpoint

    endpoint, _ = make_endpoint(account, receiver.url + "/slow")
    Endpoint.objects.filter(pk=endpoint.pk).update(
        slow_until=timezone.now() + timezone.timedelta(minutes=5)
    )
    receiver.default = Reply(200, delay=1)
    start_worker(concurrency=4)

    first = event_emit(account=account, event_type="invoice.created", data=INVOICE).event.id
    wait_until(lambda: receiver.received(), timeout=20, message="the first attempt under way")
    # The endpoint is full: these two wait (no attempt spent) until the sweeper wakes them.
    later = [
        event_emit(account=account, event_type="invoice.created", data=INVOICE).event.id
        for _ in range(2)
    ]

    wait_until(
        lambda: Delivery.objects.filter(endpoint=endpoint, status="succeeded").count() == 3,
        timeout=40,
        message="all three delivered",
    )
    arrivals = {r.headers["webhook-id"]: r.at for r in receiver.received()}
    assert len(receiver.received()) == 3  # each sent once: waiting spent no attempt
    # Not sent while the first was in flight (the two may then race: the cap is soft).
    assert all(arrivals[event] - arrivals[first] >= 0.9 for event in later)
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {1}


def test_a_410_disables_the_endpoint_and_stops_trying(account, receiver, start_worker):
    endpoint, _ = make_endpoint(account, receiver.url + "/gone")
    receiver.default = Reply(410)
    start_worker()

    result = event_emit(account=account, event_type="invoice.created", data=INVOICE)

    (delivery,) = wait_until(_settled(result.event.id), message="delivery settled")
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert len(receiver.received()) == 1


def test_an_exhausted_schedule_fails_and_a_manual_retry_sends_again(
    account, receiver, start_worker
):
    make_endpoint(account, receiver.url + "/down")
    receiver.default = Reply(503)
    start_worker()
    result = event_emit(account=account, event_type="invoice.created", data=INVOICE)
    (delivery,) = wait_until(_settled(result.event.id), message="delivery failed")
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 4

    receiver.default = Reply(200)
    outcome = deliveries_retry(delivery_ids=[delivery.pk])

    assert outcome.queued == 1
    wait_until(
        lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SUCCEEDED,
        message="manual retry succeeded",
    )
    last = delivery.attempts.order_by("-number").first()
    assert (last.number, last.trigger, last.response_status) == (5, "manual", 200)
    assert {r.headers["webhook-id"] for r in receiver.received()} == {result.event.id}


def test_a_large_fan_out_is_published_by_the_workers_in_chunks(
    account, receiver, start_worker, monkeypatch
):
    monkeypatch.setattr(wakeups, "INLINE_MAX", 3)
    monkeypatch.setattr(wakeups, "CHUNK", 2)
    for n in range(7):
        make_endpoint(account, f"{receiver.url}/fan/{n}")
    start_worker()

    result = event_emit(account=account, event_type="invoice.created", data=INVOICE)

    rows = wait_until(_settled(result.event.id, count=7), message="all 7 settled")
    assert {row.status for row in rows} == {Delivery.Status.SUCCEEDED}
    assert sorted(r.path for r in receiver.received()) == [f"/fan/{n}" for n in range(7)]


def test_a_url_with_a_non_ascii_path_and_query_is_delivered(event_types, receiver, start_worker):
    from rest_framework.test import APIClient

    from accounts.services import account_create

    _, raw_key = account_create(name="alpha")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    url = receiver.url + "/café/naïve?city=Zürich&x=%C3%A9"
    created = api.post("/api/v1/endpoints", {"url": url}, format="json")
    assert created.status_code == 201 and created.json()["url"] == url  # stored as given
    start_worker()

    event_id = api.post(
        "/api/v1/events", {"event_type": "invoice.created", "object": {"id": "i"}}, format="json"
    ).json()["id"]

    (delivery,) = wait_until(_settled(event_id), message="delivery settled")
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempt_count == 1
    (request,) = receiver.received()
    assert request.path == "/caf%C3%A9/na%C3%AFve?city=Z%C3%BCrich&x=%C3%A9"


def test_a_delivery_that_breaks_every_attempt_fails_within_its_schedule(
    account, receiver, start_worker
):
    endpoint, _ = make_endpoint(account, receiver.url + "/poison")
    endpoint.secrets.update(ciphertext="not a fernet token")  # every attempt raises inside
    start_worker()

    result = event_emit(account=account, event_type="invoice.created", data=INVOICE)

    (delivery,) = wait_until(_settled(result.event.id), timeout=40, message="delivery ended")
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 4  # 1 + the three retries of the schedule
    errors = list(delivery.attempts.order_by("number").values_list("error_class", flat=True))
    assert errors == ["internal"] * 4
    assert receiver.received() == []  # nothing unsigned ever left
    wait_until(  # noticed right after the record that failed it
        lambda: Notice.objects.filter(kind="delivery_failed", endpoint=endpoint).exists(),
        timeout=5,
        message="the notice",
    )


def test_a_tenant_cannot_reach_the_ops_webhooks_host_through_it(account, receiver, start_worker):
    """The scenario of the connection-reuse report, end to end: the ops URL on a loopback
    host name, a tenant endpoint on the same host and port, a threads worker, the guard on
    (nothing opened). Nothing reaches the listener: not the tenant's requests, and not the
    ops POSTs its blocked deliveries raise (the operator did not open that address)."""
    port = receiver.url.rsplit(":", 1)[1]
    endpoint, _ = make_endpoint(account, f"http://localhost:{port}/steal")  # a name: saved
    worker = start_worker(
        concurrency=4,
        extra_env={
            "FLEXHOOKS_ALLOW_LOOPBACK": "0",
            "FLEXHOOKS_OPS_WEBHOOK_URL": f"http://localhost:{port}/ops",
        },
    )
    events = [
        event_emit(account=account, event_type="invoice.created", data={"n": n}).event.id
        for n in range(30)
    ]
    wait_until(
        lambda: Delivery.objects.filter(status="failed").count() == 30,
        timeout=60,
        message="every delivery failed at the guard",
    )
    assert set(Attempt.objects.values_list("error_class", flat=True)) == {"blocked_address"}
    assert Notice.objects.filter(endpoint=endpoint).exists()
    wait_until(  # the ops POST was tried (and refused) before we look at the listener
        lambda: "ops webhook: blocked_address" in worker.output(), timeout=20, message="ops POST"
    )
    assert receiver.received() == [], [r.path for r in receiver.received()]
    assert len(events) == 30
