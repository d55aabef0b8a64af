"""The rules of the second factor and its use cases (README, "Second factor").

- Who must use one: a user holding a role of ``MFA_REQUIRED_ROLES`` (a superuser holds every role),
  and anybody who enrolled one.
- Enrolment: an unconfirmed authenticator device whose key is shown once, confirmed with a code; then
  ``RECOVERY_CODES`` one-time recovery codes, shown once and stored only as digests.
- A successful check (at sign-in, at enrolment, at a step-up) verifies the session (django-otp's
  ``otp_device_id``) and stamps ``CHECKED_AT``; a step-up needs that stamp to be younger than
  ``REAUTH_SECONDS``.
- Enrolment, a used recovery code and a reset are security events in the audit chain; never a key,
  a code or a recovery code.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from base64 import b32encode
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from vpcepadmin.admin import may_edit
from vpcepadmin.audit import security
from vpcepadmin.audit.models import Action
from vpcepadmin.mfa.models import DIGITS, AuthenticatorDevice

CHECKED_AT = "mfa_checked_at"  # session: when the last second-factor check succeeded (Unix seconds)
RECOVERY_CODES = 10
RECOVERY_CODE_BYTES = 10  # 80 bits: 16 base32 characters, beyond guessing even from a digest
RECOVERY_DEVICE_NAME = "Recovery codes"
WRONG_CODE = "That code is not right. Enter the current code from your app, or an unused recovery code."


# --- who ---------------------------------------------------------------------------------------------
def required_for(user: Any) -> bool:
    """True when ``user``'s roles oblige them to use a second factor."""
    roles = settings.MFA_REQUIRED_ROLES
    if not roles or not user.is_authenticated:
        return False
    return bool(user.is_superuser) or user.groups.filter(name__in=roles).exists()


def must_verify(user: Any) -> bool:
    """True when ``user`` must pass a second-factor check before anything else: their role needs one,
    or they enrolled one. One query."""
    if not user.is_authenticated:
        return False
    if user.is_superuser and settings.MFA_REQUIRED_ROLES:
        return True
    needs = Q(authenticatordevice__confirmed=True) | Q(groups__name__in=settings.MFA_REQUIRED_ROLES)
    return get_user_model().objects.filter(needs, pk=user.pk).exists()


def authenticator_of(user: Any) -> AuthenticatorDevice | None:
    device: AuthenticatorDevice | None = AuthenticatorDevice.objects.filter(user=user, confirmed=True).first()
    return device


def reauth_minutes() -> int:
    return max(1, settings.REAUTH_SECONDS // 60)


def checked_recently(request: HttpRequest) -> bool:
    """True when this session passed a second-factor check within ``REAUTH_SECONDS``."""
    verified = getattr(request.user, "is_verified", None)
    checked = request.session.get(CHECKED_AT)
    if verified is None or not verified() or not isinstance(checked, int):
        return False
    return 0 <= time.time() - checked <= settings.REAUTH_SECONDS


# --- enrolment ---------------------------------------------------------------------------------------
def start_enrolment(user: Any) -> AuthenticatorDevice:
    """A new unconfirmed authenticator device for ``user``; an earlier unconfirmed one (whose key was
    shown) is deleted, so only the key on the newest enrolment page can ever be confirmed."""
    with transaction.atomic():
        AuthenticatorDevice.objects.filter(user=user, confirmed=False).delete()
        device = AuthenticatorDevice.new(user)
        device.save()
    return device


def pending_enrolment(user: Any) -> AuthenticatorDevice | None:
    device: AuthenticatorDevice | None = AuthenticatorDevice.objects.filter(
        user=user, confirmed=False
    ).first()
    return device


@dataclass(frozen=True)
class Confirmation:
    """How confirming an enrolment ended: the new recovery codes, or what to tell the user."""

    recovery_codes: list[str] = field(default_factory=list)
    problem: str | None = None


def confirm_enrolment(request: HttpRequest, device: AuthenticatorDevice, code: str) -> Confirmation:
    """Confirm ``device`` with a code of the app; a wrong code confirms nothing.

    On success, in one transaction: the device is the user's only authenticator, the user holds
    ``RECOVERY_CODES`` new recovery codes (returned: the only time they exist in clear), and the
    enrolment is an audit record. The session is then verified and the check stamped.
    """
    with transaction.atomic():
        locked = AuthenticatorDevice.objects.select_for_update().get(pk=device.pk)
        allowed, details = locked.verify_is_allowed()
        if not allowed:
            return Confirmation(problem=_throttled(details))
        if locked.confirmed or not locked.verify_token(code.strip()):
            return Confirmation(problem=WRONG_CODE)
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        AuthenticatorDevice.objects.filter(user=locked.user).exclude(pk=locked.pk).delete()
        codes = issue_recovery_codes(locked.user)
        security.record(Action.MFA_ENROLLED, username=locked.user.get_username(), request=request)
    _verified(request, locked)
    return Confirmation(recovery_codes=codes)


# --- recovery codes ----------------------------------------------------------------------------------
def issue_recovery_codes(user: Any, count: int = RECOVERY_CODES) -> list[str]:
    """``count`` new recovery codes for ``user`` (earlier ones stop working), returned in clear once.

    Stored as SHA-256 digests in django-otp's ``StaticToken``: a database reader learns no usable code.
    """
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [_new_recovery_code() for _ in range(count)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=_digest(code)) for code in codes])
    return codes


