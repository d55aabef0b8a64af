"""Settling attempts whose outcome is missing or unknown (``manage.py reconcile_audit``)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for
from vpcepadmin.endpoints.modify import reconcile

SETTLED = (
    Outcome.APPLIED,
    Outcome.REJECTED,
    Outcome.FAILED,
    Outcome.RECONCILED_APPLIED,
    Outcome.RECONCILED_NOT_APPLIED,
)


def pending_attempts() -> list[AuditRecord]:
    """Attempts with no settled outcome record: none at all, or only ``unknown`` ones."""
    settled = AuditRecord.objects.filter(attempt=OuterRef("pk"), outcome__in=SETTLED)
    return list(
        AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.ATTEMPTED)
        .exclude(Exists(settled))
        .select_related("credential")
        .order_by("seq")
    )


def reconcile_pending() -> list[str]:
    """Re-read each pending attempt's service and append the reconciled outcome. Returns a report."""
    report = []
    for attempt in pending_attempts():
        credential = attempt.credential
        if credential is None:
            report.append(f"#{attempt.seq}: the account was deleted; cannot re-read {attempt.target_id}.")
            continue
        report.append(_settle(attempt, credential))
    return report


def _settle(attempt: AuditRecord, credential: CloudCredential) -> str:
    try:
        client = client_for(credential)
    except SecretUnreadable:
        return f"#{attempt.seq}: the account's secret is unreadable; re-enter it and run again."
    body = attempt.request_body if isinstance(attempt.request_body, dict) else {}
    outcome, after = reconcile(client, attempt.target_id, attempt.before or {}, body)
    if outcome == Outcome.UNKNOWN:
        return f"#{attempt.seq}: still unknown (the service could not be read or changed otherwise)."
    record = recorder.append(
        recorder.Entry(
            action=Action.MODIFY_ENDPOINT_SERVICE,
            target_type=TargetType.ENDPOINT_SERVICE,
            outcome=outcome,
            credential=credential,
            target_id=attempt.target_id,
            target_name=attempt.target_name,
            reason=attempt.reason,
            request_body=attempt.request_body,
            after=after,
            error_message="Settled by reconcile_audit.",
            attempt=attempt,
            restored_from=attempt.restored_from,
        )
    )
    return f"#{attempt.seq}: {record.get_outcome_display()} (record #{record.seq})."
