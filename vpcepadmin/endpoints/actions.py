"""Use cases for a service's connections and whitelist: read them, and accept, reject, add or
remove through the change pipeline (``changes.pipeline``) — one change per connection or entry.

What the operator saw travels signed (``Seen``): the connection's id, status and ``updated_at``, or
the whitelist entry's id. Before each call the target is read again; if it is not what was seen,
nothing is sent for it (a conflict, recorded). A batch is one change per connection, each with its
own attempt and outcome, linked by the web request's id (the batch id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

from vpcepadmin.audit import recorder
from vpcepadmin.audit.changes import CONNECTION_VERBS, WHITELIST_VERBS, undo_of
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.changes.kinds import (
    AcceptConnection,
    AddWhitelistEntry,
    RejectConnection,
    RemoveWhitelistEntry,
)
from vpcepadmin.changes.pipeline import Change, ChangeKind, ChangeResult, apply_change
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import (
    CallResult,
    connection_action,
    connection_get,
    connection_list,
    endpoint_service_get,
    permission_action,
    permission_find,
    permission_list,
)
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.cloud.types import Connection, ConnectionPage, Permission, PermissionPage, format_timestamp
from vpcepadmin.cloud.whitelist import ACCOUNT_PREFIX
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure, note_success
from vpcepadmin.endpoints import pending
from vpcepadmin.endpoints.services import ReadProblem

PAGE_SIZE = 25
CONNECTION_STATUSES = ("pendingAcceptance", "creating", "accepted", "rejected", "failed", "deleting")
# The statuses each action can leave (the console offers the same: a pending connection either way,
# an accepted one can be rejected, a rejected one accepted again).
ACTIONABLE: dict[str, tuple[str, ...]] = {
    Action.ACCEPT_CONNECTION: ("pendingAcceptance", "rejected"),
    Action.REJECT_CONNECTION: ("pendingAcceptance", "accepted"),
}
MAX_BATCH = PAGE_SIZE  # one page of connections at a time
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

    @property
    def of(self) -> str:
        """What this is of: a connection (it has a status the actions know) or a whitelist entry."""
        return ENTRY if self.status in ("domainId", "orgPath") else CONNECTION

    def sign(self) -> str:
        payload = [self.credential_id, self.service_id, self.item_id, self.status, self.updated_at]
        return signing.dumps(
            [*payload, self.domain_id, self.marker_id], salt=f"{SALT}.{self.of}", compress=True
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
            or len(payload) != 7
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
        return cls(credential.pk, service_id, entry, kind, entry_id)

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
        updated = format_timestamp(state.updated_at) if state.updated_at else ""
        return state.status != self.seen.status or updated != self.seen.updated_at

    def body(self, state: Connection) -> dict[str, Any]:
        return {"action": self.verb, "endpoints": [self.seen.item_id]}

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
        if self.verb == "add":
            return state is not None
        return state is None or state.id != self.seen.updated_at

    def body(self, state: Permission | None) -> dict[str, Any]:
        return {"permissions": [self.seen.item_id], "action": self.verb, "permission_type": self.seen.status}

    def send(self, client: VpcepClient, body: dict[str, Any]) -> CallResult[Any]:
        return permission_action(client, self.service_id, self.verb, [self.seen.item_id], self.seen.status)

    def name(self, state: Any) -> str:
        return self.service_name or self.service_id


@dataclass(frozen=True)
class ItemResult:
    """One connection's or entry's outcome in a batch."""

    seen: Seen
    action: str
    result: ChangeResult

    @property
    def action_label(self) -> str:
        return Action(self.action).label

    @property
    def outcome_label(self) -> str:
        """The outcome in words ("" for one the table's badge already says)."""
        if self.result.outcome in Outcome.values:
            return Outcome(self.result.outcome).label
        return {"busy": "busy", "unreadable": "secret unreadable", "refused": "refused"}.get(
            self.result.outcome, ""
        )


def service_name(credential: CloudCredential, service_id: str) -> str:
    """The service's name for the audit records of a batch (one GET); its id when it cannot be read."""
    try:
        return endpoint_service_get(client_for(credential), service_id).name or service_id
    except (CloudError, SecretUnreadable):
        return service_id


def apply_connections(
    credential: CloudCredential, seen: Sequence[Seen], action: str, reason: str, context: recorder.Context
) -> list[ItemResult]:
    """Accept or reject each connection (one pipeline run, one call at most, per connection)."""
    name = service_name(credential, seen[0].service_id) if seen else ""
    return _connections(credential, seen, action, reason, name, context)


def _connections(
    credential: CloudCredential,
    seen: Sequence[Seen],
    action: str,
    reason: str,
    name: str,
    context: recorder.Context,
) -> list[ItemResult]:
    """One pipeline run per connection, in order, each its own attempt and outcome; then the
    account's cached pending queue is dropped, so it is not shown as still waiting (``pending.forget``)."""
    results = []
    for item in seen:
        change = ConnectionChange(item, action, reason, name)
        results.append(ItemResult(item, action, apply_change(credential, change, context)))
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
) -> list[ItemResult]:
    """Add or remove one entry; after a removal that took effect, reject each of ``also_reject``
    (that account's connections), each its own change."""
    action = Action.ADD_WHITELIST_ENTRY if seen.adds else Action.REMOVE_WHITELIST_ENTRY
    name = service_name(credential, seen.service_id)
    change = WhitelistChange(seen, action, reason, name, restored_from)
    results = [ItemResult(seen, action, apply_change(credential, change, context))]
    if not seen.adds and results[0].result.succeeded:
        results += _connections(credential, also_reject, Action.REJECT_CONNECTION, reason, name, context)
    return results


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
