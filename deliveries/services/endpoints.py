"""Endpoint actions that reach into deliveries: disable, delete, send a test event."""

from django.db import transaction
from django.utils import timezone

from deliveries import lifecycle
from deliveries.models import Delivery
from deliveries.services.emit import EmitResult, event_emit
from endpoints.models import Endpoint
from endpoints.services import event_types_by_name


@transaction.atomic
def endpoint_disable(*, endpoint: Endpoint, reason: str, only_if_enabled: bool = False) -> bool:
    """Disable the endpoint and cancel its pending deliveries (never sent; recover can
    queue them again). With only_if_enabled, do nothing to an endpoint already disabled.
    Return whether this call disabled it."""
    now = timezone.now()
    endpoints = Endpoint.objects.filter(pk=endpoint.pk)
    if only_if_enabled:
        endpoints = endpoints.filter(enabled=True)
    if not endpoints.update(
        enabled=False, disabled_reason=reason[:500], disabled_at=now, updated_at=now
    ):
        return False
    endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:500], now
    lifecycle.cancel(
        deliveries=Delivery.objects.filter(endpoint=endpoint),
        reason=f"not sent: the endpoint was disabled ({reason})",
        now=now,
    )
    return True


@transaction.atomic
def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Disable the endpoint, cancel its pending deliveries and hide it; its deliveries and
    attempts stay readable until retention purges them (and the endpoint with them).

    A fixed number of statements, whatever the size of its history."""
    endpoint_disable(endpoint=endpoint, reason="deleted")
    now = timezone.now()
    Endpoint.objects.filter(pk=endpoint.pk).update(deleted_at=now, updated_at=now)
    endpoint.deleted_at = now


def endpoint_send_test(*, endpoint: Endpoint, event_type: str) -> EmitResult:
    """Send the catalogue's example object of event_type to this endpoint only."""
    (etype,) = event_types_by_name(names=[event_type], field="event_type")
    return event_emit(
        account=endpoint.account,
        event_type=etype.name,
        data=etype.example or {},
        endpoint=endpoint,
    )
