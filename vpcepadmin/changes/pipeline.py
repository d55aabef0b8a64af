"""The one change pipeline (design.md §6b): every change the dashboard makes to the cloud runs here.

A kind of change declares itself (``ChangeKind``: what it re-reads, how reconciling judges it, what
its audit snapshots are) and each change of that kind what it reads, how it compares, what it sends
and what it is called (``Change``). The pipeline is written once:

- **lock**: one change at a time per target — the committed attempt holds it until it has its
  outcome (``changes.targets``), across processes and crashes; a change waits for an open one;
- **gate**: on an account whose changes need a second person's approval, only a change request that
  another person approved goes on (``approval``, checked here); answered unrecorded, nothing read;
- **re-read** the target as it is now; a state the change refuses is answered unrecorded; a state
  different from what the operator saw is a **conflict**: recorded, nothing sent; then the policies
  of the account's environment judge what would be sent (``policies.rules``): a forbidden change is
  refused, one a policy says needs approval goes on only as an approved request (both unrecorded);
- **attempt** record committed before the call (before state, exact body, actor, reason);
- **call**: exactly one, never retried;
- **outcome**: exactly one record (the database enforces it); an answer that does not prove the
  outcome is reconciled at once by re-reading (``ChangeKind.judge``); what cannot be re-read stays
  open for ``reconcile_audit``, which settles every kind the same way;
- the whole change ends within ``EDIT_APPLY_DEADLINE`` (``vpcepadmin.budget``).

The target of every change is an endpoint service: its connections and its whitelist are parts of
it, so a change to either takes the service's turn (and shows in the service's History).
"""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.events import attempt_left_open, notify
from vpcepadmin.audit.models import AuditRecord, Outcome, TargetType
from vpcepadmin.audit.outcomes import outcome_of
from vpcepadmin.budget import Budget
from vpcepadmin.changes.models import ChangeRequest, RequestStatus
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
from vpcepadmin.changes.verdicts import Verdict
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import CallResult
from vpcepadmin.cloud.errors import CloudError, CloudNotFound, CloudRejected
from vpcepadmin.cloud.types import format_timestamp
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure, note_success
from vpcepadmin.policies.rules import Finding, Settings, needs_approval, refusals, settings_for

KINDS: dict[str, type[ChangeKind]] = {}


class ChangeKind(ABC):
    """One kind of change (one audit action): how its target is re-read and judged from its
    attempt record alone — all ``reconcile_audit`` and a lost answer need."""

    action: ClassVar[str]
    noun: ClassVar[str]  # what the operator sees changing: "service", "connection", …

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "action" in cls.__dict__:
            KINDS[cls.action] = cls

    @classmethod
    @abstractmethod
    def reread(cls, client: VpcepClient, service_id: str, body: Any) -> Any:
        """The changed part of service ``service_id`` as it is now (None: gone); raises ``CloudError``."""

    @classmethod
    @abstractmethod
    def judge(cls, before: Any, body: Any, state: Any, window_end: datetime) -> Verdict:
        """What ``state`` (``reread``'s) proves about a change from ``before`` asking for ``body``
        whose call could land until ``window_end``."""

    @classmethod
    @abstractmethod
    def snapshot(cls, state: Any) -> Any:
        """``state`` as the audit log keeps it (the API's JSON)."""

    @classmethod
    def catch_up(cls, credential: CloudCredential, target: Target, state: Any) -> bool:
        """Before a change of ours is attempted on ``state`` (just read): record what the observer
        would find different from its snapshot as an outside change first (``snapshots.catch_up``).
        Whether the target is observed at all (True when a kind cannot tell)."""
        return True

    @classmethod
    def explains(cls, after: Any, state: Any) -> bool:
        """Whether a record whose "after" is ``after`` made the target what it is now (``state``):
        the change a conflict ran into. Without a way to tell, none is named."""
        return False

    @classmethod
    def observed(cls, target: Target, state: Any, body: Any) -> None:
        """The change asking for ``body`` took effect and the target is now ``state`` (the call's
        answer or the re-read): keep what the observer compares with in step (``changes.snapshots``)."""
        return None


def kind_of(action: str) -> type[ChangeKind] | None:
    return KINDS.get(action)


