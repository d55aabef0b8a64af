"""A service's Connections and Whitelist tabs, and their confirmations. Thin: the rules live in
``action_forms`` (input) and ``actions`` (use cases, through the change pipeline)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from vpcepadmin import roles
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.audit.recorder import context_from
from vpcepadmin.cloud import whitelist
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints import actions, approvals
from vpcepadmin.endpoints.action_forms import (
    ACTION_VERBS,
    EveryoneConfirmForm,
    StatusFilterForm,
    WhitelistEntryForm,
    also_rejected,
    connection_selection,
)
from vpcepadmin.endpoints.actions import ENTRY, Seen
from vpcepadmin.endpoints.approval_views import requested
from vpcepadmin.endpoints.edit_forms import ReasonForm
from vpcepadmin.endpoints.restore import RECORD_PK_MAX
from vpcepadmin.endpoints.services import ReadProblem, applying_to_production
from vpcepadmin.htmx import render_page
from vpcepadmin.mfa.stepup import step_up_required
from vpcepadmin.policies.rules import Finding, refusals
from vpcepadmin.request_values import parse_int

_applying_to_production = applying_to_production("step")


def _context(credential: CloudCredential, service_id: str, **context: Any) -> dict[str, Any]:
    return {"account": credential, "service_id": service_id, **context}


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def connections(request: HttpRequest, pk: int, service_id: str) -> HttpResponse:
    """One page of the service's connections: one list call."""
    credential = get_object_or_404(CloudCredential, pk=pk)
    form = StatusFilterForm(request.GET)
    status, number = form.choice()
    listing = actions.list_connections(credential, service_id, status, number)
    connections = listing.page.connections if listing.page is not None else ()  # type: ignore[union-attr]
    rows = actions.connection_rows(credential, service_id, connections, request.user.has_perm(roles.MODIFY))
    context = _context(credential, service_id, tab="connections", form=form, listing=listing, rows=rows,
                       status=status)  # fmt: skip
    return render_page(request, "endpoints/connections.html", "endpoints/_connections.html", context)


@require_POST
@permission_required(roles.MODIFY, raise_exception=True)
@step_up_required(
    when=_applying_to_production, why="Accepting or rejecting connections of a production account"
)
def connections_confirm(request: HttpRequest, pk: int, service_id: str) -> HttpResponse:
    """The confirmation of an accept or reject (``step`` absent), and the change itself (``apply``)."""
    credential = get_object_or_404(CloudCredential, pk=pk)
    selection = connection_selection(request.POST, credential, service_id)
    if selection.error:
        context = _context(credential, service_id, problem=selection.error)
        return render(request, "endpoints/connections_confirm.html", context, status=400)
    step = _step(request, needs_request := credential.four_eyes())
    reason = ReasonForm(request.POST if step else None)
    if reason.is_bound and reason.is_valid():
        why, seen = reason.cleaned_data["reason"], list(selection.seen)
        if needs_request:
            name = actions.service_name(credential, service_id)
            change = approvals.request_actions(
                credential, selection.action, seen, why, context_from(request), name
            )
            return requested(request, change)
        results = actions.apply_connections(credential, seen, selection.action, why, context_from(request))
        return _results(request, credential, service_id, results, back="endpoints:connections")
    items = [{"seen": seen, "token": seen.sign()} for seen in selection.seen]
    context = _context(
        credential, service_id, verb=ACTION_VERBS[selection.action], items=items, reason_form=reason,
        needs_request=needs_request,
    )  # fmt: skip
    return render(request, "endpoints/connections_confirm.html", context)


def _step(request: HttpRequest, needs_request: bool) -> str:
    """The confirmation's button: "apply", "request" (approval, where changes need it), or "" (not
    pressed yet). Applying what needs a second person's approval is refused (403), nothing sent."""
    step = request.POST.get("step", "")
    if step == "apply" and needs_request:
        raise PermissionDenied("This change needs a second person's approval: request it.")
    if step == "request" and not needs_request:
        return ""  # nothing to request: the page is shown again with "Apply changes"
    return step if step in ("apply", "request") else ""


RESULTS_KEPT = 10  # the newest batches' results a session keeps for their pages


def _results(
    request: HttpRequest,
    credential: CloudCredential,
    service_id: str,
    results: list[actions.ItemResult],
    back: str,
) -> HttpResponse:
    """Keep what the batch did in the session and redirect to its page (reloading that page sends
    nothing again)."""
    batch_id = getattr(request, "request_id", "") or "batch"
    kept = dict(request.session.get("batches", {}))
    kept[batch_id] = {"back": back, "results": [item.shown() for item in results]}
    request.session["batches"] = dict(list(kept.items())[-RESULTS_KEPT:])
    return redirect("endpoints:batch", pk=credential.pk, service_id=service_id, batch_id=batch_id)


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def batch(request: HttpRequest, pk: int, service_id: str, batch_id: str) -> HttpResponse:
    """What a batch of connection or whitelist changes did (kept in this session), or a pointer to
    the History when the session no longer has it."""
    credential = get_object_or_404(CloudCredential, pk=pk)
    kept = request.session.get("batches", {}).get(batch_id)
    if not isinstance(kept, dict):
        context = _context(credential, service_id, batch_id=batch_id, gone=True)
        return render(request, "endpoints/action_result.html", context, status=404)
    results = kept["results"]
    unchanged = [item for item in results if not item["succeeded"]]
    context = _context(
        credential, service_id, results=results, unchanged=unchanged, back=kept["back"], batch_id=batch_id
    )
    return render(request, "endpoints/action_result.html", context)


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def whitelist_page(request: HttpRequest, pk: int, service_id: str) -> HttpResponse:
    """One page of the service's whitelist: one list call."""
    credential = get_object_or_404(CloudCredential, pk=pk)
    form = StatusFilterForm(request.GET)
    return _whitelist(request, credential, service_id, form.choice()[1], WhitelistEntryForm())


