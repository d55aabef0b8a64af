"""The second factor in tests: an authenticator app that computes TOTP codes, and verified sessions.

``code_for(device)`` is what the user's phone would show — the code of the current 30-second step,
or of the next one when the current one was used already (the server accepts one step either side,
and each step once), waiting for the clock when even that is used.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import hotp

from vpcepadmin.mfa import services
from vpcepadmin.mfa.models import DIGITS, STEP_SECONDS, AuthenticatorDevice


def code_at(key: bytes, step: int) -> str:
    return f"{hotp(key, step, digits=DIGITS):0{DIGITS}d}"


def next_step(last_used: int) -> int:
    """The earliest time step after ``last_used`` that the server accepts now (waiting if need be)."""
    while True:
        now = int(time.time()) // STEP_SECONDS
        step = max(now, last_used + 1)
        if step <= now + 1:
            return step
        time.sleep(STEP_SECONDS - time.time() % STEP_SECONDS + 0.05)


@dataclass
class Authenticator:
    """An authenticator app holding ``key``, for a server whose database the test cannot read."""

    key: bytes
    last_step: int = -1

    @classmethod
    def new(cls) -> Authenticator:
        return cls(secrets.token_bytes(20))

    def code(self) -> str:
        self.last_step = next_step(self.last_step)
        return code_at(self.key, self.last_step)


def give_authenticator(user: Any) -> AuthenticatorDevice:
    """``user``'s confirmed authenticator device, created (without an audit record) if missing."""
    device = services.authenticator_of(user)
    if device is None:
        device = AuthenticatorDevice.new(user)
        device.confirmed = True
        device.save()
    return device


def code_for(device: AuthenticatorDevice) -> str:
    """The code the device's app shows that the device accepts now."""
    device.refresh_from_db()
    return code_at(device.key(), next_step(device.last_t))


def verify_session(client: Client, user: Any, checked_ago: float = 0) -> AuthenticatorDevice:
    """Make ``client``'s session (signed in as ``user``) verified with a second factor that was
    checked ``checked_ago`` seconds ago, as the sign-in page would have left it."""
    device = give_authenticator(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[services.CHECKED_AT] = int(time.time() - checked_ago)
    session.save()
    return device


def age_the_check(client: Client | str) -> None:
    """The session's last second-factor check is older than ``REAUTH_SECONDS``: a step-up is due.
    ``client``: a test client, or the session key of a browser."""
    session = client.session if isinstance(client, Client) else SessionStore(session_key=client)
    session[services.CHECKED_AT] = int(time.time()) - settings.REAUTH_SECONDS - 1
    session.save()
