"""What a record changed: its field-level diff and the one-line summary shown in tables.

For a change to an endpoint service the diff is the requested body against the state before (the
attempt keeps the API snapshot; its outcome record points to it), through ``diff.service_diff`` —
so the audit log shows exactly what the review step showed. For an account the before and after
snapshots are compared key by key. Nothing here queries the database: an outcome record's attempt
must come with it (``select_related("attempt")``).

``derive`` is the one derivation: ``recorder.append`` stores its result with every record (the
``summary`` and ``diff`` columns, which the tables and the record's page read instead of decoding
the JSON again), the migration that added the columns filled them with it, and ``verify_audit``
re-derives it to check what is stored. The stored diff is the list of ``FieldChange`` as plain
JSON (``plain``/``from_plain``): a port mapping as ``[client_port, server_port, protocol]``, and for
the port mappings only the set diff — the lists themselves are in the record's before and body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vpcepadmin.audit.chain import derived_hash
from vpcepadmin.audit.diff import (
    FieldChange,
    PortsDiff,
    api_triples,
    port_triples,
    ports_summary,
    service_diff,
    summary,
)
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.cloud.editable import FIELDS, Kind, editable_values
from vpcepadmin.cloud.endpoint_services import ConnectionAction, WhitelistAction
from vpcepadmin.cloud.types import EndpointService

RESTORABLE = (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)
ACCOUNT_ACTIONS = (Action.CREATE_CREDENTIAL, Action.UPDATE_CREDENTIAL, Action.DELETE_CREDENTIAL)
CONNECTION_ACTIONS = (Action.ACCEPT_CONNECTION, Action.REJECT_CONNECTION)
WHITELIST_ACTIONS = (Action.ADD_WHITELIST_ENTRY, Action.REMOVE_WHITELIST_ENTRY)
# What a connection action asks for (the API's verb) and the status it leads to (vpcep-api.md §7.1).
CONNECTION_VERBS: dict[str, str] = {
    Action.ACCEPT_CONNECTION: ConnectionAction.RECEIVE,
    Action.REJECT_CONNECTION: ConnectionAction.REJECT,
}
CONNECTION_RESULTS: dict[str, str] = {
    Action.ACCEPT_CONNECTION: "accepted",
    Action.REJECT_CONNECTION: "rejected",
}
WHITELIST_VERBS: dict[str, str] = {
    Action.ADD_WHITELIST_ENTRY: WhitelistAction.ADD,
    Action.REMOVE_WHITELIST_ENTRY: WhitelistAction.REMOVE,
}
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
    "requires_approval": "Changes need a second person's approval",
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


def undo_of(record: AuditRecord) -> tuple[str, str, str] | None:
    """For an applied whitelist change: (the action that undoes it, the entry, its permission type);
    None for any other record. A removed entry is added again, an added one removed again."""
    if record.action not in WHITELIST_ACTIONS or record.outcome not in RESTORABLE:
        return None
    entry = acted_on(record.request_body, "permissions")
    kind = record.request_body.get("permission_type") if isinstance(record.request_body, dict) else None
    if not entry or not isinstance(kind, str):
        return None
    undo = (
        Action.REMOVE_WHITELIST_ENTRY
        if record.action == Action.ADD_WHITELIST_ENTRY
        else Action.ADD_WHITELIST_ENTRY
    )
    return undo, entry, kind


def record_changes(record: AuditRecord) -> list[FieldChange]:
    """The record's field diff, derived from its content now (the stored one: ``stored_changes``)."""
    return changes_of(record.action, state_before(record), record.request_body, record.after)