class Change(ABC):
    """One change asked for: its kind, its service, why; what it reads, compares, sends."""

    kind: type[ChangeKind]

    def __init__(self, service_id: str, reason: str, restored_from: AuditRecord | None = None) -> None:
        self.service_id = service_id
        self.reason = reason
        self.restored_from = restored_from

    @abstractmethod
    def read(self, client: VpcepClient) -> Any:
        """The part this change compares and acts on, now (raises ``CloudError``)."""

    def refusal(self, state: Any) -> str | None:
        """Why nothing may be sent in ``state`` (answered without a record), or None."""
        return None

    @abstractmethod
    def conflicts(self, state: Any) -> bool:
        """``state`` is not what the operator saw."""

    @abstractmethod
    def body(self, state: Any) -> dict[str, Any]:
        """The exact request body (empty: nothing to change)."""

    @abstractmethod
    def send(self, client: VpcepClient, body: dict[str, Any]) -> CallResult[Any]:
        """The one call (never retried)."""

    @abstractmethod
    def name(self, state: Any) -> str:
        """The target's name on the audit record."""

    def after(self, result: CallResult[Any]) -> Any:
        """What the audit log keeps of the answer."""
        return result.body

    def findings(self, rules: Settings, state: Any) -> list[Finding]:
        """What ``rules`` (the policies of the account's environment) say of this change to ``state``."""
        return []


@dataclass
class ChangeResult:
    """How a change ended. ``outcome`` is an ``Outcome`` value, or "no_change" / "busy" / "unreadable" /
    "refused" / "forbidden" / "needs_approval" (the last three: nothing sent, nothing recorded).
    ``Outcome.UNKNOWN`` here means the attempt stays open (no outcome record yet).
    ``state`` is what the re-read found, ``value`` the call's typed answer."""

    outcome: str
    message: str
    state: Any = None
    value: Any = None
    error: CloudError | None = None
    record: AuditRecord | None = None
    ran_into: AuditRecord | None = None  # a conflict's: the logged change that made the target what it is

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)


POLL_SECONDS = 0.05


NEEDS_APPROVAL = "needs_approval"  # the outcome of a change that only an approved request may make
FORBIDDEN = "forbidden"  # the outcome of a change a policy forbids


def apply_change(
    credential: CloudCredential,
    change: Change,
    context: recorder.Context,
    until: float | None = None,
    approval: ChangeRequest | None = None,
) -> ChangeResult:
    """Run ``change`` through the pipeline: one read and at most one call (one more read when the
    answer is lost, and a read again after waiting for another change to the same service). It ends
    within ``EDIT_APPLY_DEADLINE``, and by ``until`` (``time.monotonic``) when a batch gives one.
    ``approval``: the change request (``endpoints.approvals``) this change carries out."""
    approved = approves(approval, credential, change)
    if credential.four_eyes() and not approved:
        # Four eyes is a stage of the pipeline, not only of a page: no caller sends such a change alone.
        return ChangeResult(
            NEEDS_APPROVAL, "This account's changes need a second person's approval. Nothing was sent."
        )
    budget = Budget.of(settings)
    started = time.monotonic()
    deadline = (
        started + budget.apply_deadline if until is None else min(until, started + budget.apply_deadline)
    )
    try:
        client = client_for(credential).until(deadline)
    except SecretUnreadable:
        return ChangeResult(
            "unreadable", "The stored secret cannot be decrypted — re-enter it. Nothing was sent."
        )
    target = Target.service(credential, change.service_id)
    wait_until = min(started + budget.lock_wait, deadline)
    while True:
        holder, read_after = standing(target)
        if holder is not None:
            if not _released(holder, target, wait_until, budget):
                return _busy(holder)
            continue  # read only once nothing is open: the read then shows every settled change
        prepared = _prepare(credential, client, change, context, approved)
        if isinstance(prepared, ChangeResult):
            return prepared
        state, body = prepared
        attempt = _entry(credential, change, state, body, context, Outcome.ATTEMPTED)
        watch = _Watch(functools.partial(change.kind.catch_up, credential, target, state))
        claimed = claim(target, read_after, attempt, watch)
        if isinstance(claimed, AuditRecord):
            return _send(credential, client, change, state, body, context, claimed, watch.observed)
        if isinstance(claimed, Held) and not _released(claimed.attempt, target, wait_until, budget):
            return _busy(claimed.attempt)
        if time.monotonic() >= wait_until:
            return _busy(open_attempt(target))
        # Another change began or ended since the read: read again (and meet it as a conflict).


def approves(approval: ChangeRequest | None, credential: CloudCredential, change: Change) -> bool:
    """Whether ``approval`` lets ``change`` go out: a request of this account and service, approved
    (and being carried out) by somebody other than its author. Checked here, not trusted from the caller."""
    return (
        approval is not None
        and approval.status == RequestStatus.APPROVED
        and approval.credential_id == credential.pk
        and approval.service_id == change.service_id
        and approval.decided_by_id is not None
        and approval.decided_by_id != approval.author_id
    )


