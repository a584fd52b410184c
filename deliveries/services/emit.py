"""Emit: validate an event, store it with its deliveries, wake the workers."""

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from deliveries import store, wakeups
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


# Event types by name, per process, for a few seconds: emitting is the hot path and the
# catalogue rarely changes. An archived type is still refused at once (the insert checks
# it); a new JSON Schema applies within FLEXHOOKS_EVENT_TYPE_CACHE_SECONDS.
_event_types: dict[str, tuple[EventType, float]] = {}


def _validated_event_type(name: str, *, cached: bool = True) -> EventType:
    hit = _event_types.get(name) if cached else None
    if hit is not None and time.monotonic() - hit[1] < settings.FLEXHOOKS_EVENT_TYPE_CACHE_SECONDS:
        return hit[0]
    try:
        event_type = EventType.objects.get(name=name)
    except EventType.DoesNotExist:
        _event_types.pop(name, None)
        raise ValidationError({"event_type": f"unknown event type {name!r}"}) from None
    if event_type.archived:
        _event_types.pop(name, None)
        raise ValidationError({"event_type": f"event type {name!r} is archived"})
    _event_types[name] = (event_type, time.monotonic())
    return event_type


def _validate_object(event_type: EventType, data) -> None:
    if not isinstance(data, dict):
        raise ValidationError({"object": "must be a JSON object"})
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
    etype = _validated_event_type(event_type)
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
    delivery_ids = store.insert_event(
        event=event, only_endpoint_id=endpoint.pk if endpoint is not None else None
    )
    if delivery_ids is None:
        # The type was archived since it was cached (this raises), or another request with
        # the same idempotency key won the race.
        _validated_event_type(event_type, cached=False)
        existing = idempotency_key and _existing_emit(account, idempotency_key)
        if not existing:
            raise ValidationError({"event_type": "the event type changed meanwhile; try again"})
        return existing
    dispatch_on_commit(delivery_ids)
    return EmitResult(event=event, deliveries=len(delivery_ids), created=True)


def dispatch_on_commit(delivery_ids: list[int]) -> None:
    """Publish the deliveries' wake-up messages once the current transaction commits.

    A large fan-out is handed to the workers instead: one message per chunk of ids, whose
    task publishes the chunk's wake-ups, so the caller does not wait for a thousand
    publishes (about 0.3 ms each). Losing such a message loses nothing either."""
    if not delivery_ids:
        return
    if len(delivery_ids) <= settings.FLEXHOOKS_DISPATCH_INLINE_MAX:
        transaction.on_commit(lambda: dispatch(delivery_ids))
        return
    from deliveries.tasks import publish_wakeups

    size = settings.FLEXHOOKS_DISPATCH_CHUNK
    chunks = [(delivery_ids[i : i + size],) for i in range(0, len(delivery_ids), size)]
    transaction.on_commit(lambda: wakeups.publish(publish_wakeups, chunks))


def dispatch(delivery_ids: Iterable[int]) -> None:
    """Publish one wake-up message per delivery."""
    from deliveries.tasks import deliver

    wakeups.publish(deliver, [(delivery_id,) for delivery_id in delivery_ids])


def endpoint_send_test(*, endpoint: Endpoint, event_type: str) -> EmitResult:
    """Send the catalogue's example object of event_type to this endpoint only."""
    etype = _validated_event_type(event_type)
    return event_emit(
        account=endpoint.account, event_type=etype.name, data=etype.example or {}, endpoint=endpoint
    )
