import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deliveries.models import Delivery, Event
from deliveries.services import PayloadTooLargeError, event_emit
from endpoints.models import EventType
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


def test_it_creates_one_delivery_per_subscribed_enabled_endpoint(account):
    everything, _ = make_endpoint(account, "https://a.example.com/")
    invoices, _ = make_endpoint(account, "https://b.example.com/", ["invoice.created"])
    make_endpoint(account, "https://c.example.com/", ["wallet.created"])
    make_endpoint(account, "https://d.example.com/", enabled=False)

    result = event_emit(account=account, event_type="invoice.created", data={"id": "i1"})

    assert result.created and result.deliveries == 2
    endpoints = set(Delivery.objects.values_list("endpoint_id", flat=True))
    assert endpoints == {everything.pk, invoices.pk}
    assert Delivery.objects.filter(status="pending", next_attempt_at__isnull=False).count() == 2


def test_it_renders_the_envelope_once(account):
    result = event_emit(account=account, event_type="wallet.created", data={"a": "é"})
    envelope = json.loads(result.event.body)
    assert envelope["webhook_type"] == "wallet.created"
    assert envelope["object_type"] == "wallet"
    assert envelope["data"] == {"object": {"a": "é"}}
    assert envelope["id"] == result.event.id and result.event.id.startswith("evt_")


def test_emitting_to_many_endpoints_costs_a_constant_number_of_statements(account, settings):
    settings.FLEXHOOKS_MAX_ENDPOINTS_PER_ACCOUNT = 200
    for n in range(5):
        make_endpoint(account, f"https://{n}.example.com/")
    with CaptureQueriesContext(connection) as few:
        event_emit(account=account, event_type="invoice.created", data={})
    for n in range(5, 200):
        make_endpoint(account, f"https://{n}.example.com/")
    with CaptureQueriesContext(connection) as many:
        result = event_emit(account=account, event_type="invoice.created", data={})
    assert result.deliveries == 200
    # The type's lookup, then the event with its deliveries: one statement on PostgreSQL
    # (BEGIN, two statements and COMMIT elsewhere), whatever the fan-out.
    assert len(many) == len(few) == (2 if connection.vendor == "postgresql" else 5)


def test_the_same_idempotency_key_returns_the_first_event(account):
    make_endpoint(account)
    first = event_emit(account=account, event_type="invoice.created", data={}, idempotency_key="k")
    again = event_emit(account=account, event_type="invoice.created", data={}, idempotency_key="k")
    assert again.event.pk == first.event.pk and not again.created
    assert again.deliveries == 1
    assert Event.objects.count() == 1 and Delivery.objects.count() == 1


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("invoice.nope", {}, "event_type"),
        ("invoice.created", [1, 2], "object"),
        ("invoice.created", "text", "object"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(account, event_type, data, field):
    make_endpoint(account)
    with pytest.raises(ValidationError) as error:
        event_emit(account=account, event_type=event_type, data=data)
    assert field in error.value.message_dict
    assert not Event.objects.exists() and not Delivery.objects.exists()


def test_an_archived_type_is_refused(account):
    EventType.objects.filter(name="fee.created").update(archived=True)
    with pytest.raises(ValidationError, match="archived"):
        event_emit(account=account, event_type="fee.created", data={})
    assert not Event.objects.exists()


def test_an_object_that_breaks_the_types_schema_is_refused(account):
    EventType.objects.filter(name="fee.created").update(
        schema={"type": "object", "required": ["amount_cents"]}
    )
    with pytest.raises(ValidationError, match="amount_cents"):
        event_emit(account=account, event_type="fee.created", data={"units": 1})
    assert event_emit(account=account, event_type="fee.created", data={"amount_cents": 5}).created


def test_an_event_over_the_size_cap_is_refused(account, settings):
    settings.FLEXHOOKS_MAX_PAYLOAD_BYTES = 1000
    with pytest.raises(PayloadTooLargeError):
        event_emit(account=account, event_type="invoice.created", data={"x": "y" * 1000})
    assert not Event.objects.exists()


def test_emit_event_command_prints_the_event_id(account, capsys):
    make_endpoint(account)
    call_command("emit_event", "--account", "acme", "invoice.created", '{"id": "inv_1"}')
    event_id = capsys.readouterr().out.strip()
    assert Event.objects.get().pk == event_id


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "acme", "invoice.nope", "{}"], "unknown event type"),
        (["--account", "acme", "invoice.created", "{not json"], "not valid JSON"),
        (["--account", "nobody", "invoice.created", "{}"], "no account named"),
        (["--account", "acme", "invoice.created", "[1]"], "JSON object"),
    ],
)
def test_emit_event_command_explains_bad_input_and_writes_nothing(account, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("emit_event", *args)
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("endpoints", "published"),
    [(3, ["deliver", "deliver", "deliver"]), (5, ["wake_chunk"])],
)
def test_a_large_fan_out_publishes_chunks_for_the_workers_instead_of_every_wake_up(
    account, monkeypatch, django_capture_on_commit_callbacks, endpoints, published
):
    from deliveries import wakeups

    monkeypatch.setattr(wakeups, "INLINE_MAX", 3)
    monkeypatch.setattr(wakeups, "CHUNK", 2)
    for n in range(endpoints):
        make_endpoint(account, f"https://example.com/{n}")
    calls = []
    monkeypatch.setattr(
        wakeups,
        "_publish",
        lambda task, arguments, countdown, queue=None: calls.append((task, arguments)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = event_emit(account=account, event_type="invoice.created", data={})
    # deliver takes (id,); wake_chunk takes ([id, …], swept): every delivery once, either way
    assert [task.rsplit(".", 1)[1] for task, arguments in calls for _ in arguments] == (
        published if published[0] == "deliver" else ["wake_chunk"] * 3
    )
    published_ids = [
        delivery_id
        for _, arguments in calls
        for (first, *_) in arguments
        for delivery_id in (first if isinstance(first, list) else [first])
    ]
    expected = Delivery.objects.filter(event=result.event).values_list("pk", flat=True)
    assert sorted(published_ids) == sorted(expected)
