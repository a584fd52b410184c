"""Seed the event catalogue with the 31 event types of the billing platform.

After this migration the database is the one source of truth: staff edit, add and archive
types in the admin, and no code lists event names.
"""

from django.db import migrations

CUSTOMER = {
    "lago_id": "99a6094e-199b-4101-896a-54e927ce7bd7",
    "external_id": "cus_5532",
    "name": "Gavin Belson",
    "email": "billing@hooli.com",
    "currency": "USD",
    "country": "US",
    "legal_name": "Hooli Inc.",
    "timezone": "America/Los_Angeles",
    "created_at": "2026-11-01T09:12:00Z",
}
BILLABLE_METRIC = {
    "lago_id": "1a901a90-1a90-1a90-1a90-1a901a901a90",
    "code": "api_calls",
    "name": "API calls",
    "description": "Requests made to the public API",
    "aggregation_type": "count_agg",
    "recurring": False,
    "created_at": "2026-11-01T09:00:00Z",
}
INVOICE = {
    "lago_id": "5eb02857-a71e-4ea2-bcf9-57d3a41bc6ba",
    "sequential_id": 42,
    "number": "HOO-2026-0042",
    "issuing_date": "2026-11-27",
    "payment_due_date": "2026-12-27",
    "invoice_type": "subscription",
    "status": "finalized",
    "payment_status": "pending",
    "currency": "USD",
    "fees_amount_cents": 12000,
    "taxes_amount_cents": 2400,
    "total_amount_cents": 14400,
    "customer": {"external_id": "cus_5532", "name": "Gavin Belson"},
    "fees": [
        {
            "item": {"type": "subscription", "code": "startup", "name": "Startup plan"},
            "units": "1.0",
            "amount_cents": 10000,
        },
        {
            "item": {"type": "charge", "code": "api_calls", "name": "API calls"},
            "units": "20000.0",
            "amount_cents": 2000,
        },
    ],
    "file_url": None,
}
SUBSCRIPTION = {
    "lago_id": "b7ab2926-1de8-4428-9bcd-779314ac129b",
    "external_id": "sub_1287",
    "external_customer_id": "cus_5532",
    "plan_code": "startup",
    "status": "active",
    "billing_time": "anniversary",
    "started_at": "2026-11-01T00:00:00Z",
    "trial_ended_at": None,
    "terminated_at": None,
}
WALLET = {
    "lago_id": "3b4b4a2a-1f4e-4c4b-8d4f-7f1b2c3d4e5f",
    "external_customer_id": "cus_5532",
    "name": "Prepaid credits",
    "status": "active",
    "currency": "USD",
    "rate_amount": "1.0",
    "credits_balance": "250.0",
    "balance_cents": 25000,
    "ongoing_balance_cents": 24000,
    "created_at": "2026-11-01T09:30:00Z",
}
WALLET_TRANSACTION = {
    "lago_id": "7d1c2b3a-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    "lago_wallet_id": WALLET["lago_id"],
    "status": "settled",
    "transaction_type": "inbound",
    "amount": "100.0",
    "credit_amount": "100.0",
    "created_at": "2026-11-27T05:00:00Z",
}
CREDIT_NOTE = {
    "lago_id": "c1e2d3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
    "number": "HOO-2026-0042-CN1",
    "lago_invoice_id": INVOICE["lago_id"],
    "invoice_number": INVOICE["number"],
    "credit_status": "available",
    "refund_status": "pending",
    "reason": "duplicated_charge",
    "currency": "USD",
    "total_amount_cents": 2000,
    "file_url": None,
}
FEE = {
    "lago_id": "f3e2d1c0-b9a8-4765-8432-10fedcba9876",
    "lago_invoice_id": None,
    "external_subscription_id": "sub_1287",
    "item": {"type": "charge", "code": "seats", "name": "Seats (paid in advance)"},
    "units": "5.0",
    "amount_cents": 5000,
    "amount_currency": "USD",
    "payment_status": "pending",
}
USAGE_ERRORS = {
    "invalid_code": ["txn_81", "txn_82"],
    "missing_aggregation_property": ["txn_90"],
    "missing_group_key": [],
}


