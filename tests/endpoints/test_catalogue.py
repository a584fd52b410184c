import pytest

from endpoints.models import EventType

pytestmark = pytest.mark.django_db

SEEDED = {
    "billable_metric.created",
    "billable_metric.updated",
    "billable_metric.archived",
    "customer.created",
    "customer.updated",
    "customer.payment_provider_created",
    "customer.payment_provider_error",
    "customer.checkout_url_generated",
    "subscription.started",
    "subscription.terminated",
    "subscription.trial_ended",
    "subscription.usage_threshold_reached",
    "invoice.drafted",
    "invoice.created",
    "invoice.one_off_created",
    "invoice.generated",
    "invoice.payment_status_updated",
    "invoice.payment_failure",
    "invoice.payment_overdue",
    "invoice.voided",
    "wallet.created",
    "wallet.updated",
    "wallet.terminated",
    "wallet.depleted_ongoing_balance",
    "wallet_transaction.updated",
    "wallet_transaction.payment_failure",
    "credit_note.created",
    "credit_note.generated",
    "credit_note.refund_failure",
    "fee.created",
    "events.errors",
}


def test_the_migration_seeds_exactly_the_31_types(event_types):
    assert set(EventType.objects.values_list("name", flat=True)) == SEEDED
    assert len(SEEDED) == 31


def test_every_seeded_type_has_a_group_description_and_example(event_types):
    for event_type in EventType.objects.all():
        assert event_type.group and event_type.object_type
        assert event_type.description.startswith("Sent when")
        assert isinstance(event_type.example, dict) and event_type.example


def test_an_invoice_example_looks_like_an_invoice(event_types):
    invoice = EventType.objects.get(name="invoice.created").example
    for key in ("number", "customer", "currency", "total_amount_cents", "status", "fees"):
        assert key in invoice
    assert EventType.objects.get(name="invoice.created").description == (
        "Sent when an invoice is finalized."
    )


def test_groups_match_the_catalogue(event_types):
    groups = set(EventType.objects.values_list("group", flat=True))
    assert groups == {
        "billable_metric",
        "customer",
        "subscription",
        "invoice",
        "wallet",
        "credit_note",
        "fee",
        "events",
    }
    assert EventType.objects.filter(group="invoice").count() == 8
    assert EventType.objects.get(name="wallet_transaction.updated").group == "wallet"
