from django.db import models
from django.db.models import Exists, OuterRef, Q

from accounts.models import Account
from endpoints import crypto
from endpoints.validators import validate_endpoint_url, validate_headers


class EventType(models.Model):
    """One entry of the event catalogue; the only place event names are listed."""

    name = models.CharField(max_length=100, unique=True)
    group = models.CharField(max_length=50, db_index=True)
    object_type = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    schema = models.JSONField(
        null=True, blank=True, help_text="Optional JSON Schema the event object must match."
    )
    example = models.JSONField(null=True, blank=True, help_text="An example object.")
    archived = models.BooleanField(
        default=False, help_text="Archived types can no longer be emitted or subscribed to."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["group", "name"]

    def __str__(self) -> str:
        return self.name


class EndpointQuerySet(models.QuerySet):
    def visible(self) -> "EndpointQuerySet":
        """Endpoints not deleted: the ones lists show."""
        return self.filter(deleted_at__isnull=True)

    def subscribed(self, *, account_id, event_type_id) -> "EndpointQuerySet":
        """The endpoints an event of this type goes to: the account's enabled ones that
        subscribe to the type, or to every type (no subscription at all)."""
        subscriptions = Endpoint.event_types.through.objects.filter(endpoint_id=OuterRef("pk"))
        return self.filter(account_id=account_id, enabled=True, deleted_at__isnull=True).filter(
            Exists(subscriptions.filter(eventtype_id=event_type_id)) | ~Exists(subscriptions)
        )


class Endpoint(models.Model):
    account = models.ForeignKey(Account, models.CASCADE, related_name="endpoints")
    url = models.URLField(max_length=2048, validators=[validate_endpoint_url])
    description = models.CharField(max_length=500, blank=True)
    event_types = models.ManyToManyField(
        EventType, blank=True, related_name="endpoints", help_text="None selected means all."
    )
    enabled = models.BooleanField(default=True)
    # Deleted endpoints are disabled and hidden; their history stays until retention.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    headers = models.JSONField(
        default=dict, blank=True, validators=[validate_headers], help_text="Custom headers."
    )
    # Health: failed attempts in a row, since when, and the last success. An endpoint
    # failing for FLEXHOOKS_AUTO_DISABLE_AFTER is disabled; any success resets the streak.
    failure_streak = models.PositiveIntegerField(default=0, editable=False)
    first_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Until then the endpoint timed out recently and gets few attempts in flight at once.
    slow_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "enabled"])]

    def __str__(self) -> str:
        return self.url


def signing_at(now, *, path: str = "") -> Q:
    """The secrets that sign at `now`: the current one and those still in their grace
    (`path` reaches the secret from another model, e.g. "endpoint__secrets__")."""
    return Q(**{f"{path}expires_at__isnull": True}) | Q(**{f"{path}expires_at__gt": now})


class EndpointSecret(models.Model):
    """A signing secret, encrypted at rest. It signs while it has not expired."""

    endpoint = models.ForeignKey(Endpoint, models.CASCADE, related_name="secrets")
    ciphertext = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Exactly one current (non-expiring) secret per endpoint.
            models.UniqueConstraint(
                fields=["endpoint"], condition=Q(expires_at__isnull=True), name="one_current_secret"
            )
        ]

    def __str__(self) -> str:
        return f"secret of endpoint {self.endpoint_id} from {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.ciphertext)
