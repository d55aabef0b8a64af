"""The second factor's pages: enrol, verify after the password, step up, and an admin's reset.
Thin: the rules live in ``services``."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from vpcepadmin import roles
from vpcepadmin.mfa import services
from vpcepadmin.mfa.forms import CODE_FIELD, CodeForm
from vpcepadmin.mfa.models import AuthenticatorDevice
from vpcepadmin.mfa.qr import qr_data_uri


def _next(request: HttpRequest) -> str:
    """Where to go afterwards: ``next`` when it is a path on this site, else the overview."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if target and safe else "/"


@sensitive_post_parameters(CODE_FIELD)
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: QR code and key (until confirmed), then the recovery codes once."""
    if services.authenticator_of(request.user) is not None:
        messages.info(request, "Your second factor is set up. An administrator can reset it if you lost it.")
        return redirect(_next(request))
    device = services.pending_enrolment(request.user) if request.method == "POST" else None
    form = CodeForm(request.POST if device is not None else None)
    if device is not None and form.is_valid():
        confirmation = services.confirm_enrolment(request, device, form.code)
        if confirmation.problem is None:
            codes = {"codes": confirmation.recovery_codes, "next": _next(request)}
            return render(request, "mfa/recovery_codes.html", codes)
        form.add_error(CODE_FIELD, confirmation.problem)
    return _enrolment_page(request, form, device or services.start_enrolment(request.user))


def _enrolment_page(request: HttpRequest, form: CodeForm, device: AuthenticatorDevice) -> HttpResponse:
    required = services.required_for(request.user)
    context = {
        "form": form,
        "secret": device.secret_for_manual_entry(),
        "qr": qr_data_uri(device.config_url()),
        "next": _next(request),
        "required": required,
        "mfa_pending": required,  # nothing else opens before this is done: no navigation
    }
    return render(request, "mfa/enrol.html", context)


def _code_checked(request: HttpRequest) -> tuple[CodeForm, str | None]:
    """The code form, and — for a valid POST — what was wrong with the code (None: it was right)."""
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return form, services.check_code(request, form.code)
    return form, None


@sensitive_post_parameters(CODE_FIELD)
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the app or a recovery code."""
    if request.user.is_verified():  # type: ignore[union-attr]
        return redirect(_next(request))
    if services.authenticator_of(request.user) is None and services.recovery_codes_left(request.user) == 0:
        return redirect(f"{reverse('mfa:enrol')}?{urlencode({'next': _next(request)})}")
    form, problem = _code_checked(request)
    if request.method == "POST" and form.is_valid() and problem is None:
        return redirect(_next(request))
    context = {"form": form, "problem": problem, "next": _next(request), "mfa_pending": True}
    return render(request, "mfa/verify.html", context)


@sensitive_post_parameters(CODE_FIELD)
@require_http_methods(["GET", "POST"])
def step_up(request: HttpRequest) -> HttpResponse:
    """A fresh check before a change that needs one (``stepup.step_up_required`` sends GETs here)."""
    form, problem = _code_checked(request)
    if request.method == "POST" and form.is_valid() and problem is None:
        return redirect(_next(request))
    context = {
        "form": form,
        "problem": problem,
        "next": _next(request),
        "why": "The page you asked for",
        "action": request.get_full_path(),
        "authenticator": services.authenticator_of(request.user) is not None,
        "reauth_minutes": services.reauth_minutes(),
    }
    return render(request, "mfa/step_up.html", context)


@require_http_methods(["GET", "POST"])
@permission_required(roles.RESET_SECOND_FACTOR, raise_exception=True)
def reset(request: HttpRequest, pk: int) -> HttpResponse:
    """An administrator removes another user's second factor (a lost phone); they enrol again."""
    target = get_object_or_404(get_user_model(), pk=pk)
    refusal = services.reset_refusal(request.user, target)
    if request.method == "POST" and refusal is None:
        services.reset_second_factor(request, target)
        messages.success(request, f"The second factor of “{target.get_username()}” is reset.")
        return redirect("mfa:reset", pk=target.pk)
    context = {"target": target, "refusal": refusal, "state": services.second_factor_state(target)}
    return render(
        request, "mfa/reset.html", context, status=403 if refusal and request.method == "POST" else 200
    )