def _new_recovery_code() -> str:
    text = b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode("ascii").lower()
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def _digest(code: str) -> str:
    """What is stored for a recovery code: however it was typed (case, spaces, dashes), the same."""
    canonical = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]  # StaticToken holds 16 characters


def recovery_codes_left(user: Any) -> int:
    left: int = StaticToken.objects.filter(device__user=user).count()
    return left


# --- checking a code ---------------------------------------------------------------------------------
def check_code(request: HttpRequest, code: str) -> str | None:
    """Check a code of the signed-in user: six digits from the authenticator app, or a recovery code
    (used up by the check). None on success — the session is then verified and the check stamped;
    otherwise what to tell the user. Wrong codes slow further attempts down (django-otp throttling).
    """
    code = code.strip()
    user = request.user
    recovery = not (len(code) == DIGITS and code.isdigit())
    model: type[Device] = StaticDevice if recovery else AuthenticatorDevice
    with transaction.atomic():
        device = model.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            return WRONG_CODE if recovery else "You have no authenticator app set up."
        allowed, details = device.verify_is_allowed()
        if not allowed:
            return _throttled(details)
        if not device.verify_token(_digest(code) if recovery else code):
            return WRONG_CODE
        if recovery:
            left = recovery_codes_left(user)
            security.record(
                Action.RECOVERY_CODE_USED,
                username=user.get_username(),
                request=request,
                after={"recovery_codes_left": left},
            )
    _verified(request, device)
    return None


def _throttled(details: dict[str, Any] | None) -> str:
    until = (details or {}).get("locked_until")
    wait = max(1, int((until - timezone.now()).total_seconds()) + 1) if until else 1
    return f"Too many wrong codes. Wait {wait} second{pluralize(wait)}, then try again."


def _verified(request: HttpRequest, device: Device) -> None:
    # A new session key whenever the session gains a privilege (ASVS 7.2.4), as at the password.
    request.session.cycle_key()
    otp_login(request, device)
    request.session[CHECKED_AT] = int(time.time())


# --- reset -------------------------------------------------------------------------------------------
def reset_refusal(actor: Any, target: Any) -> str | None:
    """Why ``actor`` may not reset ``target``'s second factor; None if they may (the admin's rules:
    never one's own, and only a superuser touches a superuser)."""
    if target.pk == actor.pk:
        return "You cannot reset your own second factor: ask another administrator."
    if not may_edit(actor, target):
        return "Only a superuser may reset a superuser's second factor."
    return None


def reset_second_factor(request: HttpRequest, target: Any) -> str | None:
    """Delete every second factor of ``target`` (authenticator, recovery codes) and record it; None on
    success, else the refusal. Their sessions lose their verification at their next request, and a
    role that needs a second factor sends them to enrolment."""
    refusal = reset_refusal(request.user, target)
    if refusal is not None:
        return refusal
    with transaction.atomic():
        before = second_factor_state(target)
        AuthenticatorDevice.objects.filter(user=target).delete()
        StaticDevice.objects.filter(user=target).delete()
        security.record(Action.MFA_RESET, username=target.get_username(), request=request, before=before)
    return None


def second_factor_state(user: Any) -> dict[str, Any]:
    """What an administrator may know of a user's second factor: whether it exists, never its key."""
    return {
        "authenticator": authenticator_of(user) is not None,
        "recovery_codes_left": recovery_codes_left(user),
    }
