"""The API's input and output serializers."""

from rest_framework import serializers

from api.common import (
    IriField,
    JsonObjectField,
    OptionalChoiceField,
    QueryFilterSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictSerializer,
)
from deliveries.models import Attempt, Delivery, Event
from endpoints.models import Endpoint, EventType
from outbound.errors import ErrorClass

MAX_ID = 10**18 - 1  # ids are bigints; the path pattern takes 18 digits


class EventTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventType
        fields = ["name", "group", "object_type", "description", "schema", "example", "archived"]
        read_only_fields = fields
        extra_kwargs = {
            "name": {"help_text": "The event type's name, e.g. invoice.created (webhook_type)."},
            "group": {"help_text": "The catalogue group, e.g. invoice."},
            "object_type": {"help_text": "The envelope's object_type for this event type."},
            "description": {"help_text": "When this event is sent."},
            "schema": {"help_text": "JSON Schema the event object must match, if any."},
            "example": {"help_text": "An example object, sent by endpoints/{id}/test."},
            "archived": {"help_text": "Archived types can no longer be emitted or subscribed."},
        }


class EndpointSerializer(serializers.ModelSerializer):
    """A webhook endpoint of the account."""

    url = IriField(read_only=True, help_text="Where the signed POSTs go, as given (IRIs too).")
    event_types = serializers.SerializerMethodField(
        help_text="Names of the event types sent to this endpoint; empty means all."
    )

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "headers",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "The endpoint's id."},
            "description": {"help_text": "Free text for people."},
            "enabled": {"help_text": "Disabled endpoints get no new deliveries."},
            "disabled_reason": {"help_text": "Why it was disabled (410, failing, by hand)."},
            "disabled_at": {"help_text": "When it was disabled."},
            "headers": {"help_text": "Custom headers sent with every request."},
            "created_at": {"help_text": "When the endpoint was created."},
            "updated_at": {"help_text": "When the endpoint last changed."},
        }

    def get_event_types(self, obj) -> list[str]:
        return sorted(et.name for et in obj.event_types.all())


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret, shown only in this response."
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class EndpointInputSerializer(StrictSerializer):
    """An endpoint to create, or the fields to change (PATCH)."""

    url = IriField(
        max_length=2048,
        help_text="The http(s) URL receiving the POSTs. Non-ASCII hosts and paths (IRIs) are"
        " accepted and sent in their ASCII form (IDNA host, percent-encoded path).",
    )
    description = StrictCharField(
        max_length=500, required=False, allow_blank=True, help_text="Free text for people."
    )
    event_types = serializers.ListField(
        child=StrictCharField(max_length=100),
        required=False,
        max_length=500,
        help_text="Event type names to subscribe to; empty or absent means all.",
    )
    headers = serializers.DictField(
        child=StrictCharField(max_length=4096, allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="Custom headers sent with every request: at most 50 names and 8 KiB in"
        " all; not flexhooks' own headers (content-type, user-agent, webhook-*) nor"
        " hop-by-hop or framing ones (connection, host, te, upgrade, expect, …).",
    )
    enabled = StrictBooleanField(
        required=False, help_text="false disables the endpoint; true enables it again."
    )


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(
        read_only=True, help_text="The current signing secret (whsec_…)."
    )
    previous_secret_expires_at = serializers.ListField(
        read_only=True,
        child=serializers.DateTimeField(),
        help_text="When previous secrets, still signing after a rotation, stop signing.",
    )


class RotateSecretInputSerializer(StrictSerializer):
    """A secret rotation."""

    grace_seconds = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=30 * 24 * 3600,
        help_text="How long the old secret keeps signing (default 24 h).",
    )


class SendTestInputSerializer(StrictSerializer):
    """A test event: the catalogue's example object of one type."""

    event_type = StrictCharField(max_length=100, help_text="The type whose example object is sent.")


class RecoverInputSerializer(StrictSerializer):
    """Which failed deliveries to queue again."""

    since = serializers.DateTimeField(help_text="Failed deliveries created at or after this.")
    until = serializers.DateTimeField(required=False, help_text="… and before this.")

    def validate(self, attrs):
        if "until" in attrs and attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": "must be after since"})
        return attrs


class CountSerializer(serializers.Serializer):
    queued = serializers.IntegerField(read_only=True, help_text="How many deliveries were queued.")
    skipped = serializers.DictField(
        read_only=True,
        child=serializers.IntegerField(),
        help_text="Deliveries not queued, by reason.",
    )


class EmitInputSerializer(StrictSerializer):
    """An event to emit to every subscribed endpoint."""

    event_type = StrictCharField(max_length=100, help_text="e.g. invoice.created")
    object = JsonObjectField(help_text="The event object: a JSON object.")
    idempotency_key = StrictCharField(
        max_length=255,
        required=False,
        allow_blank=False,
        help_text="The same key again returns the first event and creates nothing.",
    )


class EmitResultSerializer(serializers.Serializer):
    id = serializers.CharField(
        source="event.id", read_only=True, help_text="The event id (webhook-id)."
    )
    deliveries = serializers.IntegerField(read_only=True, help_text="Deliveries created for it.")
    created = serializers.BooleanField(
        read_only=True,
        help_text="False when an earlier event with the same idempotency key was returned.",
    )


