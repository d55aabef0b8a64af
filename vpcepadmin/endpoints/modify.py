"""The edit flow's use cases (design.md §2): load and apply.

Guarantees of ``modify_endpoint_service``:
- one change at a time per cloud service, whatever stored account is used: the committed attempt
  holds the service until it has its outcome (``changes.targets``), across processes and crashes;
- the service is re-read and compared with the fingerprint the form was loaded with; on a
  mismatch nothing is sent (a conflict); a service that is not available is refused unrecorded;
- the attempt (before state, exact body, actor, reason) is committed to the audit log before the
  PUT; at most one outcome record follows it (exactly one once settled; the database enforces it);
- one PUT with only the changed fields (``ports`` complete when changed), never retried;
- an answer that does not prove the outcome is reconciled at once by re-reading; what the re-read
  cannot prove is "undetermined", never a guess; when it cannot re-read, the attempt stays open
  for ``reconcile_audit``;
- the whole apply ends within ``EDIT_APPLY_DEADLINE`` (``vpcepadmin.budget``);
- project, service id and endpoint come from the stored account, never from the form.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.outcomes import outcome_of
from vpcepadmin.budget import Budget
from vpcepadmin.changes.targets import (
    Held,
    Target,
    after_the_call,
    claim,
    open_attempt,
    outcome_entry,
    settle,
    standing,
)
from vpcepadmin.changes.verdicts import judge
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.editable import ServiceChanges, edit_refusal
from vpcepadmin.cloud.endpoint_services import endpoint_service_get, endpoint_service_update
from vpcepadmin.cloud.errors import CloudError, CloudNotFound, CloudRejected
from vpcepadmin.cloud.types import EndpointService, format_timestamp
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure, note_success
from vpcepadmin.endpoints.services import ReadProblem, read_service
from vpcepadmin.endpoints.versioning import Version, fingerprint, sign_version


@dataclass(frozen=True)
class EditRequest:
    """What the operator asked for: the requested editable values, why, and what it restores."""

    values: dict[str, Any]
    reason: str
    restored_from: AuditRecord | None = None


@dataclass(frozen=True)
class Loaded:
    service: EndpointService
    version: str


def load_for_edit(credential: CloudCredential, service_id: str) -> Loaded | ReadProblem:
    """One GET: the service and the signed version token the form carries — only for a service
    that can be edited (``editable.edit_refusal``)."""
    service = read_service(credential, service_id)
    if isinstance(service, ReadProblem):
        return service
    refusal = edit_refusal(service.status)
    if refusal:
        return ReadProblem(refusal, not_editable=True)
    return Loaded(service, sign_version(credential, service))


def refusal_for(version: Version) -> ReadProblem | None:
    """Why a form loaded as ``version`` may not be reviewed or applied (the status it was loaded in)."""
    refusal = edit_refusal(version.status)
    return ReadProblem(refusal, not_editable=True) if refusal else None


@dataclass
class ApplyResult:
    """How an apply ended. ``outcome`` is an ``Outcome`` value, or "no_change" / "busy" / "unreadable"
    / "not_editable". ``Outcome.UNKNOWN`` here means the attempt stays open (no outcome record yet)."""

    outcome: str
    message: str
    service: EndpointService | None = None
    error: CloudError | None = None
    record: AuditRecord | None = None
    fresh_version: str = ""

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)


POLL_SECONDS = 0.05


def modify_endpoint_service(
    credential: CloudCredential,
    service_id: str,
    version: Version,
    request: EditRequest,
    context: recorder.Context,
) -> ApplyResult:
    """Apply one reviewed change (design.md §2 step 5): one GET and at most one PUT (one more GET
    when the answer is lost, and a GET again after waiting for another change to the service)."""
    budget = Budget.of(settings)
    started = time.monotonic()
    try:
        client = client_for(credential).until(started + budget.apply_deadline)
    except SecretUnreadable:
        return ApplyResult(
            "unreadable", "The stored secret cannot be decrypted — re-enter it. Nothing was sent."
        )
    target = Target.service(credential, service_id)
    wait_until = started + min(budget.lock_wait, budget.apply_deadline)
    while True:
        holder, read_after = standing(target)
        if holder is not None:
            if not _released(holder, target, wait_until, budget):
                return _busy(holder)
            continue  # read only once nothing is open: the read then shows every settled change
        prepared = _prepare(credential, client, service_id, version, request, context)
        if isinstance(prepared, ApplyResult):
            return prepared
        current, changes = prepared
        entry = _entry(credential, current, request, context, Outcome.ATTEMPTED, body=changes.to_api())
        claimed = claim(target, read_after, entry)
        if isinstance(claimed, AuditRecord):
            return _send(credential, client, current, changes, context, claimed)
        if isinstance(claimed, Held) and not _released(claimed.attempt, target, wait_until, budget):
            return _busy(claimed.attempt)
        if time.monotonic() >= wait_until:
            return _busy(open_attempt(target))
        # Another change began or ended since the read: read again (and meet it as a conflict).


def _prepare(
    credential: CloudCredential,
    client: VpcepClient,
    service_id: str,
    version: Version,
    request: EditRequest,
    context: recorder.Context,
) -> tuple[EndpointService, ServiceChanges] | ApplyResult:
    """Re-read the service and decide whether the change may be sent: the service and the PUT, or why not."""
    try:
        current = endpoint_service_get(client, service_id)
    except CloudError as exc:
        note_failure(credential, exc)
        message = "The service no longer exists." if isinstance(exc, CloudNotFound) else exc.message
        return ApplyResult(
            _read_outcome(exc), f"Could not re-read the service: {message} Nothing was sent.", error=exc
        )
    refusal = edit_refusal(current.status)
    if refusal:  # checked before the comparison: a refused edit is neither sent nor recorded
        return ApplyResult("not_editable", refusal, current)
    changes = ServiceChanges.between(version.original, request.values)
    if fingerprint(current) != version.fingerprint:
        record = recorder.append(
            _entry(credential, current, request, context, Outcome.CONFLICT, body=changes.to_api())
        )
        message = "The service changed since you loaded it. Nothing was sent."
        fresh = sign_version(credential, current)
        return ApplyResult(Outcome.CONFLICT, message, current, record=record, fresh_version=fresh)
    if changes.is_empty():
        return ApplyResult("no_change", "Nothing changed, so nothing was sent.", current)
    return current, changes


def _released(holder: AuditRecord, target: Target, until: float, budget: Budget) -> bool:
    """Wait for the change that holds ``target`` to get its outcome; False when ``until`` passed first.

    An attempt older than a whole apply has no process left to finish it (only the reconciler
    will): waiting for it would only hold this worker, so the answer is no at once.
    """
    if (timezone.now() - holder.created_at).total_seconds() > budget.apply_deadline:
        return False
    while time.monotonic() < until:
        time.sleep(POLL_SECONDS)
        if open_attempt(target) is None:
            return True
    return False


def _busy(holder: AuditRecord | None) -> ApplyResult:
    if holder is None:
        return ApplyResult("busy", "Other changes to this service kept coming. Nothing was sent; try again.")
    started = format_timestamp(holder.created_at).replace("T", " ").replace("Z", " UTC")
    return ApplyResult(
        "busy",
        f"Another change to this service has no outcome yet: started by {holder.actor_username} at "
        f"{started} (audit record #{holder.seq}). Nothing was sent; try again when it has one.",
        record=holder,
    )


def _send(
    credential: CloudCredential,
    client: VpcepClient,
    current: EndpointService,
    changes: ServiceChanges,
    context: recorder.Context,
    attempt: AuditRecord,
) -> ApplyResult:
    """The one PUT of a claimed change, and its outcome."""
    started = time.monotonic()
    try:
        result = endpoint_service_update(client, current.id, changes)
    except CloudError as exc:
        after_the_call()
        return _after_failure(credential, client, current, context, attempt, exc, started)
    after_the_call()
    record = settle(
        attempt,
        outcome_entry(
            attempt, Outcome.APPLIED, context=context, credential=credential, after=result.body,
            http_status=result.status, cloud_request_id=result.cloud_request_id, duration_ms=_ms(started),
        ),
    )  # fmt: skip
    note_success(credential)
    return ApplyResult(record.outcome, _MESSAGES.get(record.outcome, ""), result.value, record=record)


def _read_outcome(error: CloudError) -> str:
    return Outcome.REJECTED if isinstance(error, CloudNotFound | CloudRejected) else Outcome.FAILED


def _after_failure(
    credential: CloudCredential,
    client: VpcepClient,
    current: EndpointService,
    context: recorder.Context,
    attempt: AuditRecord,
    error: CloudError,
    started: float,
) -> ApplyResult:
    """Record what ``error`` proves; when it proves nothing, re-read at once and record what that proves."""
    note_failure(credential, error)
    fields: dict[str, Any] = {
        "context": context, "credential": credential, "http_status": error.status or None,
        "error_code": error.error_code, "cloud_request_id": error.cloud_request_id, "duration_ms": _ms(started),
    }  # fmt: skip
    outcome = outcome_of(error)
    if outcome != Outcome.UNKNOWN:
        record = settle(attempt, outcome_entry(attempt, outcome, error_message=error.message, **fields))
        return ApplyResult(record.outcome, _message(record.outcome, error), error=error, record=record)
    try:
        now = endpoint_service_get(client, current.id)
    except CloudError:
        return ApplyResult(Outcome.UNKNOWN, _MESSAGES[Outcome.UNKNOWN], error=error, record=attempt)
    verdict = judge(attempt.before, attempt.request_body, now, timezone.now())
    message = f"{error.message} Re-read at once: {verdict.reason}"
    entry = outcome_entry(attempt, verdict.outcome, after=now.to_api(), error_message=message, **fields)
    record = settle(attempt, entry)
    return ApplyResult(record.outcome, _message(record.outcome, error), error=error, record=record)


def _message(outcome: str, error: CloudError) -> str:
    if outcome == Outcome.REJECTED:
        return f"{error.summary} Nothing was applied."
    if outcome == Outcome.FAILED:
        return f"The request could not be sent ({error.message}). Nothing was applied."
    return _MESSAGES.get(outcome, error.summary)


_MESSAGES: dict[str, str] = {
    Outcome.APPLIED: "Change applied.",
    Outcome.RECONCILED_APPLIED: "The cloud's answer did not prove the outcome, but re-reading the service "
    "shows the change was applied.",
    Outcome.RECONCILED_NOT_APPLIED: "The cloud's answer did not prove the outcome; re-reading the service "
    "shows it was not applied.",
    Outcome.UNDETERMINED: "The cloud's answer did not prove the outcome, and re-reading cannot tell either: "
    "the service changed in another way meanwhile. It is recorded as undetermined; check the service.",
    Outcome.UNKNOWN: "The cloud's answer did not prove the outcome and the service could not be re-read. The "
    "change stays open — no other change to this service can be applied — until reconcile_audit settles it.",
}


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _entry(
    credential: CloudCredential,
    current: EndpointService,
    request: EditRequest,
    context: recorder.Context,
    outcome: str,
    *,
    body: dict[str, Any],
) -> recorder.Entry:
    """An attempt or a conflict: the state before, the exact body, who and why."""
    return recorder.Entry(
        action=Action.MODIFY_ENDPOINT_SERVICE,
        target_type=TargetType.ENDPOINT_SERVICE,
        outcome=outcome,
        context=context,
        credential=credential,
        target_id=current.id,
        target_name=current.name or current.id,
        reason=request.reason,
        before=current.to_api(),
        request_body=body,
        restored_from=request.restored_from,
    )
