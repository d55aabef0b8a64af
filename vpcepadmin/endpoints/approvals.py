"""Four eyes (issue 14): on an account whose changes need a second person's approval (or when a
policy says a change needs one), a reviewed change — a service edit, or accepting, rejecting, adding
or removing connections and whitelist entries — is a request; another operator approves it, and only
then is it sent.

Guarantees:
- a request keeps exactly the reviewed values, the exact body they make, the reason, the author and
  the version of the service the author reviewed against; making it sends nothing;
- only an open, unexpired request can be approved, rejected or withdrawn, and only once (a
  conditional update of its status: of two approvers at once, one wins, the other is told);
- the author can never approve or reject their own request (refused before anything is read);
- approving sends exactly the requested body through the change pipeline as the approver, whose
  reason names the author, the request and the approver's comment; when the service (or a
  connection or entry) changed since the author's review, the pipeline's re-read finds it, nothing
  is sent for it and the request is stale; its author can lay it over the service as it is now
  (``rebase_values``) and request it again;
- a request older than ``APPROVAL_MAX_AGE`` expires (when it is next looked at);
- every step is an audit record: requested, approved, rejected, withdrawn, expired, stale.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.changes.models import ChangeRequest, RequestStatus
from vpcepadmin.cloud.editable import ServiceChanges, merge_onto
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints import actions
from vpcepadmin.endpoints.actions import ItemResult, Seen
from vpcepadmin.endpoints.modify import ApplyResult, EditRequest, modify_endpoint_service
from vpcepadmin.endpoints.shared_cache import cache_call
from vpcepadmin.endpoints.versioning import Version
from vpcepadmin.policies.rules import Finding, needs_approval
from vpcepadmin.request_values import parse_int

OPEN_COUNT_KEY = "approvals:open"  # the navigation badge's count, dropped whenever a request changes
OPEN_COUNT_SECONDS = 60
User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class Decision:
    """How an approval, a rejection or a withdrawal ended."""

    ok: bool
    message: str
    result: ApplyResult | None = None
    items: list[ItemResult] | None = None  # a connection or whitelist request's, one per item


def max_age() -> timedelta:
    return timedelta(seconds=settings.APPROVAL_MAX_AGE)


def needs_request(credential: CloudCredential, findings: list[Finding]) -> bool:
    """Whether a change goes out only through a change request: the account's four eyes, or a
    policy that says this change needs approval (``findings``: what the policies say of it)."""
    return credential.four_eyes() or needs_approval(findings)


def request_change(
    credential: CloudCredential,
    version: Version,
    values: dict[str, Any],
    reason: str,
    context: recorder.Context,
    service_name: str = "",
    restored_from: AuditRecord | None = None,
) -> ChangeRequest:
    """Keep a reviewed change as a request (nothing is sent) and record that it was made, together."""
    body = ServiceChanges.between(version.original, values).to_api()
    return _open(
        credential, version.service_id, service_name, reason, context, restored_from,
        recorded=(version.original, body, {}), values=values, body=body, version=_version_data(version),
    )  # fmt: skip


def request_actions(
    credential: CloudCredential,
    action: str,
    seen: Sequence[Seen],
    reason: str,
    context: recorder.Context,
    service_name: str = "",
    also_reject: Sequence[Seen] = (),
    restored_from: AuditRecord | None = None,
) -> ChangeRequest:
    """Keep a confirmed connection or whitelist change as a request: each connection or entry as
    the author saw it (approving sends nothing for one that changed since), nothing sent."""
    bodies = [actions.item_body(item, action) for item in seen]
    # The record names everything approving would send: the items, then the connections to reject.
    then = [actions.item_body(item, Action.REJECT_CONNECTION) for item in also_reject]
    said = {"action": action, "items": len(bodies), "then_reject": len(then)}
    return _open(
        credential, seen[0].service_id, service_name, reason, context, restored_from,
        recorded=(None, bodies + then, said), kind=action, items=[list(astuple(item)) for item in seen],
        also_reject=[list(astuple(item)) for item in also_reject], values={}, body=bodies, version={},
    )  # fmt: skip


def _open(
    credential: CloudCredential,
    service_id: str,
    service_name: str,
    reason: str,
    context: recorder.Context,
    restored_from: AuditRecord | None,
    recorded: tuple[Any, Any, dict[str, Any]],
    **fields: Any,
) -> ChangeRequest:
    """A new open request by the context's user, and its "Change requested" record (``recorded``:
    the record's before, request body and what its "after" adds), in one transaction."""
    author_pk, username = _who(context)
    before, body, after = recorded
    with transaction.atomic():
        request = ChangeRequest.objects.create(
            credential=credential, service_id=service_id, service_name=service_name, reason=reason,
            author_id=author_pk, author_username=username, created_at=timezone.now(),
            restored_from=restored_from, request_ids=[context.request_id] if context.request_id else [],
            **fields,
        )  # fmt: skip
        step = _step(request, Action.REQUEST_CHANGE, context, reason=reason, before=before)
        step.request_body, step.after = body, {"request": request.pk, **after}
        recorder.append(step)
    _counts_changed()
    return request


