"""The kinds of change the dashboard makes, as the pipeline and the reconciler know them.

Each kind says how its target is re-read from an attempt record alone and what a re-read proves
(``pipeline.ChangeKind``). What a change of a kind compares and sends is its ``Change`` (the
service edit's in ``endpoints.modify``, the connections' and whitelist's in ``endpoints.actions``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from vpcepadmin.audit.changes import CONNECTION_RESULTS, acted_on
from vpcepadmin.audit.models import Action, Outcome
from vpcepadmin.changes.pipeline import ChangeKind
from vpcepadmin.changes.snapshots import (
    CONNECTIONS,
    WHITELIST,
    catch_up,
    fingerprint,
    part_changed,
    record_applied,
)
from vpcepadmin.changes.targets import Target
from vpcepadmin.changes.verdicts import CLOCK_TOLERANCE, Verdict, judge, when
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import connection_get, endpoint_service_get, permission_find
from vpcepadmin.cloud.types import Connection, EndpointService, Permission, parse_timestamp
from vpcepadmin.credentials.models import CloudCredential


class ServiceUpdate(ChangeKind):
    """A PUT of a service's editable fields (the edit flow)."""

    action = Action.MODIFY_ENDPOINT_SERVICE
    noun = "service"

    @classmethod
    def reread(cls, client: VpcepClient, service_id: str, body: Any) -> EndpointService:
        return endpoint_service_get(client, service_id)

    @classmethod
    def judge(cls, before: Any, body: Any, state: Any, window_end: datetime) -> Verdict:
        return judge(before, body, state, window_end)

    @classmethod
    def snapshot(cls, state: Any) -> Any:
        return state.to_api() if isinstance(state, EndpointService) else None

    @classmethod
    def observed(cls, target: Target, state: Any, body: Any) -> None:
        if isinstance(state, EndpointService):
            record_applied(target, state)

    @classmethod
    def catch_up(cls, credential: CloudCredential, target: Target, state: Any) -> bool:
        return catch_up(credential, target, state) if isinstance(state, EndpointService) else True

    @classmethod
    def explains(cls, after: Any, state: Any) -> bool:
        """The record left the service exactly as it is: the same editable values, status and
        ``updated_at`` (an answer to our PUT, or the state an observation recorded)."""
        if not isinstance(after, dict) or not isinstance(state, EndpointService):
            return False
        try:
            was = EndpointService.from_api(after)
        except ValueError:
            return False
        return was.updated_at == state.updated_at and fingerprint(was) == fingerprint(state)


class _ConnectionDecision(ChangeKind):
    """Accepting or rejecting one connection: ``POST …/connections/action`` naming one endpoint."""

    noun = "connection"

    @classmethod
    def reread(cls, client: VpcepClient, service_id: str, body: Any) -> Connection | None:
        return connection_get(client, service_id, acted_on(body, "endpoints"))

    @classmethod
    def judge(cls, before: Any, body: Any, state: Any, window_end: datetime) -> Verdict:
        """Its status and ``updated_at`` against the ones before and the status the action leads to."""
        was = before if isinstance(before, dict) else {}
        wanted = CONNECTION_RESULTS[cls.action]
        if not isinstance(state, Connection):
            return Verdict(
                Outcome.UNDETERMINED, "The connection no longer exists, so its state cannot be compared."
            )
        u0, u = parse_timestamp(was.get("updated_at")), state.updated_at
        if state.status == was.get("status") and u == u0:
            return Verdict(
                Outcome.RECONCILED_NOT_APPLIED,
                f"The connection is exactly as before the change ({state.status}, last updated {when(u)}).",
            )
        if (
            state.status == wanted
            and u is not None
            and (u0 is None or u0 <= u <= window_end + CLOCK_TOLERANCE)
        ):
            return Verdict(
                Outcome.RECONCILED_APPLIED,
                f"The connection is {wanted}, last updated {when(u)}, within the change's window "
                f"(until {when(window_end)}).",
            )
        return Verdict(
            Outcome.UNDETERMINED,
            f"The connection is {state.status or '(no status)'}, last updated {when(u)} (before: "
            f"{was.get('status') or '?'}, {when(u0)}): another change may have set it.",
        )

    @classmethod
    def snapshot(cls, state: Any) -> Any:
        return state.to_api() if isinstance(state, Connection) else None

    @classmethod
    def observed(cls, target: Target, state: Any, body: Any) -> None:
        """The connection's status in the service's observed connections (when they are observed)."""
        endpoint = acted_on(body, "endpoints")
        status = state.status if isinstance(state, Connection) else CONNECTION_RESULTS[cls.action]
        account = {"domain_id": state.domain_id} if isinstance(state, Connection) else {}

        def change(observed: dict[str, Any]) -> None:
            connections = dict(observed.get(CONNECTIONS) or {})
            connections[endpoint] = {**connections.get(endpoint, {}), **account, "status": status}
            observed[CONNECTIONS] = connections

        part_changed(target, CONNECTIONS, change)

    @classmethod
    def explains(cls, after: Any, state: Any) -> bool:
        """The record left the connection in its status, at its ``updated_at``."""
        if not isinstance(after, dict) or not isinstance(state, Connection):
            return False
        observed = after.get(CONNECTIONS)
        if isinstance(observed, dict):  # an observed change of the service's connections
            entry = observed.get(state.id)
            return isinstance(entry, dict) and entry.get("status") == state.status
        same_time = parse_timestamp(after.get("updated_at")) == state.updated_at
        return after.get("id") == state.id and after.get("status") == state.status and same_time


