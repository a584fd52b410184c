import json

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from deliveries.ids import new_id
from endpoints.models import Endpoint, EventType
from outbound.errors import ErrorClass


def new_event_id() -> str:
    return new_id("evt")


class Event(models.Model):
    """One emitted event. `body` is the envelope rendered once, sent byte for byte."""

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    # Indexed by event_account_newest (account, -id); no index of its own.
    account = models.ForeignKey(Account, models.CASCADE, related_name="events", db_index=False)
    event_type = models.ForeignKey(EventType, models.PROTECT, related_name="events")
    body = models.TextField(editable=False)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL: no key, outside the unique constraint
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_idempotency_key_per_account",
            )
        ]
        indexes = [models.Index(fields=["account", "-id"], name="event_account_newest")]

    def __str__(self) -> str:
        return self.id

    @property
    def envelope(self) -> dict:
        return json.loads(self.body)

    @property
    def data_object(self) -> dict:
        return self.envelope["data"]["object"]


class Delivery(models.Model):
    """One event to one endpoint; PostgreSQL holds its truth, the broker only wakes it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"  # never sent: its endpoint was disabled or deleted

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled"
        MANUAL = "manual"

    # Each foreign key is the first column of a composite index below, which serves its
    # lookups: a separate index would only cost every insert and every status change.
    event = models.ForeignKey(Event, models.CASCADE, related_name="deliveries", db_index=False)
    endpoint = models.ForeignKey(
        Endpoint, models.CASCADE, related_name="deliveries", db_index=False
    )
    # Copied from the event so tenant-scoped lists need no join.
    account = models.ForeignKey(Account, models.CASCADE, related_name="deliveries", db_index=False)
    # Database defaults: emit inserts deliveries with INSERT … SELECT, naming only the
    # columns that differ from one delivery to the next.
    status = models.CharField(max_length=16, choices=Status, db_default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(db_default=0)
    # Scheduled retries used since the delivery was created or last retried by hand.
    retry_step = models.PositiveSmallIntegerField(db_default=0)
    next_trigger = models.CharField(max_length=16, choices=Trigger, db_default=Trigger.SCHEDULED)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the last wake-up message becomes due at a worker; the sweeper publishes again
    # only if a due delivery's message is long overdue (lost, or the broker was flushed).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error_class = models.CharField(
        max_length=40, blank=True, choices=ErrorClass, db_default=""
    )
    last_error = models.CharField(max_length=500, blank=True, db_default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="delivery_pending_due",
            ),
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(status="sending"),
                name="delivery_sending_lease",
            ),
            # The in-flight counts of every claim (per endpoint, per account) and the pending
            # deliveries an endpoint's deletion cancels.
            models.Index(
                fields=["endpoint"], condition=Q(status="sending"), name="delivery_endpoint_sending"
            ),
            models.Index(
                fields=["account"], condition=Q(status="sending"), name="delivery_account_sending"
            ),
            models.Index(
                fields=["endpoint"], condition=Q(status="pending"), name="delivery_endpoint_pending"
            ),
            models.Index(fields=["account", "-id"], name="delivery_account_newest"),
            # Per-endpoint history and health: recent deliveries, counts over the last 24 h.
            models.Index(fields=["endpoint", "created_at"], name="delivery_endpoint_created"),
            models.Index(fields=["status", "-id"], name="delivery_status_newest"),
            models.Index(fields=["created_at"], name="delivery_created"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of {self.event_id}"


class Attempt(models.Model):
    """One HTTP try of a delivery, recorded whatever happened."""

    # Indexed by attempt_delivery_number (delivery, number).
    delivery = models.ForeignKey(Delivery, models.CASCADE, related_name="attempts", db_index=False)
    number = models.PositiveIntegerField()
    trigger = models.CharField(max_length=16, choices=Delivery.Trigger)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    request_headers = models.JSONField(default=dict)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    error_class = models.CharField(max_length=40, blank=True, choices=ErrorClass)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        indexes = [
            models.Index(fields=["delivery", "number"], name="attempt_delivery_number"),
            models.Index(fields=["started_at"], name="attempt_started"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class Notice(models.Model):
    """An operational notification: an endpoint disabled, deliveries given up on.

    Repeats of the same kind for the same endpoint within an hour are folded into one
    notice (`count`, `last_seen_at`), so a failing endpoint does not flood the overview.
    """

    class Kind(models.TextChoices):
        ENDPOINT_DISABLED = "endpoint_disabled"
        DELIVERY_FAILED = "delivery_failed"

    kind = models.CharField(max_length=32, choices=Kind)
    account = models.ForeignKey(Account, models.CASCADE, related_name="notices")
    endpoint = models.ForeignKey(Endpoint, models.CASCADE, related_name="notices")
    message = models.CharField(max_length=500)
    count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The operations webhook: when it took the notice, and when the sweeper sends it
    # again if it has not (a lost message, a webhook down for longer than the retries).
    posted_at = models.DateTimeField(null=True, blank=True)
    post_again_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["endpoint", "kind", "-last_seen_at"], name="notice_fold")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"