def changes_of(action: str, before: Any, request_body: Any, after: Any) -> list[FieldChange]:
    """``before`` is the state the change started from (``state_before``)."""
    if action in (Action.MODIFY_ENDPOINT_SERVICE, Action.REQUEST_CHANGE):
        return _service_changes(before, request_body)
    if action in ACCOUNT_ACTIONS:
        return _account_changes(before, after)
    if action in CONNECTION_ACTIONS:
        return _connection_changes(action, before, request_body)
    if action in WHITELIST_ACTIONS:
        return _whitelist_changes(action, request_body)
    if action in (Action.OBSERVED_CHANGE, Action.OBSERVED_NEW_SERVICE, Action.OBSERVED_DELETION):
        return _observed_changes(before, after)
    if action == Action.CHANGE_POLICY:
        return _policy_changes(before, after)
    return []


POLICY_LABELS = {"mode": "Mode", "value": "Value"}


def _policy_changes(before: Any, after: Any) -> list[FieldChange]:
    """A policy rule's mode and value (``policies.services.change_rule``), those that changed."""
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    return [
        FieldChange(name, label, old.get(name), new.get(name))
        for name, label in POLICY_LABELS.items()
        if old.get(name) != new.get(name)
    ]


def _policy_summary(request_body: Any, changes: list[FieldChange]) -> str:
    """ "forbidden_ports on production: value [] → [22, 3389]" (the parts that changed)."""
    asked = request_body if isinstance(request_body, dict) else {}
    parts = ", ".join(
        f"{change.name} {_policy_value(change.before)} → {_policy_value(change.after)}" for change in changes
    )
    return f"{asked.get('rule', '?')} on {asked.get('environment', '?')}: {parts or NO_CHANGE}"


def _policy_value(value: Any) -> str:
    if value is None:
        return "none"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)


# The steps of a change request after it was made, as its records' summaries say them.
REQUEST_STEPS: dict[str, str] = {
    Action.APPROVE_REQUEST: "approved",
    Action.REJECT_REQUEST: "rejected",
    Action.WITHDRAW_REQUEST: "withdrawn",
    Action.EXPIRE_REQUEST: "expired",
    Action.STALE_REQUEST: "stale: the service changed since it was reviewed",
    Action.REQUEST_NOT_APPLIED: "approved but not applied",
}
OBSERVED_PARTS = ("connections", "whitelist")  # parts of a service observed besides the service


def _observed_changes(before: Any, after: Any) -> list[FieldChange]:
    """What changed between the last observed state and the cloud's: the editable fields as for our
    own changes (ports as a set diff), and the status. A new service is compared with nothing, a
    deleted one with nothing after. For an observed part of a service (its connections, its
    whitelist), each connection whose status changed and each entry added or removed."""
    part = next((name for name in OBSERVED_PARTS if isinstance(after, dict) and name in after), None)
    if part is not None:
        was = before.get(part) if isinstance(before, dict) else None
        return _part_changes(part, was, after[part])
    old = _editable(before, set(FIELDS)) if isinstance(before, dict) else {}
    new = _editable(after, set(FIELDS)) if isinstance(after, dict) else {}
    changes = service_diff(old, new or dict.fromkeys(FIELDS))  # deleted: every field to nothing
    was = before.get("status") if isinstance(before, dict) else None
    now = after.get("status") if isinstance(after, dict) else None
    if was != now:
        changes.append(FieldChange("status", "Status", was, now))
    return changes


def _part_changes(part: str, before: Any, after: Any) -> list[FieldChange]:
    if part == "whitelist":
        old, new = set(before or []), set(after or [])
        changes = [FieldChange("whitelist", "Whitelist entry", entry, None) for entry in sorted(old - new)]
        return changes + [
            FieldChange("whitelist", "Whitelist entry", None, entry) for entry in sorted(new - old)
        ]
    old_map = before if isinstance(before, dict) else {}
    new_map = after if isinstance(after, dict) else {}
    changes = []
    for endpoint in sorted(set(old_map) | set(new_map)):
        was, now = old_map.get(endpoint) or {}, new_map.get(endpoint) or {}
        if was.get("status") != now.get("status"):
            account = now.get("domain_id") or was.get("domain_id")
            label = f"Connection {endpoint}" + (f" (account {account})" if account else "")
            changes.append(FieldChange("connection", label, was.get("status"), now.get("status")))
    return changes


