"""Use cases for a service's connections and whitelist: read them, and accept, reject, add or
remove through the change pipeline (``changes.pipeline``) — one change per connection or entry.

What the operator saw travels signed (``Seen``): the connection's id, status and ``updated_at``, or
the whitelist entry's id. Before each call the target is read again; if it is not what was seen,
nothing is sent for it (a conflict, recorded). A batch is one change per connection, each with its
own attempt and outcome, linked by the web request's id (the batch id).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

from vpcepadmin.audit import recorder
from vpcepadmin.audit.changes import CONNECTION_VERBS, WHITELIST_VERBS, undo_of
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.budget import Budget
from vpcepadmin.changes.kinds import (
    AcceptConnection,
    AddWhitelistEntry,
    RejectConnection,
    RemoveWhitelistEntry,
)
from vpcepadmin.changes.models import ChangeRequest
from vpcepadmin.changes.pipeline import Change, ChangeKind, ChangeResult, apply_change
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import (
    CallResult,
    connection_action,
    connection_action_body,
    connection_get,
    connection_list,
    endpoint_service_get,
    permission_action,
    permission_action_body,
    permission_find,
    permission_list,
)
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.cloud.fanout import in_parallel
from vpcepadmin.cloud.types import Connection, ConnectionPage, Permission, PermissionPage, format_timestamp
from vpcepadmin.cloud.whitelist import ACCOUNT_PREFIX, describe, opens_widely
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential, Environment
from vpcepadmin.credentials.services import client_for, note_failure, note_success
from vpcepadmin.endpoints import pending
from vpcepadmin.endpoints.services import ReadProblem
from vpcepadmin.policies import rules as policies
from vpcepadmin.policies.rules import Finding, Settings, settings_for

PAGE_SIZE = 25
# The statuses each action can leave (the console offers the same: a pending connection either way,
# an accepted one can be rejected, a rejected one accepted again).
ACTIONABLE: dict[str, tuple[str, ...]] = {
    Action.ACCEPT_CONNECTION: ("pendingAcceptance", "rejected"),
    Action.REJECT_CONNECTION: ("pendingAcceptance", "accepted"),
}
MAX_BATCH = PAGE_SIZE  # one page of connections at a time
OUT_OF_TIME = ChangeResult(
    "not_sent", "Not sent: the time for this request ran out before its turn. Try it again."
)
SALT = "vpcepadmin.endpoints.seen"
CONNECTION, ENTRY = "connection", "entry"  # what a ``Seen`` is of: signed under a salt each


@dataclass(frozen=True)
class Seen:
    """One connection or whitelist entry as the operator saw it (signed into the page)."""

    credential_id: int
    service_id: str
    item_id: str  # the endpoint id, or the whitelist entry (the API's form)
    status: str = ""  # a connection's status; a whitelist entry's permission type
    updated_at: str = ""  # a connection's; a whitelist entry's id ("" when it was not there)
    domain_id: str = ""  # the connecting account (connections)
    marker_id: str = ""
    of: str = CONNECTION  # what it is of: a connection or a whitelist ENTRY (each signed under its salt)

    def sign(self) -> str:
        payload = [self.credential_id, self.service_id, self.item_id, self.status, self.updated_at]
        return signing.dumps(
            [*payload, self.domain_id, self.marker_id, self.of], salt=f"{SALT}.{self.of}", compress=True
        )

    @classmethod
    def read(
        cls, token: str, credential: CloudCredential, service_id: str, of: str = CONNECTION
    ) -> Seen | None:
        """The token's content, or None when forged, expired, of another kind (``of``: a connection
        or a whitelist ``ENTRY``), or for another service or account."""
        try:
            payload = signing.loads(token, salt=f"{SALT}.{of}", max_age=settings.EDIT_VERSION_MAX_AGE)
        except signing.BadSignature:
            return None
        if (
            not isinstance(payload, list)
            or len(payload) != 8
            or not all(isinstance(x, str) for x in payload[1:])
        ):
            return None
        seen = cls(*payload)
        if seen.of != of or seen.credential_id != credential.pk or seen.service_id != service_id:
            return None
        return seen

    @classmethod
    def connection(cls, credential: CloudCredential, service_id: str, conn: Connection) -> Seen:
        updated = format_timestamp(conn.updated_at) if conn.updated_at else ""
        marker = "" if conn.marker_id is None else str(conn.marker_id)
        return cls(credential.pk, service_id, conn.id, conn.status, updated, conn.domain_id, marker)

    @classmethod
    def entry(
        cls, credential: CloudCredential, service_id: str, entry: str, kind: str, entry_id: str
    ) -> Seen:
        return cls(credential.pk, service_id, entry, kind, entry_id, of=ENTRY)

    def can(self, action: str) -> bool:
        return self.status in ACTIONABLE.get(action, ())

    @property
    def adds(self) -> bool:
        """A whitelist entry seen absent (no id): the change adds it; else it removes it."""
        return not self.updated_at

    @property
    def account(self) -> str:
        """The account id a whitelist entry names ("" for a path or everyone)."""
        return self.item_id.removeprefix(ACCOUNT_PREFIX) if self.item_id.startswith(ACCOUNT_PREFIX) else ""

    def connection_changed(self, conn: Connection) -> bool:
        """Whether connection ``conn``, read now, is no longer as it was seen (status or update time)."""
        updated = format_timestamp(conn.updated_at) if conn.updated_at else ""
        return conn.status != self.status or updated != self.updated_at

    def entry_changed(self, found: Permission | None) -> bool:
        """Whether the whitelist entry, read now (None: absent), is no longer as it was seen."""
        if self.adds:
            return found is not None
        return found is None or found.id != self.updated_at


class ConnectionChange(Change):
    """Accept (the API's ``receive``) or reject one connection, as it was seen."""

    def __init__(self, seen: Seen, action: str, reason: str, service_name: str = "") -> None:
        super().__init__(seen.service_id, reason)
        self.kind: type[ChangeKind] = (
            AcceptConnection if action == Action.ACCEPT_CONNECTION else RejectConnection
        )
        self.seen = seen
        self.verb = CONNECTION_VERBS[action]
        self.service_name = service_name

    def read(self, client: VpcepClient) -> Connection | None:
        return connection_get(client, self.service_id, self.seen.item_id)

    def refusal(self, state: Connection | None) -> str | None:
        if state is None:
            return f"Connection {self.seen.item_id} no longer exists. Nothing was sent for it."
        return None

    def conflicts(self, state: Connection) -> bool:
        return self.seen.connection_changed(state)

    def body(self, state: Connection) -> dict[str, Any]:
        return connection_action_body(self.verb, self.seen.item_id)

    def send(self, client: VpcepClient, body: dict[str, Any]) -> CallResult[Connection]:
        return connection_action(client, self.service_id, self.verb, self.seen.item_id)

    def name(self, state: Any) -> str:
        return self.service_name or self.service_id

    def after(self, result: CallResult[Any]) -> Any:
        return result.value.to_api() if isinstance(result.value, Connection) else result.body


class WhitelistChange(Change):
    """Add or remove one whitelist entry, as it was seen (absent before an add, that id before a remove)."""

    def __init__(
        self,
        seen: Seen,
        action: str,
        reason: str,
        service_name: str = "",
        restored_from: AuditRecord | None = None,
    ) -> None:
        super().__init__(seen.service_id, reason, restored_from)
        self.kind = AddWhitelistEntry if action == Action.ADD_WHITELIST_ENTRY else RemoveWhitelistEntry
        self.seen = seen
        self.verb = WHITELIST_VERBS[action]
        self.service_name = service_name

    def read(self, client: VpcepClient) -> Permission | None:
        return permission_find(client, self.service_id, self.seen.item_id)

    def conflicts(self, state: Permission | None) -> bool:
        return self.seen.entry_changed(state)

    def body(self, state: Permission | None) -> dict[str, Any]:
        return permission_action_body(self.verb, [self.seen.item_id], self.seen.status)

    def send(self, client: VpcepClient, body: dict[str, Any]) -> CallResult[Any]:
        return permission_action(client, self.service_id, self.verb, [self.seen.item_id], self.seen.status)

    def name(self, state: Any) -> str:
        return self.service_name or self.service_id

    def findings(self, rules: Settings, state: Any) -> list[Finding]:
        return policies.whitelist_findings(rules, [self.seen.item_id]) if self.seen.adds else []


@dataclass(frozen=True)
class ItemResult:
    """One connection's or entry's outcome in a batch."""

    seen: Seen
    action: str
    result: ChangeResult

    def shown(self) -> dict[str, Any]:
        """What the result page shows of it, as plain values (kept in the session between the POST
        and the page it redirects to)."""
        record = self.result.record
        return {
            "item_id": self.seen.item_id, "action": self.action_label, "outcome": self.outcome_label,
            "succeeded": self.result.succeeded, "message": self.result.message,
            "record_pk": record.pk if record else None, "record_seq": record.seq if record else None,
        }  # fmt: skip

    @property
    def action_label(self) -> str:
        return Action(self.action).label

    @property
    def outcome_label(self) -> str:
        """The outcome in words ("" for one the table's badge already says)."""
        if self.result.outcome in Outcome.values:
            return Outcome(self.result.outcome).label
        return {
            "busy": "busy",
            "unreadable": "secret unreadable",
            "refused": "refused",
            "forbidden": "forbidden by a policy",
            "needs_approval": "needs approval",
            "not_sent": "not sent",
        }.get(self.result.outcome, "")


def batch_deadline() -> float:
    """When a batch of changes made in one request must have ended (``time.monotonic``): one apply's
    deadline for the whole request, so the page is answered before the worker is stopped."""
    return time.monotonic() + Budget.of(settings).apply_deadline


def service_name(credential: CloudCredential, service_id: str, until: float | None = None) -> str:
    """The service's name for the audit records of a batch (one GET); its id when it cannot be read."""
    try:
        client = client_for(credential)
        return endpoint_service_get(client.until(until) if until else client, service_id).name or service_id
    except (CloudError, SecretUnreadable):
        return service_id


def item_body(seen: Seen, action: str) -> dict[str, Any]:
    """The exact body changing ``seen`` by ``action`` sends (what a change request keeps)."""
    if action in CONNECTION_VERBS:
        return connection_action_body(CONNECTION_VERBS[action], seen.item_id)
    return permission_action_body(WHITELIST_VERBS[action], [seen.item_id], seen.status)


def whitelist_action(seen: Seen) -> str:
    return Action.ADD_WHITELIST_ENTRY if seen.adds else Action.REMOVE_WHITELIST_ENTRY


def apply_connections(
    credential: CloudCredential,
    seen: Sequence[Seen],
    action: str,
    reason: str,
    context: recorder.Context,
    approval: ChangeRequest | None = None,
) -> list[ItemResult]:
    """Accept or reject each connection (one pipeline run, one call at most, per connection);
    ``approval``: the approved change request they carry out."""
    until = batch_deadline()
    name = service_name(credential, seen[0].service_id, until) if seen else ""
    return _connections(credential, seen, action, reason, name, context, until, approval)


def _connections(
    credential: CloudCredential,
    seen: Sequence[Seen],
    action: str,
    reason: str,
    name: str,
    context: recorder.Context,
    until: float,
    approval: ChangeRequest | None = None,
) -> list[ItemResult]:
    """One pipeline run per connection, in order, each its own attempt and outcome; then the
    account's cached pending queue is dropped, so it is not shown as still waiting (``pending.forget``)."""
    results = []
    for item in seen:
        if until - time.monotonic() < Budget.of(settings).cloud_deadline / 2:
            results.append(ItemResult(item, action, OUT_OF_TIME))  # not started: it might not end in time
            continue
        change = ConnectionChange(item, action, reason, name)
        result = apply_change(credential, change, context, until, approval=approval)
        results.append(ItemResult(item, action, result))
    if results:
        pending.forget(credential)
    return results


def apply_whitelist(
    credential: CloudCredential,
    seen: Seen,
    reason: str,
    context: recorder.Context,
    also_reject: Sequence[Seen] = (),
    restored_from: AuditRecord | None = None,
    until: float | None = None,
    name: str = "",
    approval: ChangeRequest | None = None,
) -> list[ItemResult]:
    """Add or remove one entry; after a removal that took effect, reject each of ``also_reject``
    (that account's connections), each its own change. All of it ends by ``until`` (the request's
    ``batch_deadline``); ``name`` is the service's when the caller read it already; ``approval``: the
    approved change request it carries out."""
    action = whitelist_action(seen)
    until = until or batch_deadline()
    name = name or service_name(credential, seen.service_id, until)
    change = WhitelistChange(seen, action, reason, name, restored_from)
    results = [ItemResult(seen, action, apply_change(credential, change, context, until, approval=approval))]
    if not seen.adds and results[0].result.succeeded:
        results += _connections(
            credential, also_reject, Action.REJECT_CONNECTION, reason, name, context, until, approval
        )
    return results


def items_now(credential: CloudCredential, seen: Sequence[Seen]) -> list[dict[str, Any]] | ReadProblem:
    """Each connection or entry of a change request as it was seen and as it is now (one GET each,
    in parallel): what approving it would meet."""
    try:
        client = client_for(credential)
    except SecretUnreadable as exc:
        return ReadProblem.from_error(exc)

    def now(item: Seen) -> dict[str, Any]:
        try:
            if item.of == ENTRY:
                found = permission_find(client, item.service_id, item.item_id)
                state, changed = ("absent" if found is None else "present"), item.entry_changed(found)
            else:
                conn = connection_get(client, item.service_id, item.item_id)
                state = "gone" if conn is None else conn.status
                changed = conn is None or item.connection_changed(conn)
        except CloudError as exc:
            return {"seen": item, "now": f"could not be read ({exc.message})", "changed": None}
        return {"seen": item, "now": state, "changed": changed}

    return in_parallel(now, list(seen))


@dataclass(frozen=True)
class Listing:
    """One page of a service's connections or whitelist, or why it could not be read."""

    page: ConnectionPage | PermissionPage | None = None
    problem: ReadProblem | None = None
    number: int = 1

    @property
    def page_count(self) -> int:
        total = self.page.total_count if self.page else 0
        return max(1, -(-total // PAGE_SIZE))


def list_connections(credential: CloudCredential, service_id: str, status: str, number: int) -> Listing:
    """One page of connections: exactly one list call with limit/offset."""
    try:
        page = connection_list(
            client_for(credential),
            service_id,
            status=status or None,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
        )
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return Listing(problem=ReadProblem.from_error(exc), number=number)
    note_success(credential)
    return Listing(page, number=number)


def list_whitelist(credential: CloudCredential, service_id: str, number: int) -> Listing:
    """One page of whitelist entries: exactly one list call with limit/offset."""
    try:
        page = permission_list(
            client_for(credential), service_id, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
        )
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return Listing(problem=ReadProblem.from_error(exc), number=number)
    note_success(credential)
    return Listing(page, number=number)


def connection_rows(
    credential: CloudCredential, service_id: str, connections: Sequence[Connection], can_modify: bool
) -> list[dict[str, Any]]:
    """Table rows: each connection with, for those who may change it, the signed token its buttons
    send and which of Accept and Reject its status allows."""
    rows: list[dict[str, Any]] = []
    for conn in connections:
        row: dict[str, Any] = {"conn": conn}
        if can_modify:
            seen = Seen.connection(credential, service_id, conn)
            row |= {"token": seen.sign(), "accept": seen.can(Action.ACCEPT_CONNECTION),
                    "reject": seen.can(Action.REJECT_CONNECTION)}  # fmt: skip
        rows.append(row)
    return rows


def entry_rows(
    credential: CloudCredential, service_id: str, entries: Sequence[Permission]
) -> list[dict[str, Any]]:
    """Table rows: each whitelist entry as an operator reads it, with the signed token of "Remove"
    (none for an entry the cloud lists without its text: nothing could name it)."""
    rows = []
    for entry in entries:
        label, value = describe(entry.permission)
        token = ""
        if entry.permission:
            seen = Seen.entry(credential, service_id, entry.permission, entry.permission_type, entry.id)
            token = seen.sign()
        rows.append({"entry": entry, "label": label, "value": value, "token": token})
    return rows


def whitelist_findings(credential: CloudCredential, seen: Seen) -> list[Finding]:
    """What the policies of the account's environment say of changing entry ``seen`` (an addition)."""
    return policies.whitelist_findings(settings_for(credential), [seen.item_id]) if seen.adds else []


def needs_name_typed(credential: CloudCredential, seen: Seen) -> bool:
    """Opening a production service to more than named accounts (``*``, or a wildcard) needs the
    service's name typed as confirmation."""
    return seen.adds and opens_widely(seen.item_id) and credential.environment == Environment.PRODUCTION


def live_rows(credential: CloudCredential, seen: Seen) -> list[dict[str, Any]] | ReadProblem:
    """For the removal of an account's entry: that account's connections that can still be rejected,
    with their tokens (one call); none for other entries."""
    if seen.adds or not seen.account:
        return []
    found = live_connections(credential, seen.service_id, seen.account)
    if isinstance(found, ReadProblem):
        return found
    return connection_rows(credential, seen.service_id, found, can_modify=True)


def undoes(record: AuditRecord, seen: Seen) -> bool:
    """Whether changing ``seen`` is what undoing ``record`` asks for (the same entry, the opposite way)."""
    undo = undo_of(record)
    if undo is None:
        return False
    action, entry, _kind = undo
    return entry == seen.item_id and (action == Action.ADD_WHITELIST_ENTRY) == seen.adds


def live_connections(
    credential: CloudCredential, service_id: str, domain_id: str
) -> list[Connection] | ReadProblem:
    """The connections of account ``domain_id`` to the service that can still be rejected (one call)."""
    try:
        page = connection_list(client_for(credential), service_id, limit=1000)
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return ReadProblem.from_error(exc)
    actionable = ACTIONABLE[Action.REJECT_CONNECTION]
    return [conn for conn in page.connections if conn.domain_id == domain_id and conn.status in actionable]


def undoing(record_pk: int | None, credential: CloudCredential, service_id: str) -> AuditRecord | None:
    """The applied whitelist change of this service a "… this entry again" asks to undo, if it is one."""
    if not record_pk:
        return None
    record = AuditRecord.objects.filter(pk=record_pk).first()
    if record is None or undo_of(record) is None:
        return None
    if record.target_id != service_id or record.project_id != credential.project_id:
        return None
    return record


def undo_seen(credential: CloudCredential, record: AuditRecord) -> Seen | ReadProblem:
    """The entry as it must be now for ``record`` to be undone: absent (to add it again), or present
    — its id read now, one call — to remove it again."""
    undo = undo_of(record)
    assert undo is not None
    action, entry, kind = undo
    if action == Action.ADD_WHITELIST_ENTRY:
        return Seen.entry(credential, record.target_id, entry, kind, "")
    try:
        found = permission_find(client_for(credential), record.target_id, entry)
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return ReadProblem.from_error(exc)
    if found is None:
        return ReadProblem("The entry is no longer on the whitelist: there is nothing to remove.")
    return Seen.entry(credential, record.target_id, entry, found.permission_type, found.id)
