"""The authenticator app a user enrolled (TOTP, RFC 6238), its key encrypted at rest."""

from __future__ import annotations

import secrets
import time
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from vpcepadmin.credentials import crypto

# What every authenticator app understands without asking: SHA-1, six digits, 30-second steps.
STEP_SECONDS = 30
DIGITS = 6
# One step either side of ours is accepted: a phone's clock, and the seconds it takes to type.
TOLERANCE_STEPS = 1
KEY_BYTES = 20  # 160 bits, the key size RFC 4226 recommends for HMAC-SHA-1


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):  # type: ignore[misc]
    """A TOTP authenticator app of one user.

    Guarantees: the key exists only as a Fernet token under ``VPCEPADMIN_FERNET_KEYS`` (unlike
    django-otp's ``TOTPDevice``, which keeps it as hex), and leaves the server only in the
    enrolment page of a device that is not yet confirmed; a code is accepted at most once and only
    for a later time step than the last accepted one (a code seen over a shoulder cannot be replayed);
    failed codes slow further attempts down exponentially (1, 2, 4, … seconds); a key no configured
    Fernet key can read verifies nothing.
    """

    # Annotated by hand: django-otp has no types, so the model plugin does not see this as a model.
    key_encrypted: models.TextField[str, str] = models.TextField(editable=False)
    last_t: models.BigIntegerField[int, int] = models.BigIntegerField(default=-1, editable=False)

    class Meta(Device.Meta):  # type: ignore[misc]
        verbose_name = "authenticator app"

    @classmethod
    def new(cls, user: object, name: str = "Authenticator app") -> AuthenticatorDevice:
        """An unsaved, unconfirmed device with a fresh random key."""
        device = cls(user=user, name=name, confirmed=False)
        device.set_key(secrets.token_bytes(KEY_BYTES))
        return device

    def set_key(self, key: bytes) -> None:
        self.key_encrypted = crypto.encrypt(key.hex())

    def key(self) -> bytes:
        """The key. Raises ``crypto.SecretUnreadable``; only enrolment and verification call it."""
        return bytes.fromhex(crypto.decrypt(self.key_encrypted))

    def secret_for_manual_entry(self) -> str:
        """The key in base32, as authenticator apps ask for it when typed in."""
        return b32encode(self.key()).decode("ascii").rstrip("=")

    def config_url(self) -> str:
        """The ``otpauth://`` URI that the enrolment QR code carries."""
        issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "vpcepadmin")).replace(":", "")
        label = f"{issuer}:{self.user.get_username()}"
        query = urlencode(
            {
                "secret": self.secret_for_manual_entry(),
                "algorithm": "SHA1",
                "digits": DIGITS,
                "period": STEP_SECONDS,
            }
        )
        return f"otpauth://totp/{quote(label)}?{query}&issuer={quote(issuer)}"

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1))

    def verify_token(self, token: str) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        step = self._matching_step(token)
        if step is None:
            self.throttle_increment(commit=True)
            return False
        self.last_t = step
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True

    def _matching_step(self, token: str) -> int | None:
        """The time step whose code ``token`` is, if it is a code this device still accepts."""
        if len(token) != DIGITS or not token.isdigit():
            return None
        try:
            key = self.key()
        except crypto.SecretUnreadable:
            return None
        totp = TOTP(key, step=STEP_SECONDS, digits=DIGITS)
        totp.time = time.time()
        # NOTE: no drift tracking (django-otp's OTP_TOTP_SYNC): the window stays centred on our clock.
        if totp.verify(int(token), tolerance=TOLERANCE_STEPS, min_t=self.last_t + 1):
            return int(totp.t())  # the step that matched (t() counts the offset found)
        return None