def _with(base, **changes):
    return {**base, **changes}


SEED = [
    (
        "billable_metric.created",
        "billable_metric",
        "billable_metric",
        "Sent when a billable metric is created.",
        BILLABLE_METRIC,
    ),
    (
        "billable_metric.updated",
        "billable_metric",
        "billable_metric",
        "Sent when a billable metric is updated.",
        _with(BILLABLE_METRIC, name="API requests"),
    ),
    (
        "billable_metric.archived",
        "billable_metric",
        "billable_metric",
        "Sent when a billable metric is archived.",
        BILLABLE_METRIC,
    ),
    ("customer.created", "customer", "customer", "Sent when a customer is created.", CUSTOMER),
    (
        "customer.updated",
        "customer",
        "customer",
        "Sent when a customer is updated.",
        _with(CUSTOMER, email="finance@hooli.com"),
    ),
    (
        "customer.payment_provider_created",
        "customer",
        "customer",
        "Sent when the customer is created in the payment provider.",
        _with(
            CUSTOMER,
            billing_configuration={
                "payment_provider": "stripe",
                "provider_customer_id": "cus_Q2w3E4r5",
            },
        ),
    ),
    (
        "customer.payment_provider_error",
        "customer",
        "payment_provider_customer_error",
        "Sent when the customer could not be created in the payment provider.",
        {
            "lago_customer_id": CUSTOMER["lago_id"],
            "external_customer_id": "cus_5532",
            "payment_provider": "stripe",
            "provider_error": {"message": "Invalid email address", "error_code": "email_invalid"},
        },
    ),
    (
        "customer.checkout_url_generated",
        "customer",
        "payment_provider_customer_checkout_url",
        "Sent when a checkout URL is generated for the customer to add a payment method.",
        {
            "lago_customer_id": CUSTOMER["lago_id"],
            "external_customer_id": "cus_5532",
            "payment_provider": "stripe",
            "checkout_url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
        },
    ),
    (
        "subscription.started",
        "subscription",
        "subscription",
        "Sent when a subscription starts.",
        SUBSCRIPTION,
    ),
    (
        "subscription.terminated",
        "subscription",
        "subscription",
        "Sent when a subscription is terminated.",
        _with(SUBSCRIPTION, status="terminated", terminated_at="2026-11-27T00:00:00Z"),
    ),
    (
        "subscription.trial_ended",
        "subscription",
        "subscription",
        "Sent when the free trial of a subscription ends.",
        _with(SUBSCRIPTION, trial_ended_at="2026-11-15T00:00:00Z"),
    ),
    (
        "subscription.usage_threshold_reached",
        "subscription",
        "subscription",
        "Sent when the usage of a subscription reaches one of its progressive billing thresholds.",
        _with(
            SUBSCRIPTION,
            usage_threshold={
                "threshold_display_name": "Tier 1",
                "amount_cents": 10000,
                "recurring": False,
            },
        ),
    ),
    (
        "invoice.drafted",
        "invoice",
        "invoice",
        "Sent when a draft invoice is created (during its grace period).",
        _with(INVOICE, status="draft", number="HOO-2026-DRAFT-0042"),
    ),
    ("invoice.created", "invoice", "invoice", "Sent when an invoice is finalized.", INVOICE),
    (
        "invoice.one_off_created",
        "invoice",
        "invoice",
        "Sent when a one-off invoice is created.",
        _with(INVOICE, invoice_type="one_off"),
    ),
    (
        "invoice.generated",
        "invoice",
        "invoice",
        "Sent when the PDF file of an invoice is generated.",
        _with(INVOICE, file_url="https://billing.example.com/invoices/HOO-2026-0042.pdf"),
    ),
    (
        "invoice.payment_status_updated",
        "invoice",
        "invoice",
        "Sent when the payment status of an invoice changes.",
        _with(INVOICE, payment_status="succeeded"),
    ),
    (
        "invoice.payment_failure",
        "invoice",
        "payment_provider_invoice_payment_error",
        "Sent when the payment of an invoice fails at the payment provider.",
        {
            "lago_invoice_id": INVOICE["lago_id"],
            "lago_customer_id": CUSTOMER["lago_id"],
            "external_customer_id": "cus_5532",
            "payment_provider": "stripe",
            "provider_error": {"message": "Your card was declined.", "error_code": "card_declined"},
        },
    ),
    (
        "invoice.payment_overdue",
        "invoice",
        "invoice",
        "Sent when an invoice is past its payment due date and still unpaid.",
        _with(INVOICE, payment_overdue=True),
    ),
    (
        "invoice.voided",
        "invoice",
        "invoice",
        "Sent when an invoice is voided.",
        _with(INVOICE, status="voided"),
    ),
    ("wallet.created", "wallet", "wallet", "Sent when a wallet is created.", WALLET),
    (
        "wallet.updated",
        "wallet",
        "wallet",
        "Sent when a wallet is updated.",
        _with(WALLET, name="Prepaid credits (2027)"),
    ),
    (
        "wallet.terminated",
        "wallet",
        "wallet",
        "Sent when a wallet is terminated.",
        _with(WALLET, status="terminated"),
    ),
    (
        "wallet.depleted_ongoing_balance",
        "wallet",
        "wallet",
        "Sent when the ongoing balance of a wallet is zero or less.",
        _with(WALLET, ongoing_balance_cents=0, credits_ongoing_balance="0.0"),
    ),
    (
        "wallet_transaction.updated",
        "wallet",
        "wallet_transaction",
        "Sent when a wallet transaction is updated (for example, settled).",
        WALLET_TRANSACTION,
    ),
    (
        "wallet_transaction.payment_failure",
        "wallet",
        "payment_provider_wallet_transaction_payment_error",
        "Sent when the payment for a wallet top-up fails at the payment provider.",
        {
            "lago_wallet_transaction_id": WALLET_TRANSACTION["lago_id"],
            "lago_customer_id": CUSTOMER["lago_id"],
            "payment_provider": "stripe",
            "provider_error": {"message": "Insufficient funds", "error_code": "insufficient_funds"},
        },
    ),
    (
        "credit_note.created",
        "credit_note",
        "credit_note",
        "Sent when a credit note is issued.",
        CREDIT_NOTE,
    ),
    (
        "credit_note.generated",
        "credit_note",
        "credit_note",
        "Sent when the PDF file of a credit note is generated.",
        _with(
            CREDIT_NOTE, file_url="https://billing.example.com/credit_notes/HOO-2026-0042-CN1.pdf"
        ),
    ),
    (
        "credit_note.refund_failure",
        "credit_note",
        "credit_note_payment_provider_refund_error",
        "Sent when the refund of a credit note fails at the payment provider.",
        {
            "lago_credit_note_id": CREDIT_NOTE["lago_id"],
            "payment_provider": "stripe",
            "provider_error": {
                "message": "Charge already refunded",
                "error_code": "charge_already_refunded",
            },
        },
    ),
    ("fee.created", "fee", "fee", "Sent when a fee for a charge paid in advance is created.", FEE),
    (
        "events.errors",
        "events",
        "events_errors",
        "Sent when received usage events failed validation.",
        USAGE_ERRORS,
    ),
]


def seed(apps, schema_editor):
    EventType = apps.get_model("endpoints", "EventType")
    for name, group, object_type, description, example in SEED:
        EventType.objects.update_or_create(
            name=name,
            defaults={
                "group": group,
                "object_type": object_type,
                "description": description,
                "example": example,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("endpoints", "EventType").objects.filter(
        name__in=[row[0] for row in SEED]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("endpoints", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
