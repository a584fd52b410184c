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


class DeliveryStatusSerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "endpoint_id", "status", "attempt_count", "last_status_code"]


class EventSerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event_type.name")
    object = serializers.JSONField(source="data_object", help_text="The event object.")
    deliveries = DeliveryStatusSerializer(many=True, read_only=True)

    class Meta:
        model = Event
        fields = ["id", "event_type", "created_at", "idempotency_key", "object", "deliveries"]


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.event_type.name")

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


class DeliveryDetailSerializer(DeliverySerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempts"]


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Delivery.Status.choices, required=False)
    endpoint = serializers.IntegerField(required=False, min_value=1)
    event_type = serializers.CharField(required=False, max_length=100)
    event_id = serializers.CharField(required=False, max_length=40)
    created_since = serializers.DateTimeField(required=False)
    created_until = serializers.DateTimeField(required=False)
