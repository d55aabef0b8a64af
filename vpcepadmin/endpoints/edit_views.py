"""The edit flow's pages (design.md §2): load, rows, review, apply. Thin: the rules live in
``edit_forms`` (input), ``review`` and ``modify`` (use cases)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from vpcepadmin import roles
from vpcepadmin.audit.models import Outcome
from vpcepadmin.audit.recorder import context_from
from vpcepadmin.cloud.editable import editable_values, merge_onto
from vpcepadmin.cloud.types import DEFAULT_PROTOCOL
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints import approvals
from vpcepadmin.endpoints.approval_views import requested
from vpcepadmin.endpoints.approvals import needs_request, rebase_of, request_change
from vpcepadmin.endpoints.edit_forms import MAX_MAPPINGS, EditForms, EditShape, ReasonForm, rows_from_post
from vpcepadmin.endpoints.modify import (
    EditRequest,
    Loaded,
    load_for_edit,
    modify_endpoint_service,
    refusal_for,
)
from vpcepadmin.endpoints.restore import restore_values, restored_record
from vpcepadmin.endpoints.review import (
    Review,
    describe_change,
    policy_findings,
    review_change,
    three_way,
)
from vpcepadmin.endpoints.services import ReadProblem, applying_to_production
from vpcepadmin.endpoints.versioning import Reviewed, Version, read_review, read_version, sign_review
from vpcepadmin.htmx import wants_partial
from vpcepadmin.mfa.stepup import step_up_required
from vpcepadmin.policies.rules import refusals
from vpcepadmin.request_values import parse_int

EDIT_PAGE = "endpoints/edit.html"


_applying_to_production = applying_to_production("action")


@require_http_methods(["GET", "POST"])
@permission_required(roles.MODIFY, raise_exception=True)
@step_up_required(when=_applying_to_production, why="Applying a change to a production account")
def service_edit(request: HttpRequest, pk: int, service_id: str) -> HttpResponse:
    credential = get_object_or_404(CloudCredential, pk=pk)
    if request.method == "GET":
        return _load(request, credential, service_id)
    action = request.POST.get("action", "review")
    version = read_version(request.POST.get("version", ""), credential, service_id)
    if version is None:
        return _stale(request, credential, service_id)
    refusal = refusal_for(version)
    if refusal is not None:
        return _page(request, credential, EDIT_PAGE, version=version, problem=refusal)
    if action == "rebase":
        return _rebase(request, credential, version)
    if action in ("apply", "request"):
        return _send(request, credential, version, action)
    if action == "review":
        return _review(request, credential, version)
    if action == "edit":
        return _back_to_edit(request, credential, version)
    return _rows(request, credential, version, action)


def _page(request: HttpRequest, credential: CloudCredential, template: str, **context: Any) -> HttpResponse:
    context |= {
        "account": credential,
        "service_id": context.get("service_id") or context["version"].service_id,
    }
    return render(request, template, context)


def _shape(version: Version) -> EditShape:
    return EditShape.of(version.original, show_vip=version.shows_vip)


def _load(request: HttpRequest, credential: CloudCredential, service_id: str) -> HttpResponse:
    loaded = load_for_edit(credential, service_id)
    if not isinstance(loaded, Loaded):
        return render(
            request, EDIT_PAGE, {"account": credential, "service_id": service_id, "problem": loaded}
        )
    restored = restore_values(request.GET.get("restore"), credential, loaded.service)
    original = editable_values(loaded.service)
    values = restored.values if restored else original
    rebased = rebase_of(request.GET.get("rebase"), request.user, credential, service_id)
    if rebased is not None:
        values = approvals.rebase_values(rebased, original)
        messages.info(request, f"Your request #{rebased.pk} is laid over the current state of the service. "
                      "Review it again and request approval anew.")  # fmt: skip
    shape = EditShape.of(original, show_vip=loaded.service.server_type == "VIP", shown=values)
    forms = EditForms.initial(
        values, loaded.version, shape=shape, restored_from=restored.record.pk if restored else None
    )
    context = {"forms": forms, "service": loaded.service, "restored": restored, "service_id": service_id}
    return render(request, EDIT_PAGE, {"account": credential, **context})


def _rows(request: HttpRequest, credential: CloudCredential, version: Version, action: str) -> HttpResponse:
    """Add or remove a row: re-render what was typed, unbound, so no error shows."""
    rows = rows_from_post(request.POST)
    if action == "add_row":
        rows.append({"client_port": "", "server_port": "", "protocol": DEFAULT_PROTOCOL})
    elif action.startswith("remove:"):
        index = parse_int(action.removeprefix("remove:"), low=0, high=MAX_MAPPINGS - 1)
        if index is not None and index < len(rows):
            del rows[index]
    forms = EditForms.retyped(request.POST, shape=_shape(version), rows=rows)
    template = "endpoints/_port_rows.html" if wants_partial(request) else EDIT_PAGE
    return _page(request, credential, template, forms=forms, version=version, focus_last=action == "add_row")


def _review(request: HttpRequest, credential: CloudCredential, version: Version) -> HttpResponse:
    forms = EditForms.bound(request.POST, shape=_shape(version))
    if not forms.is_valid():
        return _page(request, credential, EDIT_PAGE, forms=forms, version=version)
    review = review_change(credential, version.service_id, version, forms.values())
    if review.nothing_changed:
        messages.info(request, "Nothing changed, so there is nothing to review or send.")
    forms.add_clashes(review.clashes)
    forms.add_findings(review.forbidden)
    if not review.can_apply:
        return _page(request, credential, EDIT_PAGE, forms=forms, version=version, problem=review.problem)
    reviewed = Reviewed(forms.values(), forms.form.cleaned_data.get("restored_from"))
    return _review_page(request, credential, version, reviewed, ReasonForm(), review)


def _review_page(
    request: HttpRequest,
    credential: CloudCredential,
    version: Version,
    reviewed: Reviewed,
    reason: ReasonForm,
    review: Review | None = None,
) -> HttpResponse:
    findings = review.findings if review else policy_findings(credential, version, reviewed.values)
    context = {
        "version": version,
        "version_token": request.POST.get("version", ""),
        "review": review or describe_change(version, reviewed.values),
        "reviewed_token": sign_review(version, reviewed.values, reviewed.restored_from),
        "reason_form": reason,
        "name": reviewed.values.get("service_name") or version.service_id,
        "four_eyes": needs_request(credential, findings),
        "findings": [finding for finding in findings if finding not in refusals(findings)],
    }
    return _page(request, credential, "endpoints/review.html", **context)


def _back_to_edit(request: HttpRequest, credential: CloudCredential, version: Version) -> HttpResponse:
    reviewed = read_review(request.POST.get("reviewed", ""), version)
    if reviewed is None:
        return _stale(request, credential, version.service_id)
    forms = EditForms.initial(
        reviewed.values, request.POST["version"], shape=_shape(version), restored_from=reviewed.restored_from
    )
    return _page(request, credential, EDIT_PAGE, forms=forms, version=version)


def _send(request: HttpRequest, credential: CloudCredential, version: Version, action: str) -> HttpResponse:
    """The review's button: apply what was reviewed, or — where the account's four eyes or a policy
    says so — request approval for it. Applying such a change is refused (403), nothing sent."""
    reviewed = read_review(request.POST.get("reviewed", ""), version)
    if reviewed is None:
        return _stale(request, credential, version.service_id)
    findings = policy_findings(credential, version, reviewed.values)
    four_eyes = needs_request(credential, findings)
    if action == "apply" and four_eyes:
        raise PermissionDenied("This change needs a second person's approval: request it.")
    if refusals(findings):  # a policy tightened since the review: neither sent nor requested
        forms = _reviewed_forms(request, version, reviewed)
        forms.add_findings(refusals(findings))
        return _page(request, credential, EDIT_PAGE, forms=forms, version=version)
    reason = ReasonForm(request.POST)
    if not reason.is_valid() or (action == "request" and not four_eyes):
        return _review_page(request, credential, version, reviewed, reason)
    why = reason.cleaned_data["reason"].strip()
    return (_request if four_eyes else _apply)(request, credential, version, reviewed, why)


def _apply(
    request: HttpRequest, credential: CloudCredential, version: Version, reviewed: Reviewed, why: str
) -> HttpResponse:
    """Apply exactly what was reviewed (signed at the review, so nothing can change in between)."""
    restored_from = restored_record(reviewed.restored_from, credential, version.service_id)
    edit = EditRequest(reviewed.values, why, restored_from)
    result = modify_endpoint_service(credential, version.service_id, version, edit, context_from(request))
    if result.succeeded or result.outcome == "no_change":
        (messages.success if result.succeeded else messages.info)(request, result.message)
        return redirect("endpoints:detail", pk=credential.pk, service_id=version.service_id)
    if result.outcome == "not_editable":
        problem = ReadProblem(result.message, not_editable=True)
        return _page(request, credential, EDIT_PAGE, version=version, problem=problem)
    if result.outcome == Outcome.CONFLICT:
        assert result.service is not None
        rows = three_way(version.original, editable_values(result.service), reviewed.values)
        context = {"version": version, "result": result, "conflict_rows": rows}
        context |= {"version_token": request.POST["version"], "reviewed_token": request.POST["reviewed"]}
        return _page(request, credential, "endpoints/conflict.html", **context)
    forms = _reviewed_forms(request, version, reviewed)
    if result.error is not None:
        forms.add_cloud_error(result.error)
    messages.error(request, result.message)
    return _page(request, credential, EDIT_PAGE, forms=forms, version=version, result=result)


def _reviewed_forms(request: HttpRequest, version: Version, reviewed: Reviewed) -> EditForms:
    """The edit form again with the reviewed values, bound and validated, to show an error on its field."""
    return EditForms.reviewed(
        reviewed.values, request.POST["version"], shape=_shape(version), restored_from=reviewed.restored_from
    )


def _request(
    request: HttpRequest, credential: CloudCredential, version: Version, reviewed: Reviewed, why: str
) -> HttpResponse:
    """A change that needs approval: keep exactly what was reviewed as a request."""
    name = str(reviewed.values.get("service_name") or version.original.get("service_name") or "")
    restored_from = restored_record(reviewed.restored_from, credential, version.service_id)
    change = request_change(
        credential, version, reviewed.values, why, context_from(request), name, restored_from
    )
    return requested(request, change)


def _rebase(request: HttpRequest, credential: CloudCredential, version: Version) -> HttpResponse:
    """After a conflict: the operator's changes laid over the current state, to review again."""
    fresh = read_version(request.POST.get("fresh_version", ""), credential, version.service_id)
    reviewed = read_review(request.POST.get("reviewed", ""), version)
    if fresh is None or reviewed is None:
        return _stale(request, credential, version.service_id)
    refusal = refusal_for(fresh)
    if refusal is not None:
        return _page(request, credential, EDIT_PAGE, version=fresh, problem=refusal)
    merged = merge_onto(version.original, fresh.original, reviewed.values)
    forms = EditForms.initial(
        merged, request.POST["fresh_version"], shape=_shape(fresh), restored_from=reviewed.restored_from
    )
    messages.info(request, "Your changes are laid over the current state of the service. Review them again.")
    return _page(request, credential, EDIT_PAGE, forms=forms, version=fresh)


def _stale(request: HttpRequest, credential: CloudCredential, service_id: str) -> HttpResponse:
    messages.warning(request, "The edit form was out of date, so it was loaded again. Nothing was sent.")
    return redirect("endpoints:edit", pk=credential.pk, service_id=service_id)
