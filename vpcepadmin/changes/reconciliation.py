"""Settling the attempts a crash or a lost answer left open (``manage.py reconcile_audit``).

It never races and never guesses:
- it looks only at attempts older than the longest possible apply (``Budget.reconcile_after``):
  by then their process is gone and the cloud has answered or dropped the call;
- each outcome is appended under the target's ordering lock, only if the attempt is still open (a
  database constraint backs this: one settling outcome per attempt);
- the outcome is what re-reading the target proves, judged by the change's kind (``changes.kinds``,
  the same judgement as a lost answer's at once): applied, not applied, or — when the target changed
  again since — undetermined, final, for a person to review. An attempt whose target cannot be read
  now stays open and is tried again at the next run; so does one of a kind this version does not know.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from vpcepadmin.audit.models import AuditRecord, Outcome, TargetType
from vpcepadmin.budget import Budget
from vpcepadmin.changes import kinds  # noqa: F401 — declares the kinds
from vpcepadmin.changes.pipeline import ChangeKind, kind_of
from vpcepadmin.changes.targets import Target, after_the_call, open_attempts, outcome_entry, settle
from vpcepadmin.changes.verdicts import Verdict
from vpcepadmin.cloud.errors import CloudError, CloudNotFound
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for

NOTE = "Settled by reconcile_audit: "


def reconcile_pending(records: QuerySet[AuditRecord] | None = None) -> list[str]:
    """Settle every open attempt (among ``records``) old enough to be settled. Returns one line per
    attempt looked at."""
    after = Budget.of(settings).reconcile_after
    cutoff = timezone.now() - timedelta(seconds=after)
    report = [_settle(attempt, after) for attempt in open_attempts(records).filter(created_at__lt=cutoff)]
    young = open_attempts(records).filter(created_at__gte=cutoff).count()
    if young:
        report.append(
            f"{young} open attempt(s) younger than {after:g} s left for a later run: they may still be in flight."
        )
    return report


def _settle(attempt: AuditRecord, after: float) -> str:
    target = Target.of_record(attempt)
    kind = kind_of(attempt.action)
    if target.target_type != TargetType.ENDPOINT_SERVICE or kind is None:
        return f"#{attempt.seq}: no reconciliation for {attempt.action} yet; it stays open."
    credential = _reader(attempt, target)
    if credential is None:
        return (
            f"#{attempt.seq}: no stored account reaches project {target.project_id}; add one and run again."
        )
    try:
        current = kind.reread(client_for(credential), target.target_id, attempt.request_body)
        after_the_call()
    except SecretUnreadable:
        return f"#{attempt.seq}: the secret of “{credential.name}” is unreadable; re-enter it and run again."
    except CloudNotFound:
        after_the_call()
        verdict = Verdict(
            Outcome.UNDETERMINED, "The service no longer exists, so its state cannot be compared."
        )
        return _write(attempt, kind, credential, verdict, None)
    except CloudError as exc:
        return f"#{attempt.seq}: the {kind.noun} could not be read ({exc.summary}); it stays open, run again."
    except ValueError as exc:  # the attempt names nothing that can be read (a record of odd content)
        return f"#{attempt.seq}: the {kind.noun} it names cannot be read ({exc}); it stays open for review."
    window_end = attempt.created_at + timedelta(seconds=after)
    verdict = kind.judge(attempt.before, attempt.request_body, current, window_end)
    return _write(attempt, kind, credential, verdict, current)


def _reader(attempt: AuditRecord, target: Target) -> CloudCredential | None:
    """The attempt's own account, else any stored account of the same project (one target, many accounts)."""
    if attempt.credential_id is not None:
        own = CloudCredential.objects.filter(pk=attempt.credential_id).first()
        if own is not None:
            return own
    return target.credentials().order_by("pk").first()


def _write(
    attempt: AuditRecord, kind: type[ChangeKind], credential: CloudCredential, verdict: Verdict, current: Any
) -> str:
    entry = outcome_entry(
        attempt,
        verdict.outcome,
        credential=credential,
        after=kind.snapshot(current) if current is not None else None,
        error_message=NOTE + verdict.reason,
    )
    record = settle(attempt, entry, lambda target: kind.observed(target, current, attempt.request_body))
    if record.error_message != entry.error_message or record.outcome != verdict.outcome:
        return f"#{attempt.seq}: already settled as {record.get_outcome_display()} (record #{record.seq})."
    return f"#{attempt.seq}: {record.get_outcome_display()} (record #{record.seq}). {verdict.reason}"
