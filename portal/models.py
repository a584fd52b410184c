"""Portal links (single-use, short-lived) and the portal sessions they open. Only hashes
of their tokens are stored."""

import hashlib

from django.db import models

from accounts.models import Account


def hash_token(raw: str) -> str:
    """Tokens carry 256 random bits: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(raw.encode()).hexdigest()


class PortalLink(models.Model):
    """What `POST /api/v1/portal-sessions` mints: opened once, before it expires."""

    token_hash = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(Account, models.CASCADE, related_name="portal_links")
    read_only = models.BooleanField(default=False)
    brand = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"portal link {self.pk} of {self.account}"


class PortalSession(models.Model):
    """A browser's portal session, bound to one account; its cookie holds the token."""

    token_hash = models.CharField(max_length=64, unique=True)
    # The forms' anti-forgery token: tied to this session, not to Django's CSRF cookie,
    # so that it works inside the platform's iframe as in a tab.
    form_token = models.CharField(max_length=64)
    account = models.ForeignKey(Account, models.CASCADE, related_name="portal_sessions")
    link = models.OneToOneField(PortalLink, models.CASCADE, related_name="session")
    read_only = models.BooleanField(default=False)
    brand = models.JSONField(default=dict, blank=True)
    # Confirmations shown on the next page ([level, text] pairs): kept with the session,
    # not in Django's Lax messages cookie, so they show inside an iframe too.
    notices = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"portal session {self.pk} of {self.account}"