class AcceptConnection(_ConnectionDecision):
    action = Action.ACCEPT_CONNECTION


class RejectConnection(_ConnectionDecision):
    action = Action.REJECT_CONNECTION


class _WhitelistEntry(ChangeKind):
    """Adding or removing one whitelist entry: ``POST …/permissions/action`` naming one entry."""

    noun = "whitelist entry"

    @classmethod
    def reread(cls, client: VpcepClient, service_id: str, body: Any) -> Permission | None:
        return permission_find(client, service_id, acted_on(body, "permissions"))

    @classmethod
    def snapshot(cls, state: Any) -> Any:
        return state.to_api() if isinstance(state, Permission) else None

    @classmethod
    def explains(cls, after: Any, state: Any) -> bool:
        """The record put the entry there: our add's answer names it, or an observed whitelist holds it.
        (An entry found gone names nothing: a removal leaves no trace to match.)"""
        if not isinstance(after, dict) or not isinstance(state, Permission):
            return False
        named = after.get(WHITELIST) if WHITELIST in after else after.get("permissions")
        return isinstance(named, list) and state.permission in named


def _entries_changed(target: Target, body: Any, change: Callable[[set[str], str], set[str]]) -> None:
    """The service's observed whitelist (when it is observed) with the entry ``body`` names changed."""
    entry = acted_on(body, "permissions")

    def apply(observed: dict[str, Any]) -> None:
        observed[WHITELIST] = sorted(change(set(observed.get(WHITELIST) or []), entry))

    part_changed(target, WHITELIST, apply)


def _read_late(window_end: datetime) -> bool:
    """The re-read comes after the change's window: an absence may be a later change's doing."""
    return timezone.now() > window_end + CLOCK_TOLERANCE


class AddWhitelistEntry(_WhitelistEntry):
    action = Action.ADD_WHITELIST_ENTRY

    @classmethod
    def observed(cls, target: Target, state: Any, body: Any) -> None:
        _entries_changed(target, body, lambda entries, entry: entries | {entry})

    @classmethod
    def judge(cls, before: Any, body: Any, state: Any, window_end: datetime) -> Verdict:
        """It was not there before (the attempt says so): there now, created in time, is the add;
        still absent within the window is no add. The whitelist keeps no trace of a removal, so an
        absence found later proves nothing (an add, then a removal by somebody else)."""
        if not isinstance(state, Permission):
            if _read_late(window_end):
                return Verdict(
                    Outcome.UNDETERMINED,
                    f"The whitelist does not hold the entry, but it was read after the change's window "
                    f"(until {when(window_end)}): it may have been added and removed since.",
                )
            return Verdict(Outcome.RECONCILED_NOT_APPLIED, "The whitelist still does not hold the entry.")
        created = state.created_at
        if created is None:
            return Verdict(Outcome.UNDETERMINED, "The whitelist holds the entry, but not when it was added.")
        if created <= window_end + CLOCK_TOLERANCE:
            return Verdict(
                Outcome.RECONCILED_APPLIED,
                f"The whitelist holds the entry, added {when(created)}, within the change's window "
                f"(until {when(window_end)}).",
            )
        return Verdict(
            Outcome.UNDETERMINED,
            f"The whitelist holds the entry, but it was added {when(created)}, after the change's window "
            f"(until {when(window_end)}): another change may have added it.",
        )


class RemoveWhitelistEntry(_WhitelistEntry):
    action = Action.REMOVE_WHITELIST_ENTRY

    @classmethod
    def observed(cls, target: Target, state: Any, body: Any) -> None:
        _entries_changed(target, body, lambda entries, entry: entries - {entry})

    @classmethod
    def judge(cls, before: Any, body: Any, state: Any, window_end: datetime) -> Verdict:
        """Gone within the window is the removal; the same entry (its id) still there is no removal;
        gone when read later, or there under another id, cannot be told apart from other changes."""
        was = before if isinstance(before, dict) else {}
        if not isinstance(state, Permission):
            if _read_late(window_end):
                return Verdict(
                    Outcome.UNDETERMINED,
                    f"The whitelist no longer holds the entry, but it was read after the change's window "
                    f"(until {when(window_end)}): somebody else may have removed it.",
                )
            return Verdict(Outcome.RECONCILED_APPLIED, "The whitelist no longer holds the entry.")
        if state.id == was.get("id"):
            return Verdict(Outcome.RECONCILED_NOT_APPLIED, "The whitelist still holds the same entry.")
        return Verdict(
            Outcome.UNDETERMINED,
            f"The whitelist holds the entry again, added {when(state.created_at)} under another id: it "
            "was removed and added again, or never removed.",
        )
