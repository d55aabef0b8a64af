"""Four eyes (issue 14): on an account whose changes need a second person's approval, a reviewed
change of a service is a request; another operator approves it, and only then is it sent.

Guarantees:
- a request keeps exactly the reviewed values, the exact body they make, the reason, the author and
  the version of the service the author reviewed against; making it sends nothing;
- only an open, unexpired request can be approved, rejected or withdrawn, and only once (a
  conditional update of its status: of two approvers at once, one wins, the other is told);
- the author can never approve or reject their own request (refused before anything is read);
- approving sends exactly the requested body through the change pipeline as the approver, whose
  reason names the author, the request and the approver's comment; when the service changed since
  the author's review, the pipeline's re-read finds it, nothing is sent and the request is stale;
- a request older than ``APPROVAL_MAX_AGE`` expires (when it is next looked at);
- every step is an audit record: requested, approved, rejected, withdrawn, expired, stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.changes.models import ChangeRequest, RequestStatus
from vpcepadmin.cloud.editable import ServiceChanges
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints.modify import ApplyResult, EditRequest, modify_endpoint_service
from vpcepadmin.endpoints.pending import cache_call
from vpcepadmin.endpoints.versioning import Version

OPEN_COUNT_KEY = "approvals:open"  # the navigation badge's count, dropped whenever a request changes
OPEN_COUNT_SECONDS = 60
User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class Decision:
    """How an approval, a rejection or a withdrawal ended."""

    ok: bool
    message: str
    result: ApplyResult | None = None


def max_age() -> timedelta:
    return timedelta(seconds=settings.APPROVAL_MAX_AGE)


def request_change(
    credential: CloudCredential,
    version: Version,
    values: dict[str, Any],
    reason: str,
    context: recorder.Context,
    service_name: str = "",
) -> ChangeRequest:
    """Keep a reviewed change as a request (nothing is sent) and record that it was made."""
    body = ServiceChanges.between(version.original, values).to_api()
    author = context.actor
    username = author.get_username() if author is not None and author.is_authenticated else ""
    author_pk = author.pk if username and author is not None else None
    request = ChangeRequest.objects.create(
        credential=credential, service_id=version.service_id, service_name=service_name, values=values, body=body,
        version=_version_data(version), reason=reason, author_id=author_pk, author_username=username,
        created_at=timezone.now(),
    )  # fmt: skip
    recorder.append(
        _step(
            request, Action.REQUEST_CHANGE, context, reason=reason, before=version.original, request_body=body
        )
    )
    _counts_changed()
    return request


def open_requests() -> QuerySet[ChangeRequest]:
    """Open requests, oldest first (expiring the ones past their age first)."""
    expire_old()
    return (
        ChangeRequest.objects.filter(status=RequestStatus.OPEN)
        .select_related("credential")
        .order_by("created_at")
    )


def open_count() -> int:
    """The navigation badge: open requests (cached for a minute, dropped at every change)."""
    count = cache_call(lambda: cache.get(OPEN_COUNT_KEY))  # None while the shared cache is down
    if isinstance(count, int):
        return count
    fresh = ChangeRequest.objects.filter(
        status=RequestStatus.OPEN, created_at__gte=timezone.now() - max_age()
    )
    found = fresh.count()
    cache_call(lambda: cache.set(OPEN_COUNT_KEY, found, OPEN_COUNT_SECONDS))
    return found


def expire_old() -> int:
    """Mark open requests past ``APPROVAL_MAX_AGE`` expired, each with its record. Returns how many."""
    expired = 0
    for request in ChangeRequest.objects.filter(
        status=RequestStatus.OPEN, created_at__lt=timezone.now() - max_age()
    ):
        if _decide(request, RequestStatus.EXPIRED, None, ""):
            recorder.append(_step(request, Action.EXPIRE_REQUEST, recorder.Context(), after=_after(request)))
            expired += 1
    if expired:
        _counts_changed()
    return expired


def approve(request: ChangeRequest, comment: str, context: recorder.Context) -> Decision:
    """Approve and apply: exactly the requested body, through the pipeline, as the approver."""
    refusal = _refusal(request, context.actor, approving=True)
    if refusal:
        return Decision(False, refusal)
    if not _decide(request, RequestStatus.APPLIED, context.actor, comment):
        return Decision(False, "Somebody decided on this request at the same moment. Nothing was sent.")
    recorder.append(_step(request, Action.APPROVE_REQUEST, context, reason=comment, after=_after(request)))
    approver = request.decided_by_username
    reason = f"{request.reason} — requested by {request.author_username} (request #{request.pk})"
    reason += f", approved by {approver}"
    if comment:
        reason += f": {comment}"
    edit = EditRequest(request.values, reason[:200])
    result = modify_endpoint_service(request.credential, request.service_id, _version(request), edit, context)
    if result.outcome == Outcome.CONFLICT:
        _settle(request, RequestStatus.STALE, result.message)
        recorder.append(_step(request, Action.STALE_REQUEST, context, after=_after(request)))
        message = "The service changed since the request was reviewed: nothing was sent. The author can edit it again."
        _counts_changed()
        return Decision(False, message, result)
    _settle(request, RequestStatus.APPLIED if result.succeeded else RequestStatus.NOT_APPLIED, result.message)
    _counts_changed()
    return Decision(result.succeeded, result.message, result)


def reject(request: ChangeRequest, comment: str, context: recorder.Context) -> Decision:
    refusal = _refusal(request, context.actor, approving=True)
    if refusal:
        return Decision(False, refusal)
    if not _decide(request, RequestStatus.REJECTED, context.actor, comment):
        return Decision(False, "Somebody decided on this request at the same moment.")
    recorder.append(_step(request, Action.REJECT_REQUEST, context, reason=comment, after=_after(request)))
    _counts_changed()
    return Decision(True, "The request was rejected. Nothing was sent.")


def withdraw(request: ChangeRequest, context: recorder.Context) -> Decision:
    refusal = _refusal(request, context.actor, approving=False)
    if refusal:
        return Decision(False, refusal)
    if not _decide(request, RequestStatus.WITHDRAWN, context.actor, ""):
        return Decision(False, "Somebody decided on this request at the same moment.")
    recorder.append(_step(request, Action.WITHDRAW_REQUEST, context, after=_after(request)))
    _counts_changed()
    return Decision(True, "The request was withdrawn. Nothing was sent.")


def is_author(request: ChangeRequest, user: User | None) -> bool:
    return user is not None and user.is_authenticated and request.author_id == user.pk


def _refusal(request: ChangeRequest, user: User | None, *, approving: bool) -> str:
    """Why ``user`` may not take this step now ("" when they may)."""
    if approving and is_author(request, user):
        return "You made this request: another person must approve or reject it."
    if not approving and not is_author(request, user):
        return "Only the author can withdraw a request."
    if request.status == RequestStatus.OPEN and request.created_at < timezone.now() - max_age():
        expire_old()
        request.refresh_from_db()
    if request.status != RequestStatus.OPEN:
        return f"This request is no longer open ({request.get_status_display().lower()})."
    return ""


def _decide(request: ChangeRequest, status: str, user: User | None, comment: str) -> bool:
    """Move an open request to ``status`` unless somebody else moved it first (one UPDATE)."""
    username = user.get_username() if user is not None and user.is_authenticated else ""
    now = timezone.now()
    moved = ChangeRequest.objects.filter(pk=request.pk, status=RequestStatus.OPEN).update(
        status=status, decided_by_id=user.pk if username and user is not None else None,
        decided_by_username=username or "system",
        decided_at=now, comment=comment,
    )  # fmt: skip
    request.refresh_from_db()
    return moved == 1


def _settle(request: ChangeRequest, status: str, message: str) -> None:
    ChangeRequest.objects.filter(pk=request.pk).update(status=status, message=message[:500])
    request.refresh_from_db()


def _counts_changed() -> None:
    cache_call(lambda: cache.delete(OPEN_COUNT_KEY))


def _after(request: ChangeRequest) -> dict[str, Any]:
    step = {"request": request.pk, "status": request.status, "author": request.author_username}
    if request.comment:
        step["comment"] = request.comment
    return step


def _step(request: ChangeRequest, action: str, context: recorder.Context, **fields: Any) -> recorder.Entry:
    return recorder.Entry(
        action=action, target_type=TargetType.ENDPOINT_SERVICE, outcome=Outcome.APPLIED, context=context,
        credential=request.credential, target_id=request.service_id,
        target_name=request.service_name or request.service_id, **fields,
    )  # fmt: skip


def _version_data(version: Version) -> dict[str, Any]:
    return {
        "fingerprint": version.fingerprint, "original": version.original,
        "server_type": version.server_type, "status": version.status,
    }  # fmt: skip


def _version(request: ChangeRequest) -> Version:
    data = request.version
    return Version(
        request.service_id, request.credential_id, data["fingerprint"], dict(data["original"]),
        data.get("server_type", ""), data.get("status", ""),
    )  # fmt: skip


def records_of(request: ChangeRequest) -> QuerySet[AuditRecord]:
    """The audit records of a request's steps and of the change its approval made."""
    return AuditRecord.objects.filter(
        target_type=TargetType.ENDPOINT_SERVICE, target_id=request.service_id,
        project_id=request.credential.project_id, created_at__gte=request.created_at,
    ).order_by("seq")  # fmt: skip
