import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import API_KEY_PREFIX, Account, ApiKey, hash_api_key


def api_key_create(*, account: Account, name: str = "") -> tuple[ApiKey, str]:
    """Create a key and return it with the raw key, which is never stored and shown once."""
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        account=account, name=name, prefix=raw_key[:10], key_hash=hash_api_key(raw_key)
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """Return the active key matching raw_key (and touch last_used_at), or None."""
    api_key = (
        ApiKey.objects.select_related("account")
        .filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    # One write a minute per key is enough to answer "is this key still used?".
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


@transaction.atomic
def account_create(*, name: str) -> tuple[Account, str]:
    """Create an account with its first API key; return both (the raw key shown once)."""
    account = Account.objects.create(name=name)
    _, raw_key = api_key_create(account=account, name="default")
    return account, raw_key