def _who(context: recorder.Context) -> tuple[int | None, str]:
    """The primary key and name of the context's user ((None, "") for nobody signed in)."""
    user = context.actor
    if user is None or not user.is_authenticated:
        return None, ""
    return user.pk, user.get_username()


def seen_items(request: ChangeRequest) -> list[Seen]:
    """A connection or whitelist request's items, as its author saw them."""
    return [Seen(*item) for item in request.items]


def also_rejected(request: ChangeRequest) -> list[Seen]:
    """A whitelist removal request's connections to reject after it, as its author saw them."""
    return [Seen(*item) for item in request.also_reject]


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


def expire_if_due(request: ChangeRequest) -> None:
    """A request past its age is expired now (with its record) rather than offered for a decision."""
    if request.status == RequestStatus.OPEN and request.created_at < timezone.now() - max_age():
        expire_old()
        request.refresh_from_db()


def expire_old() -> int:
    """Mark open requests past ``APPROVAL_MAX_AGE`` expired, each with its record. Returns how many."""
    expired = 0
    for request in ChangeRequest.objects.filter(
        status=RequestStatus.OPEN, created_at__lt=timezone.now() - max_age()
    ):
        # An id of its own, kept with the request, so that the request's page lists its expiry record.
        expiry = recorder.Context(request_id=f"expire-{uuid.uuid4().hex[:16]}")
        if _decide(request, RequestStatus.EXPIRED, expiry, "", Action.EXPIRE_REQUEST):
            expired += 1
    return expired


def approve(request: ChangeRequest, comment: str, context: recorder.Context) -> Decision:
    """Approve and apply: exactly the requested body, through the pipeline, as the approver."""
    refusal = _refusal(request, context.actor, approving=True)
    if refusal:
        return Decision(False, refusal)
    if request.kind != Action.MODIFY_ENDPOINT_SERVICE:
        return _approve_actions(request, comment, context)
    version = _version(request)
    if ServiceChanges.between(version.original, request.values).to_api() != request.body:
        return Decision(
            False, "The request's values no longer make the body that was reviewed. Nothing was sent."
        )
    if not _decide(request, RequestStatus.APPROVED, context, comment, Action.APPROVE_REQUEST):
        return Decision(False, SIMULTANEOUS)
    edit = EditRequest(request.values, _named_reason(request), request.restored_from)
    result = modify_endpoint_service(
        request.credential, request.service_id, version, edit, context, approval=request
    )
    if result.outcome == Outcome.CONFLICT:
        _settle(request, RequestStatus.STALE, result.message, Action.STALE_REQUEST, context)
        return Decision(False, "The service changed since the request was reviewed: nothing was sent. "
                        "The author can edit it again.", result)  # fmt: skip
    if result.succeeded:
        _settle(request, RequestStatus.APPLIED, result.message)
    elif result.outcome in (Outcome.UNKNOWN, Outcome.UNDETERMINED):
        _settle(request, RequestStatus.UNKNOWN, result.message)  # its attempt's records tell the rest
    else:
        _settle(request, RequestStatus.NOT_APPLIED, result.message, Action.REQUEST_NOT_APPLIED, context)
    return Decision(result.succeeded, result.message, result)