DELIVERY_HELP = {
    "id": {"help_text": "The delivery's id."},
    "event_id": {"help_text": "The event delivered (its id is the webhook-id header)."},
    "endpoint_id": {"help_text": "The endpoint it goes to."},
    "status": {"help_text": "pending, sending, succeeded, failed or cancelled."},
    "attempt_count": {"help_text": "Attempts made so far."},
    "next_attempt_at": {"help_text": "When the next attempt is due (pending only)."},
    "last_status_code": {"help_text": "HTTP status of the last attempt, if it got one."},
    "last_error": {"help_text": "What went wrong last, in words."},
    "created_at": {"help_text": "When the delivery was created (with its event)."},
    "updated_at": {"help_text": "When the delivery last changed."},
}


class DeliveryStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "endpoint_id", "status", "attempt_count", "last_status_code"]
        read_only_fields = fields
        extra_kwargs = DELIVERY_HELP


class EventSerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(
        source="event_type.name", read_only=True, help_text="Its type's name."
    )
    object = serializers.JSONField(
        source="data_object", read_only=True, help_text="The event object."
    )
    deliveries = DeliveryStatusSerializer(
        many=True, read_only=True, help_text="One per endpoint it was sent to."
    )

    class Meta:
        model = Event
        fields = ["id", "event_type", "created_at", "idempotency_key", "object", "deliveries"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "The event id (evt_…), sent as the webhook-id header."},
            "created_at": {"help_text": "When it was emitted."},
            "idempotency_key": {"help_text": "The key it was emitted with, if any."},
        }


class DeliverySerializer(serializers.ModelSerializer):
    last_error_class = OptionalChoiceField(
        choices=ErrorClass.choices,
        help_text="What kind of failure the last attempt was (timeout, dns, http, …); null"
        " when it had none.",
    )
    event_type = serializers.CharField(
        source="event.event_type.name", read_only=True, help_text="The event's type."
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "endpoint_id",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error_class",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = DELIVERY_HELP


class AttemptSerializer(serializers.ModelSerializer):
    error_class = OptionalChoiceField(
        choices=ErrorClass.choices,
        help_text="What kind of failure it was (timeout, dns, http, …); null when none.",
    )

    class Meta:
        model = Attempt
        fields = [
            "number",
            "trigger",
            "started_at",
            "duration_ms",
            "request_headers",
            "response_status",
            "response_headers",
            "response_body",
            "error_class",
            "error_message",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "number": {"help_text": "1 for the first attempt, and so on."},
            "trigger": {"help_text": "scheduled, or manual (a retry by hand)."},
            "started_at": {"help_text": "When the request started."},
            "duration_ms": {"help_text": "How long it took, in milliseconds."},
            "request_headers": {"help_text": "The headers sent (signature, never a secret)."},
            "response_status": {"help_text": "The HTTP status answered, if any."},
            "response_headers": {"help_text": "The response's headers."},
            "response_body": {"help_text": "The response body, truncated to 4 KiB."},
            "error_message": {"help_text": "The error in words."},
        }


class DeliveryDetailSerializer(DeliverySerializer):
    attempts = AttemptSerializer(many=True, read_only=True, help_text="Every attempt, in order.")

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempts"]
        read_only_fields = fields


class DeliveryFilterSerializer(QueryFilterSerializer):
    LOOKUPS = {
        "status": "status",
        "endpoint": "endpoint_id",
        "event_type": "event__event_type__name",
        "event_id": "event_id",
        "created_since": "created_at__gte",
        "created_until": "created_at__lt",
    }

    status = serializers.ChoiceField(
        choices=Delivery.Status.choices, required=False, help_text="Only this status."
    )
    endpoint = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this endpoint's."
    )
    event_type = serializers.CharField(
        required=False, max_length=100, help_text="Only events of this type."
    )
    event_id = serializers.CharField(required=False, max_length=40, help_text="Only this event's.")
    created_since = serializers.DateTimeField(required=False, help_text="Created at or after.")
    created_until = serializers.DateTimeField(required=False, help_text="Created before.")


class EventFilterSerializer(QueryFilterSerializer):
    LOOKUPS = {
        "event_type": "event_type__name",
        "idempotency_key": "idempotency_key",
        "created_since": "created_at__gte",
        "created_until": "created_at__lt",
    }

    event_type = serializers.CharField(
        required=False, max_length=100, help_text="Only events of this type."
    )
    idempotency_key = serializers.CharField(
        required=False, max_length=255, help_text="Only the event emitted with this key."
    )
    created_since = serializers.DateTimeField(required=False, help_text="Emitted at or after.")
    created_until = serializers.DateTimeField(required=False, help_text="Emitted before.")


class BrandSerializer(StrictSerializer):
    """How the portal looks for this session: the platform's name, colour and logo."""

    name = StrictCharField(max_length=100, required=False, help_text="Shown in the header.")
    accent_color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}$", required=False, help_text="A colour like #1a73e8."
    )
    logo_url = serializers.URLField(
        max_length=2048, required=False, help_text="An https URL of the logo image."
    )


class PortalSessionInputSerializer(StrictSerializer):
    """A one-time link to the account's customer portal."""

    expires_in = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=24 * 3600,
        help_text="Seconds the link may wait to be opened (default 600).",
    )
    read_only = StrictBooleanField(
        required=False, default=False, help_text="true: the portal shows, changes nothing."
    )
    brand = BrandSerializer(required=False, help_text="Optional branding of the portal.")


class PortalSessionSerializer(serializers.Serializer):
    url = serializers.URLField(
        read_only=True, help_text="Open once, before expires_at: it starts a portal session."
    )
    expires_at = serializers.DateTimeField(
        read_only=True, help_text="When the link stops working if not opened."
    )
    read_only = serializers.BooleanField(read_only=True, help_text="A read-only session.")