def acted_on(request_body: Any, key: str) -> str:
    """The one connection or whitelist entry a connection or whitelist action names ("" if none)."""
    items = request_body.get(key) if isinstance(request_body, dict) else None
    return str(items[0]) if isinstance(items, list) and len(items) == 1 else ""


def _connection_changes(action: str, before: Any, request_body: Any) -> list[FieldChange]:
    """The connection's status, from what it was to what the action leads to."""
    was = before if isinstance(before, dict) else {}
    endpoint = acted_on(request_body, "endpoints") or str(was.get("id", ""))
    label = f"Connection {endpoint}" + (f" (account {was['domain_id']})" if was.get("domain_id") else "")
    return [FieldChange("status", label, was.get("status"), CONNECTION_RESULTS[action])]


def _whitelist_changes(action: str, request_body: Any) -> list[FieldChange]:
    """The entry added (nothing → it) or removed (it → nothing)."""
    entry = acted_on(request_body, "permissions")
    added = action == Action.ADD_WHITELIST_ENTRY
    return [FieldChange("whitelist", "Whitelist entry", None if added else entry, entry if added else None)]


PORTS = next(name for name, field in FIELDS.items() if field.kind is Kind.PORTS)
NO_CHANGE = "no field change"
# Fields whose editable value is the snapshot's own when it has this type, whether the snapshot
# reads as a typed service (``EndpointService.from_api`` keeps such a value, ``editable_values``
# reads it back unchanged) or not (the raw value is compared): no service is read for them.
AS_STORED: dict[str, type] = {"description": str, "approval_enabled": bool}


def _service_changes(before: Any, requested: Any) -> list[FieldChange]:
    if not isinstance(requested, dict):
        return []
    editable: dict[str, Any] = {}
    if isinstance(before, dict):
        editable = _editable(before, {name for name in requested if name in FIELDS})
    return service_diff(editable, requested)


