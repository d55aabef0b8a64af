"""Step-up: some changes need a second-factor check within the last ``REAUTH_SECONDS`` (README, "Second factor").

``@step_up_required(...)`` guards a view. Without a recent check, a GET is sent to the step-up page
and comes back after it; a POST is answered with a page that asks for a code and carries the whole
submitted form, sealed, back to the same URL — on a right code the view then runs with exactly the
form that was submitted, as if it had never been interrupted.

The form travels sealed (encrypted and authenticated with a key derived from ``SECRET_KEY``, bound to
the user and the URL, valid ``PENDING_MAX_AGE`` seconds) rather than as hidden inputs: an account's
secret key or password typed into the form is never written back into a page.
"""

from __future__ import annotations

import functools
import json
from base64 import urlsafe_b64encode
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from cryptography.fernet import Fernet, InvalidToken
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django_htmx.http import HttpResponseClientRedirect

from vpcepadmin.mfa import services
from vpcepadmin.mfa.forms import CODE_FIELD, CodeForm

PENDING_FIELD = "step_up_form"
PENDING_MAX_AGE = 600  # seconds to fetch the phone; then the form is to be filled in again
NOT_CARRIED = frozenset({"csrfmiddlewaretoken", CODE_FIELD, PENDING_FIELD})

View = TypeVar("View", bound=Callable[..., HttpResponseBase])
Condition = Callable[..., bool]


def step_up_required(when: Condition | None = None, why: str = "This change") -> Callable[[View], View]:
    """Run the view only after a second-factor check within ``REAUTH_SECONDS``.

    ``when(request, *args, **kwargs)``, if given, says whether this request needs it (it sees the
    form as submitted). ``why`` names the action on the page that asks for the code.
    Guarantees: without a recent check nothing of the view runs; after a right code it runs once,
    with the submitted form minus the code.
    """

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            code = None
            if request.method == "POST" and PENDING_FIELD in request.POST:
                submitted = _reopen(request, request.POST[PENDING_FIELD])
                if submitted is None:
                    messages.warning(
                        request, "The form waited too long for the code: nothing was saved. Fill it in again."
                    )
                    return redirect(request.path)
                code = request.POST.get(CODE_FIELD, "")
                request.POST = submitted  # type: ignore[assignment]
            needed = when is None or when(request, *args, **kwargs)
            if not needed or services.checked_recently(request):
                return view(request, *args, **kwargs)
            if request.method != "POST":
                return _to_step_up_page(request)
            if code is None:  # the form as first submitted
                return ask_for_code(request, why, None)
            problem = services.check_code(request, code) if code.strip() else "Enter the code."
            if problem is None:
                return view(request, *args, **kwargs)
            return ask_for_code(request, why, problem)

        return cast(View, guarded)

    return decorator


def ask_for_code(request: HttpRequest, why: str, problem: str | None) -> HttpResponse:
    """The page that asks for a code and posts the sealed form back to where it was going."""
    context = {
        "form": CodeForm(),
        "problem": problem,
        "why": why,
        "action": request.get_full_path(),
        "pending": _seal(request, request.POST),
        "authenticator": services.authenticator_of(request.user) is not None,
        "reauth_minutes": services.reauth_minutes(),
    }
    return render(request, "mfa/step_up.html", context)


def _to_step_up_page(request: HttpRequest) -> HttpResponseBase:
    url = f"{reverse('mfa:step_up')}?{urlencode({'next': request.get_full_path()})}"
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)


# --- the sealed form ---------------------------------------------------------------------------------
def _fernet() -> Fernet:
    digest = salted_hmac("vpcepadmin.mfa.stepup", "pending form", algorithm="sha256").digest()
    return Fernet(urlsafe_b64encode(digest))


def _seal(request: HttpRequest, data: QueryDict) -> str:
    fields = [[name, value] for name, values in data.lists() if name not in NOT_CARRIED for value in values]
    payload = {"user": request.user.pk, "path": request.path, "fields": fields}
    return _fernet().encrypt(json.dumps(payload).encode("utf-8")).decode("ascii")


def _reopen(request: HttpRequest, sealed: str) -> QueryDict | None:
    """The form sealed by ``_seal`` for this user and URL, if it is intact and young enough."""
    try:
        payload = json.loads(_fernet().decrypt(sealed.encode("ascii"), ttl=PENDING_MAX_AGE))
    except (InvalidToken, UnicodeError, ValueError):
        return None
    if payload.get("user") != request.user.pk or payload.get("path") != request.path:
        return None
    data = QueryDict(mutable=True)
    for name, value in payload.get("fields", []):
        data.appendlist(str(name), str(value))
    data._mutable = False
    return data
