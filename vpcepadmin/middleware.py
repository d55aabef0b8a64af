"""Project-wide middleware: request ids, the Permissions-Policy header, the health check, sign-in everywhere,
no caching of signed-in pages."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from vpcepadmin.cloud import timing as cloud_timing
from vpcepadmin.current import current_request
from vpcepadmin.logsetup import request_id_var
from vpcepadmin.views import health_response

# The app request id travels with the request, the log lines and the audit records.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")

# Browser features the app never uses, denied to every origin: the page and any frame in it.
# Clipboard writing stays allowed: the copy buttons use it (static/js/app.js). Only names that
# Chromium recognises are listed: it warns in the console about any other (e.g. battery).
DENIED_FEATURES = (
    "accelerometer",
    "autoplay",
    "browsing-topics",
    "camera",
    "clipboard-read",
    "display-capture",
    "encrypted-media",
    "fullscreen",
    "gamepad",
    "geolocation",
    "gyroscope",
    "hid",
    "identity-credentials-get",
    "idle-detection",
    "interest-cohort",
    "local-fonts",
    "magnetometer",
    "microphone",
    "midi",
    "otp-credentials",
    "payment",
    "picture-in-picture",
    "publickey-credentials-create",
    "publickey-credentials-get",
    "screen-wake-lock",
    "serial",
    "storage-access",
    "sync-xhr",
    "usb",
    "window-management",
    "xr-spatial-tracking",
)
PERMISSIONS_POLICY = ", ".join(f"{feature}=()" for feature in DENIED_FEATURES)


class PermissionsPolicyMiddleware:
    """Every response carries ``Permissions-Policy`` denying ``DENIED_FEATURES`` (a view's own header wins)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class HealthCheckMiddleware:
    """Answer ``GET``/``HEAD /healthz`` before any session, user or CSRF middleware runs.

    Guarantees: the health check never reads a session cookie or the session table, never looks at
    the user, and answers 503 (not 500) when the database does not answer. It sits after the
    middlewares that only add headers, so its answer carries them too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info == "/healthz" and request.method in ("GET", "HEAD"):
            return health_response()
        return self.get_response(request)


class RequestIdMiddleware:
    """Give every request an id (``request.request_id``), log it, and return it as ``X-Request-ID``.

    An incoming ``X-Request-ID`` is kept only when it comes through the trusted proxy (same setting
    as the client address) and looks like an id; otherwise a new one is made.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "") if settings.TRUSTED_PROXY_HEADER else ""
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        serving = current_request.set(request)
        try:
            serve = _timed if settings.SERVER_TIMING else _untimed
            response = serve(self.get_response, request)
        finally:
            current_request.reset(serving)
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class _SqlTime:
    """``execute_wrapper`` that adds up the time and number of queries."""

    def __init__(self) -> None:
        self.seconds, self.queries = 0.0, 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


def _untimed(get_response: Callable[[HttpRequest], HttpResponse], request: HttpRequest) -> HttpResponse:
    return get_response(request)


def _timed(get_response: Callable[[HttpRequest], HttpResponse], request: HttpRequest) -> HttpResponse:
    """The response with a ``Server-Timing`` header (VPCEPADMIN_SERVER_TIMING=1): the cloud's round
    trips, the database and the whole request in ms — browsers' developer tools and
    ``bench/load.py`` read it. Durations only, never what was asked."""
    sql = _SqlTime()
    started = time.perf_counter()
    with cloud_timing.measuring() as cloud, connection.execute_wrapper(sql):
        response = get_response(request)
    total = time.perf_counter() - started
    response["Server-Timing"] = (
        f'cloud;dur={cloud.seconds * 1000:.1f};desc="{cloud.calls} calls", '
        f'db;dur={sql.seconds * 1000:.1f};desc="{sql.queries} queries", app;dur={total * 1000:.1f}'
    )
    return response


def client_ip(request: HttpRequest) -> str:
    """The client's address: from the trusted proxy header when one is configured, else the peer.

    With ``TRUSTED_PROXY_COUNT`` proxies of ours in front, the client is that many entries from the
    right of ``X-Forwarded-For``; anything further left was written by the client and is ignored.
    """
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        hops = [hop.strip() for hop in request.META.get(header, "").split(",") if hop.strip()]
        if len(hops) >= settings.TRUSTED_PROXY_COUNT:
            return str(hops[-settings.TRUSTED_PROXY_COUNT])
    return str(request.META.get("REMOTE_ADDR", ""))


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every view needs a signed-in, active user unless marked ``@login_not_required``; sessions idle out.

    htmx requests get an ``HX-Redirect`` to the sign-in page instead of a sign-in page swapped into
    a fragment.
    """

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if request.user.is_authenticated and _idle_expired(request):
            logout(request)
        return super().process_view(request, view_func, view_args, view_kwargs)

    # htmx requests get an HX-Redirect (200), not the 302 the parent's signature promises.
    def handle_no_permission(  # type: ignore[override]
        self, request: HttpRequest, view_func: Callable[..., HttpResponseBase]
    ) -> HttpResponseBase:
        if getattr(request, "htmx", False):
            login_url = resolve_url(settings.LOGIN_URL)
            return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': request.path})}")
        return super().handle_no_permission(request, view_func)


def _idle_expired(request: HttpRequest) -> bool:
    """True when the session saw no request for SESSION_IDLE_TIMEOUT seconds, or began more than
    SESSION_COOKIE_AGE seconds ago (ASVS 7.3.1, 7.3.2: idle and absolute timeouts).

    The idle stamp is refreshed at most once a minute so that browsing does not write the session
    on every request.
    """
    now = int(time.time())
    last = request.session.get("last_seen")
    began = request.session.setdefault("began", now)
    if isinstance(began, int) and now - began > settings.SESSION_COOKIE_AGE:
        return True
    if isinstance(last, int) and now - last > settings.SESSION_IDLE_TIMEOUT:
        return True
    if not isinstance(last, int) or now - last > 60:
        request.session["last_seen"] = now
    return False


class NoStoreMiddleware:
    """Pages for signed-in users may hold account data: browsers and proxies must not keep them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/static/"):
            response.setdefault("Cache-Control", "no-store")
        return response
