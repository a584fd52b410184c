from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from deliveries.signing import generate_secret
from endpoints import crypto
from endpoints.models import Endpoint, EndpointSecret, EventType

_UNSET = object()


def event_types_by_name(*, names: Iterable[str], field: str = "event_types") -> list[EventType]:
    """The catalogue rows for names; unknown or archived names are a ValidationError."""
    names = list(dict.fromkeys(names))
    found = {et.name: et for et in EventType.objects.filter(name__in=names)}
    unknown = [name for name in names if name not in found]
    if unknown:
        raise ValidationError({field: f"unknown event type(s): {', '.join(unknown)}"})
    archived = [name for name in names if found[name].archived]
    if archived:
        raise ValidationError({field: f"archived event type(s): {', '.join(archived)}"})
    return [found[name] for name in names]


def _store_new_secret(endpoint: Endpoint) -> str:
    secret = generate_secret()
    EndpointSecret.objects.create(endpoint=endpoint, ciphertext=crypto.encrypt(secret))
    return secret


@transaction.atomic
def endpoint_create(
    *,
    account: Account,
    url: str,
    description: str = "",
    event_types: Iterable[str] = (),
    headers: dict | None = None,
    enabled: bool = True,
) -> tuple[Endpoint, str]:
    """Create an endpoint with a fresh signing secret; return both (the secret in clear)."""
    types = event_types_by_name(names=event_types)
    endpoint = Endpoint(
        account=account, url=url, description=description, headers=headers or {}, enabled=enabled
    )
    endpoint.full_clean()
    endpoint.save()
    endpoint.event_types.set(types)
    return endpoint, _store_new_secret(endpoint)


@transaction.atomic
def endpoint_update(
    *,
    endpoint: Endpoint,
    url: str = _UNSET,
    description: str = _UNSET,
    event_types: Iterable[str] = _UNSET,
    headers: dict = _UNSET,
    enabled: bool = _UNSET,
) -> Endpoint:
    """Change the given fields of an endpoint; fields left out keep their value."""
    for name, value in (("url", url), ("description", description), ("headers", headers)):
        if value is not _UNSET:
            setattr(endpoint, name, value)
    types = None if event_types is _UNSET else event_types_by_name(names=event_types)
    endpoint.full_clean()
    endpoint.save()
    if types is not None:
        endpoint.event_types.set(types)
    if enabled is not _UNSET and enabled != endpoint.enabled:
        if enabled:
            endpoint_enable(endpoint=endpoint)
        else:
            endpoint_disable(endpoint=endpoint, reason="disabled by the account")
    return endpoint


def endpoint_disable(*, endpoint: Endpoint, reason: str) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500]
    endpoint.disabled_at = timezone.now()
    endpoint.save(update_fields=["enabled", "disabled_reason", "disabled_at", "updated_at"])


def endpoint_disable_if_failing_since(*, endpoint_id: int, since) -> Endpoint | None:
    """Disable the endpoint if its current failure streak began before `since` (and no
    success came after); return it when this call disabled it."""
    now = timezone.now()
    reason = f"failing without a success since {since:%Y-%m-%d %H:%M} UTC"
    disabled = Endpoint.objects.filter(
        pk=endpoint_id, enabled=True, first_failure_at__lt=since
    ).update(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
    return Endpoint.objects.get(pk=endpoint_id) if disabled else None


def endpoint_enable(*, endpoint: Endpoint) -> None:
    """Enable the endpoint with a clean health record (its old streak is history)."""
    endpoint.enabled = True
    endpoint.disabled_reason = ""
    endpoint.disabled_at = None
    endpoint.failure_streak = 0
    endpoint.first_failure_at = None
    endpoint.slow_until = None
    endpoint.save(
        update_fields=[
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failure_streak",
            "first_failure_at",
            "slow_until",
            "updated_at",
        ]
    )


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: Endpoint, grace_seconds: int | None = None) -> str:
    """Start signing with a new secret at once; the old one keeps signing for the grace period."""
    grace = settings.FLEXHOOKS_SECRET_GRACE_SECONDS if grace_seconds is None else grace_seconds
    now = timezone.now()
    endpoint.secrets.filter(expires_at__lte=now).delete()
    endpoint.secrets.filter(expires_at__isnull=True).update(
        expires_at=now + timedelta(seconds=grace)
    )
    return _store_new_secret(endpoint)


def endpoint_current_secret(*, endpoint: Endpoint) -> str:
    return endpoint.secrets.get(expires_at__isnull=True).secret


def endpoint_secret_expiries(*, endpoint: Endpoint) -> list[datetime]:
    """When the previous secrets still signing stop signing."""
    return list(
        endpoint.secrets.filter(expires_at__gt=timezone.now()).values_list("expires_at", flat=True)
    )
