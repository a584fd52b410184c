import hashlib

from django.db import models

API_KEY_PREFIX = "fh_"


def hash_api_key(raw_key: str) -> str:
    """API keys carry 256 random bits, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class Account(models.Model):
    """A tenant of the billing platform; everything else belongs to exactly one."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    account = models.ForeignKey(Account, models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    # The first characters of the key, kept so people can tell their keys apart.
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.account})"
