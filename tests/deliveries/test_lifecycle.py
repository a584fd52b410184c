"""Every transition of a delivery, as a table of cases, held by both forms of the
lifecycle: one statement per transition (PostgreSQL) and the same compiled pieces one after
another in a transaction — on PostgreSQL, and on SQLite (the last test reruns this module
there)."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from deliveries import lifecycle, outcome
from deliveries.models import Attempt, Delivery, Event, new_event_id
from deliveries.services import endpoint_delete, event_emit
from deliveries.services.sending import attempt_from
from endpoints.models import Endpoint, EndpointSecret
from endpoints.services import endpoint_rotate_secret
from outbound.transport import Result
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db

FORMS = ["one statement", "in turn"] if connection.vendor == "postgresql" else ["in turn"]


@pytest.fixture(params=FORMS, autouse=True)
def form(request, monkeypatch):
    monkeypatch.setattr(lifecycle, "COMBINE", request.param == "one statement")
    return request.param


@pytest.fixture
def endpoint(account):
    return make_endpoint(account, "https://hooks.example.com/in", headers={"X-Team": "billing"})[0]


def _pending(account, endpoint=None, **fields) -> Delivery:
    target = {"endpoint": endpoint} if endpoint is not None else {}
    result = event_emit(account=account, event_type="invoice.created", data={"n": 1}, **target)
    delivery = Delivery.objects.filter(event=result.event).latest("pk")
    if fields:
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        delivery.refresh_from_db()
    return delivery


# --- create -----------------------------------------------------------------------------


def test_create_inserts_one_delivery_per_endpoint_the_event_goes_to(account, endpoint):
    invoices, _ = make_endpoint(account, "https://b.example.com/", ["invoice.created"])
    make_endpoint(account, "https://c.example.com/", ["wallet.created"])
    make_endpoint(account, "https://d.example.com/", enabled=False)
    deleted, _ = make_endpoint(account, "https://e.example.com/")
    endpoint_delete(endpoint=deleted)
    now = timezone.now()
    event = Event(
        id=new_event_id(), account=account, event_type_id=_type("invoice.created"), body="{}",
        created_at=now,
    )  # fmt: skip
    ids = lifecycle.create(event=event)
    rows = Delivery.objects.filter(pk__in=ids)
    assert {d.endpoint_id for d in rows} == {endpoint.pk, invoices.pk}
    for delivery in rows:
        assert (delivery.status, delivery.attempt_count, delivery.retry_step) == ("pending", 0, 0)
        assert delivery.next_attempt_at == delivery.dispatched_at == delivery.created_at == now
        assert (delivery.next_trigger, delivery.last_error, delivery.account_id) == (
            "scheduled", "", account.pk,
        )  # fmt: skip


def test_create_with_a_used_idempotency_key_inserts_nothing(account, endpoint):
    def event():
        return Event(
            id=new_event_id(), account=account, event_type_id=_type("invoice.created"),
            body="{}", idempotency_key="k", created_at=timezone.now(),
        )  # fmt: skip

    assert len(lifecycle.create(event=event())) == 1
    assert lifecycle.create(event=event()) is None
    assert (Event.objects.count(), Delivery.objects.count()) == (1, 1)


def test_create_for_one_endpoint_ignores_subscriptions(account, endpoint):
    wallets, _ = make_endpoint(account, "https://w.example.com/", ["wallet.created"])
    event = Event(
        id=new_event_id(), account=account, event_type_id=_type("invoice.created"), body="{}",
        created_at=timezone.now(),
    )  # fmt: skip
    (delivery_id,) = lifecycle.create(event=event, only_endpoint_id=wallets.pk)
    assert Delivery.objects.get(pk=delivery_id).endpoint_id == wallets.pk


def test_create_with_no_endpoint_inserts_the_event_alone(account):
    event = Event(
        id=new_event_id(), account=account, event_type_id=_type("invoice.created"), body="{}",
        created_at=timezone.now(),
    )  # fmt: skip
    assert lifecycle.create(event=event) == []
    assert Event.objects.filter(pk=event.pk).exists()


# --- claim ------------------------------------------------------------------------------


def test_claim_takes_a_pending_due_delivery_under_a_lease_with_what_the_attempt_needs(
    account, endpoint
):
    delivery = _pending(account)
    old = endpoint.secrets.get().ciphertext
    endpoint_rotate_secret(endpoint=endpoint, grace_seconds=3600)
    EndpointSecret.objects.create(
        endpoint=endpoint, ciphertext="expired", expires_at=timezone.now() - timedelta(seconds=1)
    )
    now = timezone.now()
    claim = lifecycle.claim(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("sending", 1)
    assert delivery.lease_expires_at == now + lifecycle.lease_length()
    assert (claim.number, claim.trigger, claim.retry_step) == (1, "scheduled", 0)
    assert (claim.event_id, claim.endpoint_id, claim.account_id) == (
        delivery.event_id, endpoint.pk, account.pk,
    )  # fmt: skip
    assert claim.body == delivery.event.body and claim.url == endpoint.url
    assert claim.headers == {"X-Team": "billing"} and claim.enabled
    new = endpoint.secrets.get(expires_at__isnull=True).ciphertext
    assert claim.secret_ciphertexts == (new, old)  # newest first; the expired one not


@pytest.mark.parametrize(
    "fields",
    [
        {"next_attempt_at": timezone.now() + timedelta(minutes=1)},
        {"status": "sending"},
        {"status": "succeeded"},
        {"status": "failed"},
        {"status": "cancelled"},
    ],
    ids=["not due", "in flight", "succeeded", "failed", "cancelled"],
)
def test_claim_leaves_what_is_not_pending_and_due(account, endpoint, fields):
    delivery = _pending(account, **fields)
    assert lifecycle.claim(delivery_id=delivery.pk, now=timezone.now()) is None
    after = Delivery.objects.get(pk=delivery.pk)
    assert (after.status, after.attempt_count) == (delivery.status, delivery.attempt_count)


def test_a_slow_endpoint_gets_one_attempt_in_flight(account, endpoint):
    Endpoint.objects.filter(pk=endpoint.pk).update(slow_until=timezone.now() + timedelta(minutes=5))
    busy, waiting = _pending(account), _pending(account)
    assert lifecycle.claim(delivery_id=busy.pk, now=timezone.now()) is not None
    assert lifecycle.claim(delivery_id=waiting.pk, now=timezone.now()) is None
    Delivery.objects.filter(pk=busy.pk).update(status="succeeded")
    assert lifecycle.claim(delivery_id=waiting.pk, now=timezone.now()) is not None


def test_an_attempt_stuck_in_flight_makes_its_endpoint_slow(account, endpoint):
    stuck, waiting = _pending(account), _pending(account)
    Delivery.objects.filter(pk=stuck.pk).update(
        status="sending", updated_at=timezone.now() - timedelta(seconds=3)
    )
    assert lifecycle.claim(delivery_id=waiting.pk, now=timezone.now()) is None
    Delivery.objects.filter(pk=stuck.pk).update(updated_at=timezone.now())  # a fresh one
    assert lifecycle.claim(delivery_id=waiting.pk, now=timezone.now()) is not None


def test_an_account_with_an_attempt_stuck_in_flight_gets_its_share(account, endpoint, settings):
    settings.FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT = 2
    other, _ = make_endpoint(account, "https://other.example.com/")
    first, second, third = (_pending(account, e) for e in (endpoint, other, other))
    assert lifecycle.claim(delivery_id=first.pk, now=timezone.now())
    assert lifecycle.claim(delivery_id=second.pk, now=timezone.now())
    # Fresh attempts (a healthy account's burst) leave every free slot to the account...
    fourth = _pending(account, other)
    assert lifecycle.claim(delivery_id=fourth.pk, now=timezone.now())
    Delivery.objects.filter(pk=fourth.pk).update(status="succeeded")
    # ...one in flight for longer than a moment caps it at its share.
    Delivery.objects.filter(pk=first.pk).update(updated_at=timezone.now() - timedelta(seconds=3))
    assert lifecycle.claim(delivery_id=third.pk, now=timezone.now()) is None
    Delivery.objects.filter(pk=second.pk).update(status="succeeded")
    assert lifecycle.claim(delivery_id=third.pk, now=timezone.now())


def test_no_account_cap_when_it_is_zero(account, endpoint, settings):
    settings.FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT = 0
    stuck, waiting = _pending(account), _pending(account)
    Delivery.objects.filter(pk=stuck.pk).update(
        status="sending", updated_at=timezone.now() - timedelta(seconds=3)
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(slow_until=None)
    other, _ = make_endpoint(account, "https://other.example.com/")
    Delivery.objects.filter(pk=waiting.pk).update(endpoint=other)
    assert lifecycle.claim(delivery_id=waiting.pk, now=timezone.now())


def test_the_claim_of_a_disabled_endpoint_says_so_and_can_be_cancelled(account, endpoint):
    delivery = _pending(account)
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False)
    claim = lifecycle.claim(delivery_id=delivery.pk, now=timezone.now())
    assert not claim.enabled
    lifecycle.cancel_claimed(claim=claim, reason="disabled", now=timezone.now())
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("cancelled", 0)


# --- postpone, record -------------------------------------------------------------------


def test_postpone_waits_for_the_sweeper_without_spending_an_attempt(account, endpoint):
    delivery = _pending(account)
    now = timezone.now()
    lifecycle.postpone(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    waited = (delivery.next_attempt_at - now).total_seconds()
    assert 4 <= waited <= 6  # BUSY_WAIT, jittered
    assert (delivery.status, delivery.attempt_count, delivery.dispatched_at) == ("pending", 0, None)
    lifecycle.postpone(delivery_id=delivery.pk, now=now)  # not due any more: unchanged
    assert Delivery.objects.get(pk=delivery.pk).next_attempt_at == delivery.next_attempt_at


POLICY = outcome.Policy(schedule=(5, 600), min_wait_when_slow=60, auto_disable_after=timedelta(days=5), jitter=0)  # fmt: skip


@pytest.mark.parametrize(
    ("result", "status", "retry_step", "woken", "streak", "slow"),
    [
        (Result(7, status=200), "succeeded", 0, False, 0, False),
        (Result(7, status=500), "pending", 1, True, 1, False),
        (Result(7, error_class="timeout", error_message="slow"), "pending", 1, True, 1, True),
        (Result(7, error_class="blocked_address", permanent=True), "failed", 0, False, 1, False),
    ],
    ids=["2xx", "5xx", "timeout", "permanent"],
)
def test_record_stores_the_attempt_the_verdict_and_the_health(
    account, endpoint, result, status, retry_step, woken, streak, slow
):
    Endpoint.objects.filter(pk=endpoint.pk).update(failure_streak=0 if streak else 3)
    claim = lifecycle.claim(delivery_id=_pending(account).pk, now=timezone.now())
    now = timezone.now()
    verdict = outcome.judge(result, retry_step=0, now=now, failing_since=None, policy=POLICY)
    attempt = attempt_from(claim, result, started_at=now, request_headers={"webhook-id": "x"})
    lifecycle.record(claim=claim, attempt=attempt, verdict=verdict, now=now)

    delivery = Delivery.objects.get(pk=claim.delivery_id)
    assert (delivery.status, delivery.retry_step, delivery.lease_expires_at) == (
        status,
        retry_step,
        None,
    )
    assert delivery.next_attempt_at == verdict.next_attempt_at
    assert (delivery.dispatched_at is not None) == woken  # a countdown message is due then
    assert (delivery.last_status_code, delivery.last_error_class) == (
        result.status, verdict.last_error_class,
    )  # fmt: skip
    assert delivery.updated_at == now
    stored = Attempt.objects.get(delivery=delivery)
    assert (stored.number, stored.trigger, stored.response_status, stored.error_class) == (
        1, "scheduled", result.status, result.error_class,
    )  # fmt: skip
    assert stored.request_headers == {"webhook-id": "x"} and stored.duration_ms == 7
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == streak
    assert (endpoint.first_failure_at is not None) == bool(streak)
    assert (endpoint.last_success_at is not None) == (status == "succeeded")
    assert (endpoint.slow_until is not None) == slow


def test_a_record_after_the_lease_was_taken_back_changes_nothing_of_the_delivery(account, endpoint):
    claim = lifecycle.claim(delivery_id=_pending(account).pk, now=timezone.now())
    Delivery.objects.filter(pk=claim.delivery_id).update(status="pending")  # reclaimed
    now = timezone.now()
    verdict = outcome.judge(
        Result(1, status=200), retry_step=0, now=now, failing_since=None, policy=POLICY
    )
    attempt = attempt_from(claim, Result(1, status=200), started_at=now, request_headers={})
    lifecycle.record(claim=claim, attempt=attempt, verdict=verdict, now=now)
    assert Delivery.objects.get(pk=claim.delivery_id).status == "pending"


# --- reclaim, cancel, requeue, re-wake --------------------------------------------------


def test_expired_leases_are_the_sending_deliveries_past_their_lease(account, endpoint):
    now = timezone.now()
    lost = _pending(account, status="sending", attempt_count=2, retry_step=1, lease_expires_at=now - timedelta(seconds=1))  # fmt: skip
    _pending(account, status="sending", lease_expires_at=now + timedelta(seconds=30))
    (claim,) = lifecycle.expired_leases(now=now, limit=10)
    assert (claim.delivery_id, claim.number, claim.retry_step, claim.endpoint_id) == (
        lost.pk, 2, 1, endpoint.pk,
    )  # fmt: skip


def test_cancel_touches_pending_deliveries_only(account, endpoint):
    pending, sending = _pending(account), _pending(account, status="sending")
    done = _pending(account, status="succeeded")
    count = lifecycle.cancel(deliveries=Delivery.objects.all(), reason="gone", now=timezone.now())
    assert count == 1
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {pending.pk: "cancelled", sending.pk: "sending", done.pk: "succeeded"}
    assert Delivery.objects.get(pk=pending.pk).next_attempt_at is None


def test_requeue_queues_what_can_be_sent_and_says_why_not_the_rest(account, endpoint):
    queued = [
        _pending(account, status=status, retry_step=2, next_trigger="scheduled").pk
        for status in ("failed", "succeeded", "cancelled", "pending")
    ]
    in_flight = _pending(account, status="sending")
    disabled, _ = make_endpoint(account, "https://off.example.com/", enabled=False)
    off = _pending(account, disabled, status="failed")
    now = timezone.now()
    ids, skipped = lifecycle.requeue(delivery_ids=[*queued, in_flight.pk, off.pk], now=now)
    assert sorted(ids) == sorted(queued)
    assert skipped == {lifecycle.IN_FLIGHT: 1, lifecycle.ENDPOINT_DISABLED: 1}
    for delivery in Delivery.objects.filter(pk__in=queued):
        assert (delivery.status, delivery.retry_step, delivery.next_trigger) == (
            "pending",
            0,
            "manual",
        )
        assert delivery.next_attempt_at == delivery.dispatched_at == now
    assert Delivery.objects.get(pk=off.pk).status == "failed"


def test_due_deliveries_without_a_message_are_found_and_marked_woken(account, endpoint):
    now = timezone.now() + timedelta(seconds=1)
    never = _pending(account, dispatched_at=None)
    lost = _pending(account, dispatched_at=now - timedelta(minutes=5))
    _pending(account, dispatched_at=now)  # its message is on its way
    _pending(account, dispatched_at=None, next_attempt_at=now + timedelta(hours=1))  # not due
    ids = lifecycle.due_without_message(now=now, stale_before=now - timedelta(minutes=1), limit=10)
    assert sorted(ids) == sorted([never.pk, lost.pk])
    assert set(Delivery.objects.filter(pk__in=ids).values_list("dispatched_at", flat=True)) == {now}


def _type(name: str) -> int:
    from endpoints.models import EventType

    return EventType.objects.get(name=name).pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="this run is on SQLite already")
def test_the_same_table_holds_on_sqlite(tmp_path, form):
    if form != FORMS[0]:
        pytest.skip("one SQLite run is enough")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'parity.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "FLEXHOOKS_REQUIRE_SERVICES": "0",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            __file__,
            "-k",
            "not sqlite",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_another_accounts_share_does_not_hold_this_one(account, endpoint, settings):
    from accounts.services import account_create

    settings.FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT = 2
    other_account, _ = account_create(name="other")
    other_endpoint, _ = make_endpoint(other_account, "https://other.example.com/")
    for _ in range(3):  # the other account: at its share, stuck
        _pending(
            other_account,
            other_endpoint,
            status="sending",
            updated_at=timezone.now() - timedelta(seconds=3),
        )
    mine = _pending(account)
    assert lifecycle.claim(delivery_id=mine.pk, now=timezone.now()) is not None


def test_an_account_with_a_slow_endpoint_is_held_to_its_share_too(account, endpoint, settings):
    settings.FLEXHOOKS_ACCOUNT_MAX_IN_FLIGHT = 1
    hanging, _ = make_endpoint(account, "https://hanging.example.com/")
    Endpoint.objects.filter(pk=hanging.pk).update(slow_until=timezone.now() + timedelta(minutes=5))
    first, second = _pending(account, endpoint), _pending(account, endpoint)
    assert lifecycle.claim(delivery_id=first.pk, now=timezone.now())  # fresh, and below 1
    assert lifecycle.claim(delivery_id=second.pk, now=timezone.now()) is None
