from rest_framework import serializers

from deliveries.models import Attempt, Delivery, Event
from flexhooks.api_fields import StrictSerializer


class EmitInputSerializer(StrictSerializer):
    event_type = serializers.CharField(max_length=100, help_text="e.g. invoice.created")
    object = serializers.JSONField(help_text="The event object: a JSON object.")
    idempotency_key = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=False,
        help_text="The same key again returns the first event and creates nothing.",
    )


class EmitResultSerializer(serializers.Serializer):
    id = serializers.CharField(source="event.id", help_text="The event id (webhook-id).")
    deliveries = serializers.IntegerField(help_text="Deliveries created for it.")
    created = serializers.BooleanField(
        help_text="False when an earlier event with the same idempotency key was returned."
    )


DELIVERY_HELP = {
    "id": {"help_text": "The delivery's id."},
    "event_id": {"help_text": "The event delivered (its id is the webhook-id header)."},
    "endpoint_id": {"help_text": "The endpoint it goes to."},
    "status": {"help_text": "pending, sending, succeeded or failed."},
    "attempt_count": {"help_text": "Attempts made so far."},
    "next_attempt_at": {"help_text": "When the next attempt is due (pending only)."},
    "last_status_code": {"help_text": "HTTP status of the last attempt, if it got one."},
    "last_error_class": {"help_text": "timeout, connection_refused, dns, tls, http, …"},
    "last_error": {"help_text": "What went wrong last, in words."},
    "created_at": {"help_text": "When the delivery was created (with its event)."},
    "updated_at": {"help_text": "When the delivery last changed."},
}


class DeliveryStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "endpoint_id", "status", "attempt_count", "last_status_code"]
        extra_kwargs = DELIVERY_HELP


class EventSerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event_type.name", help_text="Its type's name.")
    object = serializers.JSONField(source="data_object", help_text="The event object.")
    deliveries = DeliveryStatusSerializer(
        many=True, read_only=True, help_text="One per endpoint it was sent to."
    )

    class Meta:
        model = Event
        fields = ["id", "event_type", "created_at", "idempotency_key", "object", "deliveries"]
        extra_kwargs = {
            "id": {"help_text": "The event id (evt_…), sent as the webhook-id header."},
            "created_at": {"help_text": "When it was emitted."},
            "idempotency_key": {"help_text": "The key it was emitted with, if any."},
        }


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(
        source="event.event_type.name", help_text="The event's type."
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
        extra_kwargs = DELIVERY_HELP


class AttemptSerializer(serializers.ModelSerializer):
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
        extra_kwargs = {
            "number": {"help_text": "1 for the first attempt, and so on."},
            "trigger": {"help_text": "scheduled, or manual (a retry by hand)."},
            "started_at": {"help_text": "When the request started."},
            "duration_ms": {"help_text": "How long it took, in milliseconds."},
            "request_headers": {"help_text": "The headers sent (signature, never a secret)."},
            "response_status": {"help_text": "The HTTP status answered, if any."},
            "response_headers": {"help_text": "The response's headers."},
            "response_body": {"help_text": "The response body, truncated to 4 KiB."},
            "error_class": {"help_text": "timeout, connection_refused, dns, tls, …"},
            "error_message": {"help_text": "The error in words."},
        }


class DeliveryDetailSerializer(DeliverySerializer):
    attempts = AttemptSerializer(many=True, read_only=True, help_text="Every attempt, in order.")

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempts"]


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Delivery.Status.choices, required=False, help_text="Only this status."
    )
    endpoint = serializers.IntegerField(
        required=False, min_value=1, help_text="Only this endpoint's."
    )
    event_type = serializers.CharField(
        required=False, max_length=100, help_text="Only events of this type."
    )
    event_id = serializers.CharField(required=False, max_length=40, help_text="Only this event's.")
    created_since = serializers.DateTimeField(required=False, help_text="Created at or after.")
    created_until = serializers.DateTimeField(required=False, help_text="Created before.")
