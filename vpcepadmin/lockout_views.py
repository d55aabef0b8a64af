"""The answer to a locked-out sign-in, and the page where administrators see and end locks.

Thin views over ``vpcepadmin.lockout``; the rule lives there.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from vpcepadmin import lockout, roles


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: 429 with one message for every lock, whether or not the user exists
    (nothing in it depends on the username or on which limit was reached)."""
    response = render(
        request, "registration/locked_out.html", {"minutes": settings.LOCKOUT_MINUTES}, status=429
    )
    response["Retry-After"] = str(settings.LOCKOUT_MINUTES * 60)
    return response


@require_GET
@permission_required(roles.UNLOCK_SIGN_IN, raise_exception=True)
def lockout_list(request: HttpRequest) -> HttpResponse:
    context = {
        "locks": lockout.current_locks(),
        "user_failures": settings.LOCKOUT_USER_FAILURES,
        "address_failures": settings.LOCKOUT_ADDRESS_FAILURES,
        "minutes": settings.LOCKOUT_MINUTES,
    }
    return render(request, "lockouts.html", context)


class UnlockForm(forms.Form):
    kind = forms.ChoiceField(choices=[(lockout.USER, "user"), (lockout.ADDRESS, "address")])
    username = forms.CharField(required=False, max_length=255, strip=False)
    address = forms.CharField(required=False, max_length=45)

    def clean_address(self) -> str:
        address: str = self.cleaned_data["address"]
        if address:
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise forms.ValidationError("Not an IP address.") from exc
        return address


@require_POST
@permission_required(roles.UNLOCK_SIGN_IN, raise_exception=True)
def lockout_unlock(request: HttpRequest) -> HttpResponse:
    form = UnlockForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That is not a lock this page listed; nothing was unlocked.")
        return redirect("lockouts")
    released = lockout.unlock(**form.cleaned_data)
    if released:
        messages.success(request, "Unlocked: " + "; ".join(str(lock) for lock in released) + ".")
    else:
        messages.info(request, "That lock had already ended; nothing to unlock.")
    return redirect("lockouts")