def _editable(before: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """The editable values of the snapshot ``before`` that ``names`` are compared with: those of the
    typed service (``editable_values``), or the raw ones when it does not read as one.

    The port mappings read on their own (no other field depends on them), and they compare as sets
    of ``PortMapping.parse``d items — what the typed service holds whenever it reads. So a change of
    the mappings alone compares the raw list, and a change of the other fields alone reads the
    service without its (well-formed: ``api_triples``) mappings: 200 of them are not read for nothing.
    """
    if names <= {PORTS}:
        return {PORTS: before.get(PORTS)}
    if names <= AS_STORED.keys() and all(type(before.get(name)) is AS_STORED[name] for name in names):
        return {name: before[name] for name in names}
    data = before
    if PORTS not in names:
        ports = before.get(PORTS)
        if not ports or (isinstance(ports, list) and api_triples(ports) is not None):
            data = {**before, PORTS: []}
    try:
        return editable_values(EndpointService.from_api(data))
    except (ValueError, AttributeError, TypeError):  # not a service (a mapping that is no dict, …)
        return dict(before)


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
    """One line: what changed (or what happened, when nothing field-like changed), derived now."""
    return derived_of(record).summary


@dataclass(frozen=True)
class Derived:
    """What ``recorder.append`` stores with a record besides its content (outside the hash)."""

    summary: str
    diff: list[dict[str, Any]]


def derive(action: str, before: Any, request_body: Any, after: Any) -> Derived:
    """The summary and the plain diff of a record with these values; ``before`` is the state the
    change started from (the record's own, or for an outcome its attempt's: ``state_before``)."""
    try:
        ports = _ports_alone(action, before, request_body)
        if ports is not None:
            return _ports_derived(*ports)
        changes = changes_of(action, before, request_body, after)
    except Exception:  # whatever the values, the record is written (and verifies)
        return Derived("changes could not be derived", [])
    if action == Action.CHANGE_POLICY:  # its summary names the rule and environment it asked for
        return Derived(_policy_summary(request_body, changes), plain(changes))
    if action == Action.REQUEST_CHANGE and isinstance(after, dict) and after.get("action") in Action.values:
        return Derived(_items_request_summary(after, request_body), plain(changes))
    return Derived(_summary(action, after, changes), plain(changes))


def _items_request_summary(after: dict[str, Any], bodies: Any) -> str:
    """A connection or whitelist request: what it asks for and the connections or entries it names
    (``bodies``: the exact bodies approving sends, the items first, then the connections a whitelist
    removal rejects after it), e.g. "request #4: accept connection × 2: a, b"."""
    named = [
        str(item)
        for body in (bodies if isinstance(bodies, list) else [])
        if isinstance(body, dict)
        for item in (body.get("endpoints") or body.get("permissions") or [])
    ]
    count = after.get("items") if isinstance(after.get("items"), int) else len(named)
    items, then = named[:count], named[count:]
    summary = f"request #{after.get('request', '?')}: {Action(after['action']).label.lower()} × {count}: "
    summary += ", ".join(items[:3]) + (f", … {len(items) - 3} more" if len(items) > 3 else "")
    return summary + (f"; then reject connection × {len(then)}" if then else "")


def _ports_alone(action: str, before: Any, request_body: Any) -> tuple[Any, Any] | None:
    """The mappings before and requested of a change of the port mappings alone — the most frequent
    change, and the longest to derive — else None. ``derive`` takes these straight from the two sets
    of triples, as the ``FieldChange`` path would (tests compare the two on any values)."""
    if (
        action != Action.MODIFY_ENDPOINT_SERVICE
        or type(request_body) is not dict
        or PORTS not in request_body
    ):
        return None
    if any(name in FIELDS for name in request_body if name != PORTS):
        return None
    return (before.get(PORTS) if isinstance(before, dict) else None), request_body[PORTS]


def _ports_derived(before: Any, requested: Any) -> Derived:
    old, new = port_triples(before), port_triples(requested)
    added, removed = sorted(new - old), sorted(old - new)
    if not added and not removed:
        return Derived(NO_CHANGE, [])
    diff = {
        "name": PORTS,
        "label": FIELDS[PORTS].label,
        "added": list(map(list, added)),
        "removed": list(map(list, removed)),
        "unchanged": list(map(list, sorted(old & new))),
    }
    return Derived(ports_summary(len(added), len(removed)), [diff])


def derived_of(record: AuditRecord) -> Derived:
    return derive(record.action, state_before(record), record.request_body, record.after)


def derived_when_written(record: AuditRecord) -> Derived:
    """``derived_of(record)`` for a record being written: an outcome of a service change that repeats
    its attempt's body (in memory, derived when it was written) has the attempt's derivation — a
    service's diff reads neither the outcome's "after" nor anything but the attempt's before-state."""
    attempt = record.attempt if record.attempt_id is not None else None
    if (
        attempt is not None
        and record.before is None
        and record.action == attempt.action == Action.MODIFY_ENDPOINT_SERVICE
        and attempt.before is not None
        and attempt.summary is not None
        and attempt.diff is not None
        and record.request_body == attempt.request_body
    ):
        return Derived(attempt.summary, attempt.diff)
    return derived_of(record)


def stored_as_derived(record: AuditRecord) -> bool:
    """Whether the record's stored summary and diff are what its content gives. True, too, when
    that cannot be told: an outcome whose attempt (its before-state) was removed by retention.
    A record with a ``derived_hash`` (hashed with it) is compared with that, not re-derived."""
    if record.derived_hash:
        return derived_hash(record.summary, record.diff) == record.derived_hash
    if record.before is None and record.attempt_id is not None:
        try:
            record.attempt  # noqa: B018 — loaded (or fetched) here only to know whether it exists
        except AuditRecord.DoesNotExist:
            return True
    derived = derived_of(record)
    return record.summary == derived.summary and record.diff == derived.diff


def _summary(action: str, after: Any, changes: list[FieldChange]) -> str:
    if action == Action.PRUNE_AUDIT:
        pruned = after if isinstance(after, dict) else {}
        return f"removed {pruned.get('removed_records', '?')} records up to #{pruned.get('chain_start_seq', '?')}"
    if action == Action.CREATE_CREDENTIAL:
        return "account added"
    if action == Action.DELETE_CREDENTIAL:
        return "account deleted"
    if action in CONNECTION_ACTIONS and changes:
        status = changes[0]
        return f"{status.label.lower()}: {status.before or '?'} → {status.after}"
    if action in REQUEST_STEPS:
        step = after if isinstance(after, dict) else {}
        said = (
            step.get("comment")
            if action in (Action.APPROVE_REQUEST, Action.REJECT_REQUEST)
            else step.get("why")
        )
        comment = f": {said}" if said else ""
        return f"request #{step.get('request', '?')} {REQUEST_STEPS[action]}{comment}"
    if action == Action.OBSERVATION_BASELINE:
        seen = after if isinstance(after, dict) else {}
        return f"baseline: {seen.get('services', '?')} services observed"
    if action == Action.OBSERVED_CHANGE and changes and changes[0].name in ("connection", "whitelist"):
        return "; ".join(_part_summary(change) for change in changes[:3]) + (
            f"; … {len(changes) - 3} more" if len(changes) > 3 else ""
        )
    if action == Action.OBSERVED_NEW_SERVICE:
        return "new service observed"
    if action == Action.OBSERVED_DELETION:
        return "service deleted"
    if action in WHITELIST_ACTIONS and changes:
        entry = changes[0]
        return f"whitelist + {entry.after}" if entry.after is not None else f"whitelist − {entry.before}"
    return summary(changes) if changes else NO_CHANGE


def _part_summary(change: FieldChange) -> str:
    if change.name == "whitelist":
        return f"whitelist + {change.after}" if change.after is not None else f"whitelist − {change.before}"
    return f"{change.label.lower()}: {change.before or 'none'} → {change.after or 'gone'}"


def plain(changes: list[FieldChange]) -> list[dict[str, Any]]:
    """The diff as stored: JSON values only."""
    stored: list[dict[str, Any]] = []
    for change in changes:
        if change.ports is None:
            stored.append(
                {"name": change.name, "label": change.label, "before": change.before, "after": change.after}
            )
            continue
        ports = change.ports
        stored.append(
            {
                "name": change.name,
                "label": change.label,
                "added": list(map(list, ports.added_triples)),
                "removed": list(map(list, ports.removed_triples)),
                "unchanged": list(map(list, ports.unchanged_triples)),
            }
        )
    return stored


def _triples(stored: Any) -> tuple[tuple[int, int, str], ...]:
    return tuple((int(c), int(s), str(p)) for c, s, p in stored or ())


def from_plain(stored: list[dict[str, Any]]) -> list[FieldChange]:
    """The stored diff as ``FieldChange``s again (the port lists themselves are not kept: None)."""
    changes = []
    for item in stored:
        ports = None
        if "unchanged" in item:
            ports = PortsDiff(_triples(item["added"]), _triples(item["removed"]), _triples(item["unchanged"]))
        changes.append(FieldChange(item["name"], item["label"], item.get("before"), item.get("after"), ports))
    return changes


def stored_changes(record: AuditRecord) -> list[FieldChange]:
    """The diff stored with the record (derived now for a record that has none, or whose stored one
    does not read as a diff — verify_audit reports such a record)."""
    if isinstance(record.diff, list):
        try:
            return from_plain(record.diff)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
    return record_changes(record)
