"""What re-reading proves about a connection or whitelist change whose answer was lost: every branch
of each kind's judgement (the service edit's are in test_reconcile and test_edit_cloud_states)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from vpcepadmin.audit.models import Outcome
from vpcepadmin.changes.kinds import (
    AcceptConnection,
    AddWhitelistEntry,
    RejectConnection,
    RemoveWhitelistEntry,
)
from vpcepadmin.cloud.types import Connection, Permission

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
END = T0 + timedelta(seconds=80)  # the change's window ends here
BEFORE = {"id": "e1", "status": "pendingAcceptance", "updated_at": "2026-11-29T12:00:00Z"}


def _conn(status: str, updated: datetime | None) -> Connection:
    return Connection("e1", status, updated_at=updated)


CONNECTION_CASES = [
    (AcceptConnection, _conn("pendingAcceptance", T0), Outcome.RECONCILED_NOT_APPLIED),
    (AcceptConnection, _conn("accepted", T0 + timedelta(seconds=3)), Outcome.RECONCILED_APPLIED),
    (AcceptConnection, _conn("accepted", END + timedelta(minutes=5)), Outcome.UNDETERMINED),
    (AcceptConnection, _conn("rejected", T0 + timedelta(seconds=3)), Outcome.UNDETERMINED),
    (AcceptConnection, None, Outcome.UNDETERMINED),
    (RejectConnection, _conn("rejected", T0 + timedelta(seconds=3)), Outcome.RECONCILED_APPLIED),
    (RejectConnection, _conn("pendingAcceptance", T0), Outcome.RECONCILED_NOT_APPLIED),
    (RejectConnection, _conn("pendingAcceptance", T0 + timedelta(seconds=9)), Outcome.UNDETERMINED),
]


@pytest.mark.parametrize(("kind", "state", "expected"), CONNECTION_CASES)
def test_a_connection_is_judged_by_its_status_and_updated_at(kind, state, expected) -> None:
    assert kind.judge(BEFORE, {}, state, END).outcome == expected


ENTRY = Permission("p1", "iam:domain::abc", "domainId", created_at=T0 + timedelta(seconds=2))
LATER = Permission("p2", "iam:domain::abc", "domainId", created_at=END + timedelta(minutes=5))
UNDATED = Permission("p3", "iam:domain::abc", "domainId")


@pytest.mark.parametrize(
    ("kind", "before", "state", "read_late", "expected"),
    [
        (AddWhitelistEntry, None, ENTRY, False, Outcome.RECONCILED_APPLIED),
        (AddWhitelistEntry, None, ENTRY, True, Outcome.RECONCILED_APPLIED),
        (AddWhitelistEntry, None, LATER, True, Outcome.UNDETERMINED),
        (AddWhitelistEntry, None, UNDATED, False, Outcome.UNDETERMINED),
        (AddWhitelistEntry, None, None, False, Outcome.RECONCILED_NOT_APPLIED),
        (AddWhitelistEntry, None, None, True, Outcome.UNDETERMINED),
        (RemoveWhitelistEntry, ENTRY.to_api(), None, False, Outcome.RECONCILED_APPLIED),
        (RemoveWhitelistEntry, ENTRY.to_api(), None, True, Outcome.UNDETERMINED),
        (RemoveWhitelistEntry, ENTRY.to_api(), ENTRY, True, Outcome.RECONCILED_NOT_APPLIED),
        (RemoveWhitelistEntry, ENTRY.to_api(), LATER, False, Outcome.UNDETERMINED),
    ],
)
def test_a_whitelist_entry_is_judged_by_its_presence_id_and_time(
    kind, before, state, read_late, expected
) -> None:
    now = END + (timedelta(minutes=10) if read_late else timedelta(seconds=-30))
    with mock.patch("django.utils.timezone.now", return_value=now):
        verdict = kind.judge(before, {}, state, END)
    assert verdict.outcome == expected, verdict.reason
