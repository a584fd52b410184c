"""Emit: validate an event, store it with its deliveries, wake the workers."""

import functools
import json
from dataclasses import dataclass
from datetime import datetime

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from deliveries import compiled, lifecycle, payloads, wakeups
from deliveries.models import Event, new_event_id
from endpoints.models import Endpoint, EventType


class PayloadTooLargeError(Exception):
    """The rendered event is larger than FLEXHOOKS_MAX_PAYLOAD_BYTES."""


@dataclass(frozen=True)
class EmitResult:
    event: Event
    deliveries: int
    created: bool


def render_envelope(*, event_id: str, event_type: EventType, created_at: datetime, data) -> str:
    """The request body, rendered once per event and sent byte for byte on every attempt."""
    envelope = {
        "id": event_id,
        "webhook_type": event_type.name,
        "object_type": event_type.object_type,
        "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"object": data},
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


@functools.cache
def _event_type_statement() -> compiled.Statement:
    return compiled.select(
        EventType.objects.filter(name=compiled.Param("name", EventType._meta.get_field("name")))
        .order_by()
        .values_list(*_EVENT_TYPE_FIELDS)
    )


_EVENT_TYPE_FIELDS = ("id", "name", "object_type", "schema", "archived")


def _event_type(name: str) -> EventType:
    """The catalogue row, read fresh on every emit (an archived type is refused at once);
    compiled once, like the hot path's statements."""
    with connection.cursor() as cursor:
        _event_type_statement().run(cursor, {"name": name})
        row = cursor.fetchone()
    event_type = None
    if row is not None:
        event_type = EventType(**dict(zip(_EVENT_TYPE_FIELDS, row, strict=True)))
        if isinstance(event_type.schema, str):
            event_type.schema = json.loads(event_type.schema)
    if event_type is None:
        raise ValidationError({"event_type": f"unknown event type {name!r}"})
    if event_type.archived:
        raise ValidationError({"event_type": f"event type {name!r} is archived"})
    return event_type


def _validate_object(event_type: EventType, data) -> None:
    if not isinstance(data, dict):
        raise ValidationError({"object": "must be a JSON object"})
    problem = payloads.problem(data)  # before anything recurses into it
    if problem:
        raise ValidationError({"object": problem})
    if event_type.schema:
        try:
            jsonschema.validate(data, event_type.schema)
        except jsonschema.ValidationError as exc:
            path = "/".join(str(part) for part in exc.absolute_path) or "(root)"
            raise ValidationError({"object": f"{path}: {exc.message}"}) from exc


def _existing_emit(account: Account, idempotency_key: str) -> EmitResult | None:
    event = Event.objects.filter(account=account, idempotency_key=idempotency_key).first()
    if event is None:
        return None
    return EmitResult(event=event, deliveries=event.deliveries.count(), created=False)


def event_emit(
    *,
    account: Account,
    event_type: str,
    data,
    idempotency_key: str | None = None,
    endpoint: Endpoint | None = None,
) -> EmitResult:
    """Record an event and one delivery per subscribed endpoint; wake the workers after commit.

    With an idempotency key the account already used, return that event and create nothing.
    With `endpoint`, deliver to that endpoint only, whatever it subscribes to (test events).
    Raises ValidationError for a bad type or object, PayloadTooLargeError over the cap.
    """
    if idempotency_key:
        existing = _existing_emit(account, idempotency_key)
        if existing:
            return existing
    etype = _event_type(event_type)
    _validate_object(etype, data)
    now = timezone.now()
    event_id = new_event_id()
    body = render_envelope(event_id=event_id, event_type=etype, created_at=now, data=data)
    if len(body.encode()) > settings.FLEXHOOKS_MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"the event is larger than {settings.FLEXHOOKS_MAX_PAYLOAD_BYTES} bytes"
        )
    event = Event(
        id=event_id,
        account=account,
        event_type=etype,
        body=body,
        idempotency_key=idempotency_key or None,
        created_at=now,
    )
    delivery_ids = lifecycle.create(
        event=event, only_endpoint_id=endpoint.pk if endpoint is not None else None
    )
    if delivery_ids is None:  # another request with the same idempotency key won the race
        return _existing_emit(account, idempotency_key)
    wakeups.wake_on_commit(delivery_ids)
    return EmitResult(event=event, deliveries=len(delivery_ids), created=True)
