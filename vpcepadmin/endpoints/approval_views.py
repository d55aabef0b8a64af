"""Change requests (``/approvals/``): thin views over ``endpoints.approvals``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from vpcepadmin import roles
from vpcepadmin.audit.diff import service_diff
from vpcepadmin.audit.models import Action
from vpcepadmin.audit.recorder import context_from
from vpcepadmin.changes.models import ChangeRequest, RequestStatus
from vpcepadmin.cloud.editable import editable_values
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.models import Environment
from vpcepadmin.endpoints import actions, approvals
from vpcepadmin.endpoints.edit_forms import ReasonForm
from vpcepadmin.endpoints.services import ReadProblem, read_service
from vpcepadmin.mfa.stepup import step_up_required
from vpcepadmin.request_values import parse_int


class CommentForm(ReasonForm):
    """The approver's required comment (the same rules as a reason)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["reason"]
        field.label = "Comment"
        field.help_text = "Required. Up to 200 characters; kept in the audit log."
        field.error_messages["required"] = "Say why you approve or reject it."


def requested(request: HttpRequest, change: ChangeRequest) -> HttpResponse:
    """After a change request is made: to its page, saying that nothing was sent."""
    messages.success(request, "Your change is waiting for another operator's approval. Nothing was sent yet.")
    return redirect("approvals:detail", pk=change.pk)


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def approval_list(request: HttpRequest) -> HttpResponse:
    """Open requests, oldest first, filtered by account and author."""
    found = approvals.open_requests()
    account = parse_int(request.GET.get("account"), low=1, high=2**62)
    # A user name never holds a control character (and PostgreSQL refuses NUL in a query): dropped.
    author = "".join(ch for ch in request.GET.get("author") or "" if ch.isprintable()).strip()[:150]
    if account:
        found = found.filter(credential_id=account)
    if author:
        found = found.filter(author_username=author)
    context = {"requests": list(found[:200]), "account_filter": account, "author": author}
    context["max_age_hours"] = f"{approvals.max_age().total_seconds() / 3600:g}"
    return render(request, "approvals/list.html", context)


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    change = get_object_or_404(ChangeRequest.objects.select_related("credential"), pk=pk)
    return _detail(request, change, CommentForm())


def _detail(
    request: HttpRequest, change: ChangeRequest, comment: CommentForm, status: int = 200
) -> HttpResponse:
    """The request, and the diff against the service as it is now in the cloud (one GET)."""
    approvals.expire_if_due(change)
    is_open = change.status == RequestStatus.OPEN
    items: list[dict[str, Any]] | ReadProblem = []
    current: EndpointService | ReadProblem | None = None
    if change.kind != Action.MODIFY_ENDPOINT_SERVICE:
        seen = approvals.seen_items(change)
        items = actions.items_now(change.credential, seen) if is_open else [{"seen": item} for item in seen]
    elif is_open:
        current = read_service(change.credential, change.service_id)
    problem = next((found for found in (current, items) if isinstance(found, ReadProblem)), None)
    diff = service_diff(editable_values(current), change.body) if isinstance(current, EndpointService) else []
    context = {
        "change": change, "account": change.credential, "diff": diff, "problem": problem, "comment_form": comment,
        "items": items if not isinstance(items, ReadProblem) else [], "action_label": Action(change.kind).label,
        "also_reject": approvals.also_rejected(change),
        "is_author": approvals.is_author(change, request.user), "records": approvals.records_of(change)[:50],
        "can_decide": change.status == RequestStatus.OPEN and request.user.has_perm(roles.MODIFY),
    }  # fmt: skip
    return render(request, "approvals/detail.html", context, status=status)


def _approving_on_production(request: HttpRequest, pk: int) -> bool:
    """The approver of a production change passes the second-factor step-up (README)."""
    if request.method != "POST" or request.POST.get("action") != "approve":
        return False
    return ChangeRequest.objects.filter(pk=pk, credential__environment=Environment.PRODUCTION).exists()


@require_POST
@permission_required(roles.MODIFY, raise_exception=True)
@step_up_required(when=_approving_on_production, why="Approving a change to a production account")
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve and apply, reject (both with a comment, never by the author), or withdraw (the author)."""
    change = get_object_or_404(ChangeRequest.objects.select_related("credential"), pk=pk)
    action = request.POST.get("action", "")
    context = context_from(request)
    if action == "withdraw":
        if not approvals.is_author(change, request.user):
            raise PermissionDenied("Only the author can withdraw a request.")
        decision = approvals.withdraw(change, context)
    elif action in ("approve", "reject"):
        if approvals.is_author(change, request.user):
            raise PermissionDenied("You made this request: another person must approve or reject it.")
        comment = CommentForm(request.POST)
        if not comment.is_valid():
            return _detail(request, change, comment, status=400)
        step = approvals.approve if action == "approve" else approvals.reject
        decision = step(change, comment.cleaned_data["reason"].strip(), context)
    else:
        return _detail(request, change, CommentForm(), status=400)
    (messages.success if decision.ok else messages.error)(request, decision.message)
    return redirect("approvals:detail", pk=change.pk)