SIMULTANEOUS = "Somebody decided on this request at the same moment. Nothing was sent."


def _named_reason(request: ChangeRequest) -> str:
    """The names first: whatever the author wrote, the records of the change name both people."""
    names = f"Request #{request.pk} by {request.author_username}, approved by {request.decided_by_username}"
    return f"{names}: {request.reason}"[:200]


def _approve_actions(request: ChangeRequest, comment: str, context: recorder.Context) -> Decision:
    """Approve a connection or whitelist request: each item through the pipeline, as the approver,
    as its author saw it. Applied when every item was; stale when none was and one had changed."""
    credential = request.credential
    items = seen_items(request)
    if [actions.item_body(item, request.kind) for item in items] != request.body:
        return Decision(
            False, "The request's items no longer make the body that was reviewed. Nothing was sent."
        )
    if not _decide(request, RequestStatus.APPROVED, context, comment, Action.APPROVE_REQUEST):
        return Decision(False, SIMULTANEOUS)
    reason, name = _named_reason(request), request.service_name
    if request.kind in (Action.ACCEPT_CONNECTION, Action.REJECT_CONNECTION):
        results = actions.apply_connections(
            credential, items, request.kind, reason, context, approval=request
        )
    else:
        results = actions.apply_whitelist(
            credential,
            items[0],
            reason,
            context,
            also_rejected(request),
            request.restored_from,
            name=name,
            approval=request,
        )
    return _settle_items(request, results, context)


# What a connection or whitelist item's outcome says of whether something may have been sent.
UNPROVEN = (Outcome.UNKNOWN, Outcome.UNDETERMINED)
NOTHING_SENT_FOR_IT = (Outcome.CONFLICT, "not_sent")


def _settle_items(request: ChangeRequest, results: list[ItemResult], context: recorder.Context) -> Decision:
    """A connection or whitelist request's end, from its items' outcomes: applied (every item),
    outcome not known yet (an item's call proved nothing: its attempt's records tell), stale (no
    item sent because one had changed), partly applied (some), not applied (none)."""
    outcomes = [item.result.outcome for item in results]
    done = [item for item in results if item.result.succeeded]
    message = "; ".join(f"{item.seen.item_id}: {item.result.message}" for item in results)
    if len(done) == len(results):
        _settle(request, RequestStatus.APPLIED, message)
        return Decision(True, "Approved and applied.", items=results)
    if any(outcome in UNPROVEN for outcome in outcomes):
        _settle(request, RequestStatus.UNKNOWN, message)
        return Decision(
            False, f"Approved; the outcome is not known yet for some items: {message}", items=results
        )
    if Outcome.CONFLICT in outcomes and all(outcome in NOTHING_SENT_FOR_IT for outcome in outcomes):
        _settle(request, RequestStatus.STALE, message, Action.STALE_REQUEST, context)
        return Decision(False, "What the request changes is no longer as its author saw it: nothing was "
                        "sent. The author can request it again.", items=results)  # fmt: skip
    status = RequestStatus.PARTLY_APPLIED if done else RequestStatus.NOT_APPLIED
    _settle(request, status, message, Action.REQUEST_NOT_APPLIED, context)
    return Decision(False, f"{len(done)} of {len(results)} applied: {message}", items=results)


def rebase_of(
    pk: str | None, user: User | None, credential: CloudCredential, service_id: str
) -> ChangeRequest | None:
    """The stale service request ``pk`` its author (``user``) lays over the service as it is now."""
    number = parse_int(pk, low=1, high=2**62)
    if number is None or user is None or not user.is_authenticated:
        return None
    return ChangeRequest.objects.filter(
        pk=number, author_id=user.pk, credential=credential, service_id=service_id,
        kind=Action.MODIFY_ENDPOINT_SERVICE, status=RequestStatus.STALE,
    ).first()  # fmt: skip


def rebase_values(request: ChangeRequest, current: dict[str, Any]) -> dict[str, Any]:
    """A stale service request's changes laid over the service as it is now (``current``): what
    its author reviews again (the same overlay as re-applying after a conflict)."""
    return merge_onto(dict(request.version["original"]), current, request.values)


