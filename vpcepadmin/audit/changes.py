"""What a record changed: its field-level diff and the one-line summary shown in tables.

For a change to an endpoint service the diff is the requested body against the state before (the
attempt keeps the API snapshot; its outcome record points to it), through ``diff.service_diff`` —
so the audit log shows exactly what the review step showed. For an account the before and after
snapshots are compared key by key. Nothing here queries the database: an outcome record's attempt
must come with it (``select_related("attempt")``).
"""

from __future__ import annotations

from typing import Any

from vpcepadmin.audit.diff import FieldChange, service_diff, summary
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.cloud.editable import editable_values
from vpcepadmin.cloud.types import EndpointService

RESTORABLE = (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)
ACCOUNT_ACTIONS = (Action.CREATE_CREDENTIAL, Action.UPDATE_CREDENTIAL, Action.DELETE_CREDENTIAL)
ACCOUNT_LABELS = {
    "name": "Display name",
    "cloud": "Cloud",
    "region": "Region",
    "project_id": "Project ID",
    "auth_method": "Authentication",
    "iam_username": "IAM user name",
    "domain_name": "Account (domain) name",
    "access_key": "Access key ID",
    "vpcep_endpoint": "VPCEP endpoint override",
    "iam_endpoint": "IAM endpoint override",
    "environment": "Environment",
    "colour": "Colour",
    "secret_status": "Secret",
}


def state_before(record: AuditRecord) -> Any:
    """The state the record's change started from: its own, or its attempt's."""
    if record.before is not None:
        return record.before
    try:
        attempt = record.attempt
    except AuditRecord.DoesNotExist:  # removed by retention
        return None
    return attempt.before if attempt is not None else None


def restorable(record: AuditRecord) -> bool:
    """A record of an applied change to an endpoint service whose attempt kept the before-state:
    its values before the change can be restored (the edit flow and the record's page both ask)."""
    return (
        record.action == Action.MODIFY_ENDPOINT_SERVICE
        and record.outcome in RESTORABLE
        and record.attempt is not None
        and isinstance(record.attempt.before, dict)
    )


def record_changes(record: AuditRecord) -> list[FieldChange]:
    if record.action == Action.MODIFY_ENDPOINT_SERVICE:
        return _service_changes(state_before(record), record.request_body)
    if record.action in ACCOUNT_ACTIONS:
        return _account_changes(record.before, record.after)
    return []


def _service_changes(before: Any, requested: Any) -> list[FieldChange]:
    if not isinstance(requested, dict):
        return []
    editable: dict[str, Any] = {}
    if isinstance(before, dict):
        try:
            editable = editable_values(EndpointService.from_api(before))
        except ValueError:
            editable = dict(before)
    return service_diff(editable, requested)


def _account_changes(before: Any, after: Any) -> list[FieldChange]:
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    names = [name for name in ACCOUNT_LABELS if name in old or name in new]
    names += sorted((set(old) | set(new)) - set(ACCOUNT_LABELS))
    return [
        FieldChange(
            name, ACCOUNT_LABELS.get(name, name.replace("_", " ").capitalize()), old.get(name), new.get(name)
        )
        for name in names
        if old.get(name) != new.get(name) and not (name == "secret_status" and new.get(name) == "unchanged")
    ]


def record_summary(record: AuditRecord) -> str:
    """One line: what changed (or what happened, when nothing field-like changed)."""
    if record.action == Action.PRUNE_AUDIT:
        after = record.after if isinstance(record.after, dict) else {}
        return (
            f"removed {after.get('removed_records', '?')} records up to #{after.get('chain_start_seq', '?')}"
        )
    if record.action == Action.CREATE_CREDENTIAL:
        return "account added"
    if record.action == Action.DELETE_CREDENTIAL:
        return "account deleted"
    changes = record_changes(record)
    return summary(changes) if changes else "no field change"
