"""Encryption of stored cloud secrets at rest (design.md §3, reliability.md §3.2).

``MultiFernet`` over ``settings.FERNET_KEYS`` (newest first), independent of ``SECRET_KEY``.
Decryption never falls back to the stored bytes: it raises ``SecretUnreadable``.
"""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored ciphertext cannot be decrypted with any configured key (wrong key set or tampering)."""


class NoEncryptionKey(Exception):
    """No Fernet key is configured, so a secret cannot be stored."""


def invalid_keys(keys: list[str]) -> list[int]:
    """1-based positions of entries that are not Fernet keys."""
    bad = []
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            bad.append(position)
    return bad


@functools.lru_cache(maxsize=4)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _fernet() -> MultiFernet:
    keys = tuple(settings.FERNET_KEYS)
    if not keys:
        raise NoEncryptionKey("VPCEPADMIN_FERNET_KEYS is not set")
    return _multifernet(keys)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, NoEncryptionKey) as exc:
        raise SecretUnreadable("the stored secret cannot be decrypted") from exc


def rotate(token: str) -> str:
    """Re-encrypt under the newest key (keeps the token's timestamp). Raises ``SecretUnreadable``."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, NoEncryptionKey) as exc:
        raise SecretUnreadable("the stored secret cannot be decrypted") from exc


def is_current(token: str) -> bool:
    """True when the newest key alone can decrypt ``token``."""
    keys = settings.FERNET_KEYS
    if not keys:
        return False
    try:
        Fernet(keys[0].encode()).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True