class _Watch:
    """Runs a kind's ``catch_up`` as the attempt is claimed and keeps its answer: whether the target
    is observed (only then does the outcome move its snapshot: no work for a target nobody watches)."""

    def __init__(self, catch_up: Callable[[], bool]) -> None:
        self.catch_up = catch_up
        self.observed = True

    def __call__(self) -> None:
        self.observed = self.catch_up()


def _prepare(
    credential: CloudCredential,
    client: VpcepClient,
    change: Change,
    context: recorder.Context,
    approved: bool = False,
) -> tuple[Any, dict[str, Any]] | ChangeResult:
    """Re-read the target and decide whether the change may be sent: the state and the body, or why not."""
    noun = change.kind.noun
    try:
        state = change.read(client)
    except CloudError as exc:
        note_failure(credential, exc)
        message = f"The {noun} no longer exists." if isinstance(exc, CloudNotFound) else exc.message
        return ChangeResult(
            _read_outcome(exc), f"Could not re-read the {noun}: {message} Nothing was sent.", error=exc
        )
    refusal = change.refusal(state)
    if refusal:  # checked before the comparison: a refused change is neither sent nor recorded
        return ChangeResult("refused", refusal, state)
    body = change.body(state)
    if change.conflicts(state):
        ran_into = _ran_into(Target.service(credential, change.service_id), change.kind, state)
        message = f"The {noun} changed since you loaded it{_by(ran_into)}. Nothing was sent."
        entry = _entry(credential, change, state, body, context, Outcome.CONFLICT)
        entry.error_message = message
        record = recorder.append(entry)
        return ChangeResult(Outcome.CONFLICT, message, state, record=record, ran_into=ran_into)
    if not body:
        return ChangeResult("no_change", "Nothing changed, so nothing was sent.", state)
    findings = change.findings(settings_for(credential), state)
    forbidden = refusals(findings)
    if forbidden:
        return ChangeResult(FORBIDDEN, f"{' '.join(f.message for f in forbidden)} Nothing was sent.", state)
    if not approved and needs_approval(findings):
        return ChangeResult(NEEDS_APPROVAL, "A policy says this change needs a second person's approval: "
                            "request it. Nothing was sent.", state)  # fmt: skip
    return state, body


# How far back a conflict looks for the change it ran into (the newest ones that took effect).
RAN_INTO_WINDOW = 50


def _ran_into(target: Target, kind: type[ChangeKind], state: Any) -> AuditRecord | None:
    """The logged change — ours or one observed outside — that made the target what it is now."""
    took_effect = (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)
    candidates = target.records().filter(outcome__in=took_effect, after__isnull=False).order_by("-seq")
    for record in candidates[:RAN_INTO_WINDOW]:
        if kind.explains(record.after, state):
            return record
    return None


def _by(record: AuditRecord | None) -> str:
    """Who changed it and when, as the conflict says it."""
    if record is None:
        return (
            " (by a change not found among the audit log's recent records: made outside vpcepadmin and"
            " not observed yet, or older)"
        )
    when = format_timestamp(record.created_at).replace("T", " ").replace("Z", " UTC")
    return f" — {record.get_action_display().lower()} by {record.actor_username} at {when} (audit record #{record.seq})"


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


def _busy(holder: AuditRecord | None) -> ChangeResult:
    if holder is None:
        return ChangeResult("busy", "Other changes to this service kept coming. Nothing was sent; try again.")
    started = format_timestamp(holder.created_at).replace("T", " ").replace("Z", " UTC")
    return ChangeResult(
        "busy",
        f"Another change to this service has no outcome yet: started by {holder.actor_username} at "
        f"{started} (audit record #{holder.seq}). Nothing was sent; try again when it has one.",
        record=holder,
    )


