"""Pages for endpoint services: thin views over ``endpoints.services``."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from vpcepadmin import roles
from vpcepadmin.audit.queries import service_history
from vpcepadmin.changes.observation import observe_account
from vpcepadmin.cloud.editable import edit_refusal
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints import services
from vpcepadmin.endpoints.forms import ServiceFilterForm
from vpcepadmin.endpoints.rows import service_rows
from vpcepadmin.htmx import render_page


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def overview(request: HttpRequest) -> HttpResponse:
    """Every account; each card loads its own summary, so a slow account holds up nothing."""
    return render(request, "endpoints/overview.html", {"credentials": CloudCredential.objects.all()})


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def account_summary(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    summary = services.summarise_account(credential)
    # Without JavaScript the overview's card links here: a whole page, which htmx never asks for.
    context = {"account": credential, "credential": credential, "summary": summary}
    return render_page(request, "endpoints/summary.html", "endpoints/_summary.html", context)


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def service_list(request: HttpRequest, pk: int) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    form = ServiceFilterForm(request.GET)
    listing = services.list_services(credential, form.query())
    rows = service_rows(credential.pk, listing.page.services) if listing.page else []
    context = {"account": credential, "form": form, "listing": listing, "rows": rows}
    return render_page(request, "endpoints/list.html", "endpoints/_table.html", context)


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def service_detail(request: HttpRequest, pk: int, service_id: str) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    result = services.read_service(credential, service_id)
    if isinstance(result, services.ReadProblem):
        context = {"account": credential, "service_id": service_id, "problem": result}
        return render(request, "endpoints/detail.html", context, status=404 if result.not_found else 200)
    tab = request.GET.get("tab", "details")
    history = service_history(credential, service_id) if tab == "history" else []
    context = {
        "account": credential,
        "service_id": service_id,
        "service": result,
        "tab": tab,
        "history": history,
        "edit_refusal": edit_refusal(result.status),
    }
    return render(request, "endpoints/detail.html", context)


@require_POST
@permission_required(roles.MODIFY, raise_exception=True)
def observe(request: HttpRequest, pk: int) -> HttpResponse:
    """The button "Check for outside changes": observe the account now; the account page (for htmx,
    its result area) says what the run found and links to the account's outside records."""
    credential = get_object_or_404(CloudCredential, pk=pk)
    report = observe_account(credential)
    credential.refresh_from_db()  # the run noted its success or failure on the account
    context = {"credential": credential, "account": credential, "observation": report}
    return render_page(request, "credentials/detail.html", "endpoints/_observation_result.html", context)
