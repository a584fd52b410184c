"""The portal's forms: what people type, checked by the same services as the API."""

import json

from django import forms

from deliveries import payloads
from endpoints.models import EventType


def event_type_choices() -> list:
    """Active event types grouped by their catalogue group, for checkboxes."""
    groups: dict[str, list] = {}
    for event_type in EventType.objects.filter(archived=False).order_by("group", "name"):
        groups.setdefault(event_type.group, []).append(
            (event_type.name, f"{event_type.name} — {event_type.description}")
        )
    return list(groups.items())


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=2048,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks"}),
        help_text="Where the signed POST requests go (https recommended).",
    )
    description = forms.CharField(max_length=500, required=False)
    event_types = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event type, including ones added later.",
    )
    headers = forms.CharField(
        required=False,
        label="Custom headers",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"X-Team": "billing"}'}),
        help_text="A JSON object of header names and values sent with every request.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = event_type_choices()

    def event_type_groups(self) -> list[dict]:
        """The checkboxes by group, each group open when one of its types is ticked (or
        for the first group), so a subscription is never hidden in a closed group."""
        ticked = set(self["event_types"].value() or [])
        groups = []
        for index, (group, choices) in enumerate(self.fields["event_types"].choices):
            rows = [(value, label, value in ticked) for value, label in choices]
            opened = index == 0 or any(checked for _, _, checked in rows)
            groups.append({"name": group, "choices": rows, "open": opened})
        return groups

    def clean_headers(self) -> dict:
        text = self.cleaned_data["headers"].strip()
        if not text:
            return {}
        if payloads.text_depth(text) > payloads.MAX_DEPTH:
            raise forms.ValidationError("Write a flat object of names and text values.")
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(
                'Not JSON: write an object like {"X-Team": "billing"}.'
            ) from exc
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError("Write an object of names and text values.")
        if payloads.problem(value):
            raise forms.ValidationError(f"Not valid: {payloads.problem(value)}.")
        return value

    def add_service_errors(self, error) -> None:
        """A service's ValidationError, on the fields it names."""
        for field, messages in getattr(error, "message_dict", {"__all__": error.messages}).items():
            self.add_error(field if field in self.fields else None, messages)


class RecoverForm(forms.Form):
    since = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Every delivery to this endpoint that failed since then is sent again.",
    )


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "any status"),
            ("failed", "failed"),
            ("succeeded", "succeeded"),
            ("pending", "pending"),
            ("sending", "sending"),
            ("cancelled", "cancelled"),
        ],
    )
    endpoint = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    event_type = forms.ChoiceField(required=False)
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    q = forms.CharField(
        required=False,
        max_length=40,
        label="Event id",
        widget=forms.TextInput(attrs={"placeholder": "evt_…"}),
    )

    def __init__(self, *args, endpoints, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["endpoint"].choices = [("", "any endpoint")] + [
            (endpoint.pk, endpoint.url) for endpoint in endpoints
        ]
        self.fields["event_type"].choices = [("", "any event type")] + [
            (name, name)
            for name in EventType.objects.order_by("name").values_list("name", flat=True)
        ]