def _whitelist(
    request: HttpRequest,
    credential: CloudCredential,
    service_id: str,
    number: int,
    add_form: WhitelistEntryForm,
) -> HttpResponse:
    listing = actions.list_whitelist(credential, service_id, number)
    entries = listing.page.permissions if listing.page is not None else ()  # type: ignore[union-attr]
    rows = actions.entry_rows(credential, service_id, entries)
    context = _context(credential, service_id, tab="whitelist", listing=listing, rows=rows, add_form=add_form)
    return render_page(request, "endpoints/whitelist.html", "endpoints/_whitelist.html", context)


@require_POST
@permission_required(roles.MODIFY, raise_exception=True)
@step_up_required(when=_applying_to_production, why="Changing the whitelist of a production account")
def whitelist_confirm(request: HttpRequest, pk: int, service_id: str) -> HttpResponse:
    """Adding (``entry_type``/``value`` from "Add entry"), removing (``item``, a row's token) or undoing
    (``restore``, an audit record) one entry: its confirmation, and the change itself (``step=apply``)."""
    credential = get_object_or_404(CloudCredential, pk=pk)
    restore = request.POST.get("restore")
    restoring = actions.undoing(parse_int(restore, low=1, high=RECORD_PK_MAX), credential, service_id)
    if restore and restoring is None:
        return _refused(request, credential, service_id, "That audit record cannot be undone here.")
    token, add = request.POST.get("item"), None
    if token:
        seen = Seen.read(token, credential, service_id, ENTRY)
        if seen is None or (restoring is not None and not actions.undoes(restoring, seen)):
            return _refused(
                request, credential, service_id, "The page was out of date or altered. Load it again."
            )
    elif restoring is not None:
        found = actions.undo_seen(credential, restoring)
        if isinstance(found, ReadProblem):
            return _refused(request, credential, service_id, found.message, status=409)
        seen = found
    else:
        add = WhitelistEntryForm(request.POST)
        if not add.is_valid():
            return _whitelist(request, credential, service_id, 1, add)
        seen = Seen.entry(
            credential, service_id, add.cleaned_data["entry"], add.cleaned_data["permission_type"], ""
        )
    findings = actions.whitelist_findings(credential, seen)
    forbidden = " ".join(finding.message for finding in refusals(findings))
    if forbidden and add is not None:  # beside the field it came from
        add.add_error("value", forbidden)
        return _whitelist(request, credential, service_id, 1, add)
    if forbidden:
        return _refused(request, credential, service_id, forbidden)
    return _whitelist_step(request, credential, seen, restoring, findings)


def _refused(
    request: HttpRequest, credential: CloudCredential, service_id: str, problem: str, status: int = 400
) -> HttpResponse:
    context = _context(credential, service_id, problem=problem)
    return render(request, "endpoints/whitelist_confirm.html", context, status=status)


def _whitelist_step(
    request: HttpRequest,
    credential: CloudCredential,
    seen: Seen,
    restoring: AuditRecord | None,
    findings: list[Finding],
) -> HttpResponse:
    adding = seen.adds
    needs_request = approvals.needs_request(credential, findings)
    step = _step(request, needs_request)
    reason = ReasonForm(request.POST if step else None)
    everyone = actions.needs_name_typed(credential, seen)
    until = actions.batch_deadline()
    name = actions.service_name(credential, seen.service_id, until) if everyone else ""
    confirm = EveryoneConfirmForm(request.POST if step else None, expected=name) if everyone else None
    if step and reason.is_valid() and (confirm is None or confirm.is_valid()):
        also = also_rejected(request.POST, credential, seen)
        why, audit = reason.cleaned_data["reason"], context_from(request)
        if needs_request:
            name = name or actions.service_name(credential, seen.service_id, until)
            action = actions.whitelist_action(seen)
            change = approvals.request_actions(credential, action, [seen], why, audit, name, also, restoring)
            return requested(request, change)
        results = actions.apply_whitelist(credential, seen, why, audit, also, restoring, until, name)
        return _results(request, credential, seen.service_id, results, back="endpoints:whitelist")
    live = actions.live_rows(credential, seen)
    label, value = whitelist.describe(seen.item_id)
    context = _context(
        credential, seen.service_id, seen=seen, token=seen.sign(), adding=adding, label=label, value=value,
        reason_form=reason, confirm_form=confirm, live=live, service_name=name, everyone=everyone,
        restoring=restoring, max_batch=actions.MAX_BATCH, needs_request=needs_request, findings=findings,
    )  # fmt: skip
    return render(request, "endpoints/whitelist_confirm.html", context)
