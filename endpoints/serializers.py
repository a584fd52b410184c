from rest_framework import serializers

from endpoints.models import Endpoint, EventType
from flexhooks.api_fields import StrictSerializer


class EventTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventType
        fields = ["name", "group", "object_type", "description", "schema", "example", "archived"]
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
        extra_kwargs = {
            "id": {"help_text": "The endpoint's id."},
            "url": {"help_text": "Where the signed POSTs go."},
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
    secret = serializers.CharField(help_text="The signing secret, shown only in this response.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EndpointInputSerializer(StrictSerializer):
    url = serializers.CharField(max_length=2048, help_text="http(s) URL receiving the POSTs.")
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Free text for people."
    )
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=500,
        help_text="Event type names to subscribe to; empty or absent means all.",
    )
    headers = serializers.DictField(
        child=serializers.CharField(max_length=4096, allow_blank=True),
        required=False,
        help_text="Custom headers sent with every request (may not replace ours).",
    )
    enabled = serializers.BooleanField(
        required=False, help_text="false disables the endpoint; true enables it again."
    )


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The current signing secret (whsec_…).")
    previous_secret_expires_at = serializers.ListField(
        child=serializers.DateTimeField(),
        help_text="When previous secrets, still signing after a rotation, stop signing.",
    )


class RotateSecretInputSerializer(StrictSerializer):
    grace_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=30 * 24 * 3600,
        help_text="How long the old secret keeps signing (default 24 h).",
    )


class SendTestInputSerializer(StrictSerializer):
    event_type = serializers.CharField(
        max_length=100, help_text="The type whose example object is sent."
    )


class RecoverInputSerializer(StrictSerializer):
    since = serializers.DateTimeField(help_text="Failed deliveries created at or after this.")
    until = serializers.DateTimeField(required=False, help_text="… and before this.")

    def validate(self, attrs):
        if "until" in attrs and attrs["until"] <= attrs["since"]:
            raise serializers.ValidationError({"until": "must be after since"})
        return attrs


class CountSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="How many deliveries were queued.")
    skipped = serializers.DictField(
        child=serializers.IntegerField(), help_text="Deliveries not queued, by reason."
    )