def _send(
    credential: CloudCredential,
    client: VpcepClient,
    change: Change,
    state: Any,
    body: dict[str, Any],
    context: recorder.Context,
    attempt: AuditRecord,
    observed: bool = True,
) -> ChangeResult:
    """The one call of a claimed change, and its outcome (moving the target's snapshot when
    ``observed``)."""
    started = time.monotonic()
    try:
        result = change.send(client, body)
    except CloudError as exc:
        after_the_call()
        return _after_failure(credential, client, change, state, context, attempt, exc, started)
    after_the_call()
    record = settle(
        attempt,
        outcome_entry(
            attempt, Outcome.APPLIED, context=context, credential=credential, after=change.after(result),
            http_status=result.status, cloud_request_id=result.cloud_request_id, duration_ms=_ms(started),
        ),
        (lambda target: change.kind.observed(target, result.value, body)) if observed else None,
    )  # fmt: skip
    note_success(credential)
    message = message_for(record.outcome, change.kind.noun)
    return ChangeResult(record.outcome, message, state, result.value, record=record)


def _read_outcome(error: CloudError) -> str:
    return Outcome.REJECTED if isinstance(error, CloudNotFound | CloudRejected) else Outcome.FAILED


def _after_failure(
    credential: CloudCredential,
    client: VpcepClient,
    change: Change,
    state: Any,
    context: recorder.Context,
    attempt: AuditRecord,
    error: CloudError,
    started: float,
) -> ChangeResult:
    """Record what ``error`` proves; when it proves nothing, re-read at once and record what that proves."""
    note_failure(credential, error)
    fields: dict[str, Any] = {
        "context": context, "credential": credential, "http_status": error.status or None,
        "error_code": error.error_code, "cloud_request_id": error.cloud_request_id, "duration_ms": _ms(started),
    }  # fmt: skip
    outcome = outcome_of(error)
    if outcome != Outcome.UNKNOWN:
        record = settle(attempt, outcome_entry(attempt, outcome, error_message=error.message, **fields))
        message = _message(record.outcome, error, change.kind.noun)
        return ChangeResult(record.outcome, message, state, error=error, record=record)
    kind = change.kind
    try:
        now = kind.reread(client, change.service_id, attempt.request_body)
    except CloudError:
        notify(attempt_left_open, attempt=attempt)  # no outcome record to tell of it: the attempt stays open
        message = message_for(Outcome.UNKNOWN, kind.noun)
        return ChangeResult(Outcome.UNKNOWN, message, state, error=error, record=attempt)
    verdict = kind.judge(attempt.before, attempt.request_body, now, timezone.now())
    message = f"{error.message} Re-read at once: {verdict.reason}"
    after = kind.snapshot(now) if now is not None else None
    entry = outcome_entry(attempt, verdict.outcome, after=after, error_message=message, **fields)
    record = settle(attempt, entry, lambda target: kind.observed(target, now, attempt.request_body))
    message = _message(record.outcome, error, kind.noun)
    return ChangeResult(record.outcome, message, state, error=error, record=record)


def _message(outcome: str, error: CloudError, noun: str) -> str:
    if outcome == Outcome.REJECTED:
        return f"{error.summary} Nothing was applied."
    if outcome == Outcome.FAILED:
        return f"The request could not be sent ({error.message}). Nothing was applied."
    return message_for(outcome, noun) or error.summary


def message_for(outcome: str, noun: str) -> str:
    """What the operator is told of an ``outcome`` of a change to a ``noun`` ("" when nothing fits)."""
    return MESSAGES.get(outcome, "").format(noun=noun)


MESSAGES: dict[str, str] = {
    Outcome.APPLIED: "Change applied.",
    Outcome.RECONCILED_APPLIED: "The cloud's answer did not prove the outcome, but re-reading the {noun} "
    "shows the change was applied.",
    Outcome.RECONCILED_NOT_APPLIED: "The cloud's answer did not prove the outcome; re-reading the {noun} "
    "shows it was not applied.",
    Outcome.UNDETERMINED: "The cloud's answer did not prove the outcome, and re-reading cannot tell either: "
    "the {noun} changed in another way meanwhile. It is recorded as undetermined; check the {noun}.",
    Outcome.UNKNOWN: "The cloud's answer did not prove the outcome and the {noun} could not be re-read. The "
    "change stays open — no other change to this service can be applied — until reconcile_audit settles it.",
}


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _entry(
    credential: CloudCredential,
    change: Change,
    state: Any,
    body: dict[str, Any],
    context: recorder.Context,
    outcome: str,
) -> recorder.Entry:
    """An attempt or a conflict: the state before, the exact body, who and why."""
    return recorder.Entry(
        action=change.kind.action,
        target_type=TargetType.ENDPOINT_SERVICE,
        outcome=outcome,
        context=context,
        credential=credential,
        target_id=change.service_id,
        target_name=change.name(state),
        reason=change.reason,
        before=change.kind.snapshot(state),
        request_body=body,
        restored_from=change.restored_from,
    )
