"""The edit flow's use cases (design.md §2): load, review, apply, reconcile.

Guarantees of ``modify_endpoint_service``:
- our own operators are serialised per service (``locks.service_lock``);
- the service is re-read and compared with the fingerprint the form was loaded with; on a
  mismatch nothing is sent (a conflict);
- the attempt (before state, exact body, actor, reason) is committed to the audit log before the
  PUT, and exactly one outcome record follows it, whatever happens;
- one PUT with only the changed fields (``ports`` complete when changed), never retried;
- project, service id and endpoint come from the stored account, never from the form.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.outcomes import outcome_of
from vpcepadmin.cloud.editable import ServiceChanges, edit_refusal, editable_values
from vpcepadmin.cloud.endpoint_services import endpoint_service_get, endpoint_service_update
from vpcepadmin.cloud.errors import CloudError, CloudNotFound, CloudRejected
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure, note_success
from vpcepadmin.endpoints.locks import ServiceBusy, service_lock
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
    / "not_editable"."""

    outcome: str
    message: str
    service: EndpointService | None = None
    error: CloudError | None = None
    record: AuditRecord | None = None
    fresh_version: str = ""

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)


def modify_endpoint_service(
    credential: CloudCredential,
    service_id: str,
    version: Version,
    request: EditRequest,
    context: recorder.Context,
) -> ApplyResult:
    """Apply one reviewed change (design.md §2 step 5). Makes one GET and at most one PUT."""
    try:
        client = client_for(credential)
    except SecretUnreadable:
        return ApplyResult(
            "unreadable", "The stored secret cannot be decrypted — re-enter it. Nothing was sent."
        )
    try:
        with service_lock(credential.pk, service_id):
            return _apply_locked(credential, client, service_id, version, request, context)
    except ServiceBusy:
        return ApplyResult(
            "busy", "Another change to this service is being applied. Nothing was sent; try again."
        )


def _apply_locked(
    credential: CloudCredential,
    client: Any,
    service_id: str,
    version: Version,
    request: EditRequest,
    context: recorder.Context,
) -> ApplyResult:
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
    body = changes.to_api()
    if fingerprint(current) != version.fingerprint:
        record = _record(credential, current, request, context, Outcome.CONFLICT, body=body)
        message = "The service changed since you loaded it. Nothing was sent."
        fresh = sign_version(credential, current)
        return ApplyResult(Outcome.CONFLICT, message, current, record=record, fresh_version=fresh)
    if not body:
        return ApplyResult("no_change", "Nothing changed, so nothing was sent.", current)
    attempt = _record(credential, current, request, context, Outcome.ATTEMPTED, body=body)
    started = time.monotonic()
    try:
        result = endpoint_service_update(client, service_id, changes)
    except CloudError as exc:
        return _after_failure(credential, client, current, request, context, attempt, body, exc, started)
    with transaction.atomic():  # one commit for the outcome and the account's success stamp
        record = _record(
            credential, current, request, context, Outcome.APPLIED, attempt=attempt, after=result.body,
            http_status=result.status, cloud_request_id=result.cloud_request_id, started=started,
        )  # fmt: skip
        note_success(credential)
    return ApplyResult(Outcome.APPLIED, "Change applied.", result.value, record=record)


def _read_outcome(error: CloudError) -> str:
    return Outcome.REJECTED if isinstance(error, CloudNotFound | CloudRejected) else Outcome.FAILED


def _after_failure(
    credential: CloudCredential,
    client: Any,
    current: EndpointService,
    request: EditRequest,
    context: recorder.Context,
    attempt: AuditRecord,
    body: dict[str, Any],
    error: CloudError,
    started: float,
) -> ApplyResult:
    note_failure(credential, error)
    outcome: str = outcome_of(error)
    after = None
    if outcome == Outcome.UNKNOWN:  # reconciled at once by re-reading the service
        outcome, after = reconcile(client, current.id, current, body)
    record = _record(
        credential, current, request, context, outcome, attempt=attempt, after=after, error=error, started=started
    )  # fmt: skip
    return ApplyResult(outcome, _outcome_message(outcome, error), error=error, record=record)


def _outcome_message(outcome: str, error: CloudError) -> str:
    if outcome == Outcome.REJECTED:
        return f"{error.summary} Nothing was applied."
    if outcome == Outcome.FAILED:
        return f"The request could not be sent ({error.message}). Nothing was applied."
    return _UNKNOWN_MESSAGES[outcome]


_UNKNOWN_MESSAGES: dict[str, str] = {
    Outcome.RECONCILED_APPLIED: "The cloud's answer did not prove the outcome, but re-reading the service "
    "shows the change was applied.",
    Outcome.RECONCILED_NOT_APPLIED: "The cloud's answer did not prove the outcome; re-reading the service "
    "shows it was not applied.",
    Outcome.UNKNOWN: "The cloud's answer did not prove the outcome and the service could not be re-read: "
    "the outcome is unknown. Check the service before trying again.",
}


def reconcile(
    client: Any, service_id: str, before: EndpointService | dict[str, Any], body: dict[str, Any]
) -> tuple[str, Any]:
    """Re-read the service after an unknown outcome and compare it with the request.

    ``before`` is the service before the request (or its API snapshot from the attempt record).
    Returns (outcome, after-state): applied when every requested field now has the requested
    value, not applied when the editable fields still equal ``before``, unknown otherwise.
    """
    try:
        current = endpoint_service_get(client, service_id)
    except CloudError:
        return Outcome.UNKNOWN, None
    now = editable_values(current)
    if ServiceChanges.between(now, {**now, **body}).is_empty():
        return Outcome.RECONCILED_APPLIED, current.to_api()
    original = _editable_or_none(before)
    if original is not None and ServiceChanges.between(original, now).is_empty():
        return Outcome.RECONCILED_NOT_APPLIED, current.to_api()
    return Outcome.UNKNOWN, current.to_api()


def _editable_or_none(before: EndpointService | dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(before, EndpointService):
        return editable_values(before)
    try:
        return editable_values(EndpointService.from_api(before))
    except ValueError:
        return None


def _record(
    credential: CloudCredential,
    current: EndpointService,
    request: EditRequest,
    context: recorder.Context,
    outcome: str,
    *,
    body: dict[str, Any] | None = None,
    attempt: AuditRecord | None = None,
    after: Any = None,
    error: CloudError | None = None,
    http_status: int | None = None,
    cloud_request_id: str = "",
    started: float | None = None,
) -> AuditRecord:
    """Append one record; an outcome record (``attempt`` given) repeats the attempt's body."""
    duration_ms = int((time.monotonic() - started) * 1000) if started is not None else None
    if error is not None:
        http_status, cloud_request_id = error.status or None, error.cloud_request_id
    return recorder.append(
        recorder.Entry(
            action=Action.MODIFY_ENDPOINT_SERVICE,
            target_type=TargetType.ENDPOINT_SERVICE,
            outcome=outcome,
            context=context,
            credential=credential,
            target_id=current.id,
            target_name=current.name or current.id,
            reason=request.reason,
            before=current.to_api() if attempt is None else None,
            request_body=body if attempt is None else attempt.request_body,
            after=after,
            http_status=http_status,
            error_code=error.error_code if error else "",
            error_message=error.message if error else "",
            cloud_request_id=cloud_request_id,
            duration_ms=duration_ms,
            attempt=attempt,
            restored_from=request.restored_from,
        )
    )
