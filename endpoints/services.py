from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from endpoints import crypto
from endpoints.models import Endpoint, EndpointSecret, EventType
from outbound.signing import generate_secret

_UNSET = object()
# How long a rotated-out secret keeps signing beside the new one, unless the caller says.
SECRET_GRACE = timedelta(hours=24)


def event_types_by_name(*, names: Iterable[str], field: str = "event_types") -> list[EventType]:
    """The catalogue rows for names; unknown or archived names are a ValidationError."""
    names = list(dict.fromkeys(names))
    if any(not isinstance(name, str) or "\x00" in name for name in names):
        raise ValidationError({field: "event type names are text without NUL characters"})
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
    limit = settings.FLEXHOOKS_MAX_ENDPOINTS_PER_ACCOUNT
    Account.objects.select_for_update().filter(pk=account.pk).first()  # one create at a time
    if Endpoint.objects.visible().filter(account=account).count() >= limit:
        raise ValidationError(
            {"url": f"an account may have at most {limit} endpoints; delete one first"}
        )
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
) -> Endpoint:
    """Change the given fields of an endpoint; fields left out keep their value.
    (Enabling is endpoint_enable; disabling cancels deliveries: deliveries' endpoint_disable.)"""
    for name, value in (("url", url), ("description", description), ("headers", headers)):
        if value is not _UNSET:
            setattr(endpoint, name, value)
    types = None if event_types is _UNSET else event_types_by_name(names=event_types)
    endpoint.full_clean()
    endpoint.save()
    if types is not None:
        endpoint.event_types.set(types)
    return endpoint


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
    grace = SECRET_GRACE if grace_seconds is None else timedelta(seconds=grace_seconds)
    now = timezone.now()
    endpoint.secrets.filter(expires_at__lte=now).delete()
    endpoint.secrets.filter(expires_at__isnull=True).update(expires_at=now + grace)
    return _store_new_secret(endpoint)


def endpoint_current_secret(*, endpoint: Endpoint) -> str:
    return endpoint.secrets.get(expires_at__isnull=True).secret


def endpoint_secret_expiries(*, endpoint: Endpoint) -> list[datetime]:
    """When the previous secrets still signing stop signing."""
    return list(
        endpoint.secrets.filter(expires_at__gt=timezone.now()).values_list("expires_at", flat=True)
    )
