"""Encryption of endpoint secrets at rest (Fernet; several keys allow key rotation)."""

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@functools.cache
def _fernet() -> MultiFernet:
    keys = settings.FLEXHOOKS_ENCRYPTION_KEYS or [_derived_development_key()]
    return MultiFernet([Fernet(key) for key in keys])


def _derived_development_key() -> bytes:
    digest = hashlib.sha256(b"flexhooks-secrets:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


@functools.lru_cache(maxsize=4096)
def decrypt(ciphertext: str) -> str:
    # Cached: the delivery path decrypts the same few secrets on every attempt.
    return _fernet().decrypt(ciphertext.encode()).decode()
