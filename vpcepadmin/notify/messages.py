"""Which audit records are worth a notification, and what the message says.

A message is short and plain: a subject such as "[production] Change request #12 waiting for
approval: orders-api (alice)", then the account, the target, who, the outcome, the reason, what
changed (the record's summary), the record's number, and a link when ``PUBLIC_URL`` is set. It is
made only from the audit record, whose secrets are masked already; no request body is copied.
Changes made through the dashboard are told of on production only (an account of the target's
project is production); requests, outside changes and lockouts wherever they happen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse

from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.credentials.models import CloudCredential, Environment
from vpcepadmin.notify.models import Kind

# The kinds of change the dashboard makes to the cloud (the pipeline's actions).
CHANGE_ACTIONS = (
    Action.MODIFY_ENDPOINT_SERVICE,
    Action.ACCEPT_CONNECTION,
    Action.REJECT_CONNECTION,
    Action.ADD_WHITELIST_ENTRY,
    Action.REMOVE_WHITELIST_ENTRY,
)
# A change's outcome record → what the message calls it (``Outcome.UNKNOWN`` records, from before
# the open-attempt rule, settle nothing: the record that settles their attempt is told instead).
OUTCOME_KINDS = {
    Outcome.APPLIED: Kind.CHANGE_APPLIED,
    Outcome.RECONCILED_APPLIED: Kind.CHANGE_APPLIED,
    Outcome.FAILED: Kind.CHANGE_FAILED,
    Outcome.REJECTED: Kind.CHANGE_FAILED,
    Outcome.RECONCILED_NOT_APPLIED: Kind.CHANGE_FAILED,
    Outcome.UNDETERMINED: Kind.CHANGE_UNKNOWN,
}
# A request's later steps → the words of the subject.
REQUEST_STEPS = {
    Action.APPROVE_REQUEST: "approved",
    Action.REJECT_REQUEST: "rejected",
    Action.EXPIRE_REQUEST: "expired",
    Action.STALE_REQUEST: "stale: the service changed since it was reviewed, nothing was sent",
    Action.REQUEST_NOT_APPLIED: "approved but not applied",
}
OBSERVED = (Action.OBSERVED_CHANGE, Action.OBSERVED_NEW_SERVICE, Action.OBSERVED_DELETION)
PRODUCTION_ONLY = (Kind.CHANGE_APPLIED, Kind.CHANGE_FAILED, Kind.CHANGE_UNKNOWN)
LONGEST_PART = 300  # characters of a reason, an error or a summary in a message
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Message:
    kind: str
    subject: str
    details: list[str] = field(default_factory=list)
    link: str = ""

    @property
    def text(self) -> str:
        return "\n".join([self.subject, "", *self.details, *([self.link] if self.link else [])])


def kind_of(record: AuditRecord) -> str | None:
    """The kind of notification ``record`` is (None: not one), from the record alone (no query)."""
    action = record.action
    if action == Action.REQUEST_CHANGE:
        return Kind.REQUEST_WAITING
    if action in REQUEST_STEPS:
        return Kind.REQUEST_DECIDED
    if action in CHANGE_ACTIONS and record.attempt_id is not None:
        return OUTCOME_KINDS.get(Outcome(record.outcome))
    if action in OBSERVED:
        return Kind.OUTSIDE_CHANGE
    if action == Action.LOCKED_OUT:
        return Kind.LOCKOUT
    return None


def message_for(record: AuditRecord) -> Message | None:
    """The message ``record`` is worth, or None (one query for the account's environment)."""
    kind = kind_of(record)
    if kind is None:
        return None
    return _compose(kind, record)


def unknown_message(attempt: AuditRecord) -> Message | None:
    """The message of a change whose answer proved nothing and whose target could not be re-read:
    its attempt stays open until ``reconcile_audit`` settles it (production only)."""
    return _compose(Kind.CHANGE_UNKNOWN, attempt, still_open=True)


def _compose(kind: str, record: AuditRecord, still_open: bool = False) -> Message | None:
    environment = environment_of(record)
    if kind in PRODUCTION_ONLY and environment != Environment.PRODUCTION:
        return None
    prefix = f"[{environment}] " if environment else ("[security] " if kind == Kind.LOCKOUT else "")
    subject = _one_line(prefix + _headline(kind, record, still_open))
    return Message(kind, subject, _details(kind, record, environment, still_open), _link(kind, record))


def environment_of(record: AuditRecord) -> str:
    """The environment of the record's account; production when any stored account of its project is
    (two accounts may reach one project, as four eyes holds). "" without an account."""
    if not record.project_id:
        return ""
    credential = _credential(record)
    environment = credential.environment if credential is not None else ""
    if environment != Environment.PRODUCTION and (
        CloudCredential.objects.filter(
            cloud=record.cloud,
            region=record.region,
            project_id=record.project_id,
            environment=Environment.PRODUCTION,
        ).exists()
    ):
        return Environment.PRODUCTION
    return environment


def _credential(record: AuditRecord) -> CloudCredential | None:
    if record.credential_id is None:
        return None
    if AuditRecord.credential.is_cached(record):  # the account the change was made with: no query
        return record.credential
    return CloudCredential.objects.filter(pk=record.credential_id).first()  # deleted since: None


def _headline(kind: str, record: AuditRecord, still_open: bool) -> str:
    target, actor = _target(record), record.actor_username
    request = _request_number(record)
    label = record.get_action_display()
    if kind == Kind.REQUEST_WAITING:
        return f"Change request #{request} waiting for approval: {target} ({actor})"
    if kind == Kind.REQUEST_DECIDED:
        step = REQUEST_STEPS[Action(record.action)]
        by = "" if record.action == Action.EXPIRE_REQUEST else f" by {actor}"
        return f"Change request #{request} {step}{by}: {target}"
    if kind == Kind.CHANGE_APPLIED:
        return f"{label} applied: {target} ({actor})"
    if kind == Kind.CHANGE_FAILED:
        return f"{label} not applied ({record.get_outcome_display().lower()}): {target} ({actor})"
    if kind == Kind.CHANGE_UNKNOWN:
        why = "no answer, the change stays open" if still_open else "needs review"
        return f"{label} outcome unknown ({why}): {target} ({actor})"
    if kind == Kind.OUTSIDE_CHANGE:
        return f"{label} outside vpcepadmin: {target}"
    return f"Sign-in locked out: {_lock(record)}"


def _details(kind: str, record: AuditRecord, environment: str, still_open: bool) -> list[str]:
    lines = [f"Event: {Kind(kind).label}"]
    if record.credential_name:
        where = ", ".join(part for part in (environment, record.cloud, record.region) if part)
        lines.append(f"Account: {record.credential_name} ({where})")
    if record.target_type not in (TargetType.USER, TargetType.CLIENT_ADDRESS):
        lines.append(f"Target: {_target(record)} ({record.target_id})")
    lines.append(f"By: {record.actor_username or 'system'}")
    if kind in PRODUCTION_ONLY:
        outcome = "unknown (no outcome yet)" if still_open else record.get_outcome_display()
        lines.append(f"Outcome: {outcome}")
        error = " ".join(part for part in (record.error_code, record.error_message) if part)
        if error:
            lines.append(f"Error: {_short(error)}")
    if record.reason:
        lines.append(f"{'Comment' if kind == Kind.REQUEST_DECIDED else 'Reason'}: {_short(record.reason)}")
    if record.summary and kind != Kind.LOCKOUT:
        lines.append(f"Change: {_short(record.summary)}")
    when = record.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    lines.append(f"Audit record #{record.seq} at {when}")
    return [_one_line(line) for line in lines]


def _link(kind: str, record: AuditRecord) -> str:
    base = settings.PUBLIC_URL.rstrip("/")
    if not base:
        return ""
    request = _request_number(record)
    if kind in (Kind.REQUEST_WAITING, Kind.REQUEST_DECIDED) and request:
        return base + reverse("approvals:detail", args=[request])
    return base + reverse("audit:detail", args=[record.pk])


def _request_number(record: AuditRecord) -> int | None:
    after = record.after if isinstance(record.after, dict) else {}
    number = after.get("request")
    return number if isinstance(number, int) else None


def _target(record: AuditRecord) -> str:
    return record.target_name or record.target_id or "?"


def _lock(record: AuditRecord) -> str:
    facts = record.after if isinstance(record.after, dict) else {}
    address, until = facts.get("address") or "an unknown address", facts.get("until", "")
    who = (
        f"address {address}"
        if record.target_type == TargetType.CLIENT_ADDRESS
        else f"user {_short(record.target_name, 64)} from {address}"
    )
    return f"{who}, {facts.get('failures', '?')} failures" + (f", until {until}" if until else "")


def _short(text: str, limit: int = LONGEST_PART) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    """No line breaks or control characters: a tried user name is anybody's text (headers, chats)."""
    return _CONTROL.sub(" ", text).strip()
