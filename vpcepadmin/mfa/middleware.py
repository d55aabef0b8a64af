"""Nothing but the second factor's pages until a user who must use one has (ASVS 6.3.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from vpcepadmin.mfa import services

# The only views a signed-in user who still owes a second factor reaches. Static files are served
# before any of this (WhiteNoise), and /healthz by its own middleware.
OPEN_VIEWS = frozenset({"mfa:enrol", "mfa:verify", "logout", "healthz"})


class SecondFactorMiddleware:
    """A signed-in user who must use a second factor (``services.must_verify``) and has not in this
    session is sent to verify it, or to enrolment when they have none — from every view but
    ``OPEN_VIEWS``, htmx fragments and the admin included.

    Installed after django-otp's ``OTPMiddleware`` (which tells whether the session is verified) and
    after ``LoginRequiredMiddleware`` (anonymous users go to the sign-in page first). Costs one query
    per request for a signed-in user whose session is not verified, nothing for anyone else.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        user = request.user
        verified = getattr(user, "is_verified", None)
        if not user.is_authenticated or verified is None or verified():
            return None
        match = request.resolver_match
        if match is not None and match.view_name in OPEN_VIEWS:
            return None
        if not services.must_verify(user):
            return None
        page = "mfa:verify" if services.authenticator_of(user) is not None else "mfa:enrol"
        return _send(request, reverse(page))


def _send(request: HttpRequest, url: str) -> HttpResponseBase:
    """To ``url``, coming back afterwards to the page that was asked for (a page, not a fragment)."""
    htmx = getattr(request, "htmx", None)
    back = None
    if htmx:
        back = htmx.current_url_abs_path
    elif request.method in ("GET", "HEAD"):
        back = request.get_full_path()
    target = f"{url}?{urlencode({'next': back})}" if back else url
    return HttpResponseClientRedirect(target) if htmx else redirect(target)