def reject(request: ChangeRequest, comment: str, context: recorder.Context) -> Decision:
    refusal = _refusal(request, context.actor, approving=True)
    if refusal:
        return Decision(False, refusal)
    if not _decide(request, RequestStatus.REJECTED, context, comment, Action.REJECT_REQUEST):
        return Decision(False, SIMULTANEOUS)
    return Decision(True, "The request was rejected. Nothing was sent.")


def withdraw(request: ChangeRequest, context: recorder.Context) -> Decision:
    refusal = _refusal(request, context.actor, approving=False)
    if refusal:
        return Decision(False, refusal)
    if not _decide(request, RequestStatus.WITHDRAWN, context, "", Action.WITHDRAW_REQUEST):
        return Decision(False, SIMULTANEOUS)
    return Decision(True, "The request was withdrawn. Nothing was sent.")


def is_author(request: ChangeRequest, user: User | None) -> bool:
    """The request's author: the same user, or a user of the same name (one deleted and made again
    is still its author: the name is what the audit log knows)."""
    if user is None or not user.is_authenticated:
        return False
    return request.author_id == user.pk or request.author_username == user.get_username()


def _refusal(request: ChangeRequest, user: User | None, *, approving: bool) -> str:
    """Why ``user`` may not take this step now ("" when they may)."""
    if approving and is_author(request, user):
        return "You made this request: another person must approve or reject it."
    if not approving and not is_author(request, user):
        return "Only the author can withdraw a request."
    expire_if_due(request)
    if request.status != RequestStatus.OPEN:
        return f"This request is no longer open ({request.get_status_display().lower()})."
    return ""


def _decide(
    request: ChangeRequest, status: str, context: recorder.Context, comment: str, action: str
) -> bool:
    """Move an open request to ``status`` unless somebody else moved it first (one conditional
    UPDATE), and record the step in the same transaction."""
    user_pk, username = _who(context)
    with transaction.atomic():
        moved = ChangeRequest.objects.filter(pk=request.pk, status=RequestStatus.OPEN).update(
            status=status, decided_by_id=user_pk, decided_by_username=username or "system",
            decided_at=timezone.now(), comment=comment,
        )  # fmt: skip
        request.refresh_from_db()
        if moved == 1:
            _note_request_id(request, context)
            recorder.append(_step(request, action, context, reason=comment, after=_after(request)))
    _counts_changed()
    return moved == 1


def _settle(
    request: ChangeRequest,
    status: str,
    message: str,
    action: str = "",
    context: recorder.Context | None = None,
) -> None:
    """The approved request's end (applied, not applied, stale, unknown), with its step record
    when it has one of its own (an applied change's records are the pipeline's)."""
    with transaction.atomic():
        ChangeRequest.objects.filter(pk=request.pk).update(status=status, message=message[:500])
        request.refresh_from_db()
        if action:
            step = _step(request, action, context or recorder.Context(), after=_after(request, why=message))
            recorder.append(step)
    _counts_changed()


def _note_request_id(request: ChangeRequest, context: recorder.Context) -> None:
    if context.request_id and context.request_id not in request.request_ids:
        request.request_ids = [*request.request_ids, context.request_id]
        ChangeRequest.objects.filter(pk=request.pk).update(request_ids=request.request_ids)


def _counts_changed() -> None:
    cache_call(lambda: cache.delete(OPEN_COUNT_KEY))


def _after(request: ChangeRequest, why: str = "") -> dict[str, Any]:
    step = {"request": request.pk, "status": request.status, "author": request.author_username}
    if request.comment:
        step["comment"] = request.comment
    if why:
        step["why"] = why[:300]
    return step


def _step(request: ChangeRequest, action: str, context: recorder.Context, **fields: Any) -> recorder.Entry:
    return recorder.Entry(
        action=action, target_type=TargetType.ENDPOINT_SERVICE, outcome=Outcome.RECORDED, context=context,
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
    """The audit records of a request: its steps and the change its approval made (the web requests
    of its steps, on its service)."""
    return AuditRecord.objects.filter(
        request_id__in=request.request_ids or ["-"], target_id=request.service_id,
        project_id=request.credential.project_id,
    ).order_by("seq")  # fmt: skip
