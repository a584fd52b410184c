"""Minting portal links and exchanging them for sessions."""

import re
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from portal.models import PortalLink, PortalSession, hash_token

COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_LINK_SECONDS = 24 * 3600


def brand_clean(brand: dict | None) -> dict:
    """A session's optional branding: a name, an accent colour (#rrggbb) and an https
    logo URL; anything else is refused."""
    if not brand:
        return {}
    if not isinstance(brand, dict):
        raise ValidationError({"brand": "must be an object"})
    unknown = sorted(set(brand) - {"name", "accent_color", "logo_url"})
    if unknown:
        raise ValidationError({"brand": f"unknown field(s): {', '.join(unknown)}"})
    name = brand.get("name", "")
    colour = brand.get("accent_color", "")
    logo = brand.get("logo_url", "")
    if not isinstance(name, str) or len(name) > 100:
        raise ValidationError({"brand": "name must be text of at most 100 characters"})
    if colour and (not isinstance(colour, str) or not COLOUR.fullmatch(colour)):
        raise ValidationError({"brand": "accent_color must be a colour like #1a73e8"})
    if logo:
        parts = urlsplit(logo) if isinstance(logo, str) else None
        if parts is None or parts.scheme != "https" or not parts.hostname or len(logo) > 2048:
            raise ValidationError({"brand": "logo_url must be an https URL"})
    return {
        key: value
        for key, value in (("name", name), ("accent_color", colour), ("logo_url", logo))
        if value
    }


def portal_link_create(
    *,
    account: Account,
    expires_in: int | None = None,
    read_only: bool = False,
    brand: dict | None = None,
) -> tuple[PortalLink, str]:
    """A single-use link to the account's portal; return it and its raw token (shown
    once: only its hash is stored)."""
    seconds = settings.FLEXHOOKS_PORTAL_LINK_SECONDS if expires_in is None else expires_in
    if not 1 <= seconds <= MAX_LINK_SECONDS:
        raise ValidationError({"expires_in": f"must be from 1 to {MAX_LINK_SECONDS} seconds"})
    raw = secrets.token_urlsafe(32)
    link = PortalLink.objects.create(
        token_hash=hash_token(raw),
        account=account,
        read_only=read_only,
        brand=brand_clean(brand),
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )
    return link, raw


@transaction.atomic
def portal_link_open(*, raw_token: str) -> tuple[PortalSession, str] | None:
    """Exchange an unused, unexpired link for a new session; None for any other link
    (used, expired, unknown: the caller cannot tell which, nor can a guesser)."""
    now = timezone.now()
    link = (
        PortalLink.objects.select_for_update()
        .filter(token_hash=hash_token(raw_token), used_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if link is None:
        return None
    link.used_at = now
    link.save(update_fields=["used_at"])
    raw = secrets.token_urlsafe(32)
    session = PortalSession.objects.create(
        token_hash=hash_token(raw),
        form_token=secrets.token_urlsafe(32),
        account_id=link.account_id,
        link=link,
        read_only=link.read_only,
        brand=link.brand,
        expires_at=now + timedelta(seconds=settings.FLEXHOOKS_PORTAL_SESSION_SECONDS),
    )
    return session, raw


def portal_session_find(*, raw_token: str | None) -> PortalSession | None:
    """The live session of a cookie's token, with its account."""
    if not raw_token:
        return None
    return (
        PortalSession.objects.select_related("account")
        .filter(token_hash=hash_token(raw_token), expires_at__gt=timezone.now())
        .first()
    )


def portal_sessions_purge(*, now=None) -> int:
    """Delete expired sessions and links (the sweeper calls this)."""
    now = now or timezone.now()
    sessions, _ = PortalSession.objects.filter(expires_at__lte=now).delete()
    links, _ = PortalLink.objects.filter(
        expires_at__lte=now - timedelta(days=1), session__isnull=True
    ).delete()
    return sessions + links
