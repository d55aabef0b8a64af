"""Four eyes on every kind of change: connection and whitelist actions on an account whose changes need
a second person's approval are requests; approving sends exactly them, as the approver; one that
changed meanwhile is stale. A stale service request is laid over the service as it is now by its
author. Against the simulator over real HTTP."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from tests import seeds
from tests.connectionkit import ACCOUNTS, ACTION_PATH, PENDING, SERVICE_ID, WHITELIST_PATH, seed
from tests.dashboard import client_for, make_user, operators
from tests.editing import Editor
from tests.mfakit import verify_session
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.changes.models import ChangeRequest, RequestStatus
from vpcepadmin.policies.models import Mode, PolicyRule, Rule


@pytest.fixture
def cloud(simulator):
    simulator.reset(seed())
    simulator.control.clear_journal()
    return simulator


@pytest.fixture
def guarded(account):
    """The test account on staging with four eyes on (no policy of production in the way)."""
    account.requires_approval = True
    account.save()
    return account


@pytest.fixture
def people(db):
    return operators("alice", "bob")


def _url(account, tail: str) -> str:
    return f"/credentials/{account.pk}/services/{SERVICE_ID}/{tail}"


def _calls(cloud, path: str) -> list[dict]:
    return [entry for entry in cloud.journal(method="POST") if path in entry["path"]]


def _status(cloud, endpoint_id: str) -> str:
    return {item["id"]: item for item in cloud.control.state()["endpoints"]}[endpoint_id]["status"]


def _connection_token(client, account, endpoint_id: str) -> str:
    page = client.get(_url(account, "connections/")).content.decode()
    rows = re.findall(
        r'name="connection" value="([^"]+)" id="sel-\d+" aria-label="Select connection ([0-9a-f-]+)"', page
    )
    return {endpoint: token for token, endpoint in rows}[endpoint_id]


def _request_edit(client, account, service_id: str, reason: str, **fields: Any) -> ChangeRequest:
    """A service edit reviewed and requested (nothing sent), as its author's pages make it."""
    editor = Editor(client, account.pk, service_id)
    editor.load()
    editor.submit("review", **fields)
    assert editor.submit("request", reason=reason, **fields).status_code == 302
    return ChangeRequest.objects.latest("pk")


def _decide(client, change: ChangeRequest, action: str, comment: str = "checked") -> Any:
    return client.post(f"/approvals/{change.pk}/decide/", {"action": action, "reason": comment}, follow=True)


def test_accepting_connections_on_a_four_eyes_account_is_a_request_the_approver_applies(
    people, guarded, cloud
) -> None:
    alice, bob = people["alice"], people["bob"]
    tokens = [_connection_token(alice, guarded, endpoint) for endpoint in PENDING[:2]]
    confirm = alice.post(_url(guarded, "connections/confirm/"), {"bulk": "accept", "connection": tokens})
    page = confirm.content.decode()
    assert "Request approval" in page and 'value="apply"' not in page
    # Applying it directly is refused; nothing is sent, nothing recorded.
    data = {"do": "accept", "connection": tokens, "reason": "INC-9 new clients"}
    assert alice.post(_url(guarded, "connections/confirm/"), {**data, "step": "apply"}).status_code == 403
    response = alice.post(_url(guarded, "connections/confirm/"), {**data, "step": "request"})
    assert response.status_code == 302
    change = ChangeRequest.objects.get()
    assert (change.kind, change.status, change.author_username) == (
        Action.ACCEPT_CONNECTION, RequestStatus.OPEN, "alice"
    )  # fmt: skip
    assert change.body == [{"action": "receive", "endpoints": [endpoint]} for endpoint in PENDING[:2]]
    assert _calls(cloud, ACTION_PATH) == []
    assert not AuditRecord.objects.filter(action=Action.ACCEPT_CONNECTION).exists()
    requested = AuditRecord.objects.get(action=Action.REQUEST_CHANGE)
    assert requested.summary == f"request #{change.pk}: accept connection × 2: {PENDING[0]}, {PENDING[1]}"
    # The request's page shows each connection as seen and as it is now; the author cannot decide.
    detail = alice.get(f"/approvals/{change.pk}/").content.decode()
    assert PENDING[0] in detail and "pendingAcceptance" in detail and "Approve and apply" not in detail
    assert _decide(alice, change, "approve").status_code == 403
    page = _decide(bob, change, "approve").content.decode()
    assert "Approved and applied." in page
    change.refresh_from_db()
    assert change.status == RequestStatus.APPLIED and change.decided_by_username == "bob"
    calls = _calls(cloud, ACTION_PATH)
    assert [call["body"] for call in calls] == change.body
    assert _status(cloud, PENDING[0]) == _status(cloud, PENDING[1]) == "accepted"
    outcomes = AuditRecord.objects.filter(action=Action.ACCEPT_CONNECTION, outcome=Outcome.APPLIED)
    assert outcomes.count() == 2
    for record in outcomes:
        assert record.actor_username == "bob"
        assert record.reason == f"Request #{change.pk} by alice, approved by bob: INC-9 new clients"
    assert verify_chain().ok


def test_a_connection_request_whose_connection_changed_is_stale_and_sends_nothing(
    people, guarded, cloud, raw_api
) -> None:
    alice, bob = people["alice"], people["bob"]
    token = _connection_token(alice, guarded, PENDING[0])
    data = {"do": "accept", "connection": [token], "reason": "INC-10", "step": "request"}
    assert alice.post(_url(guarded, "connections/confirm/"), data).status_code == 302
    change = ChangeRequest.objects.get()
    # Somebody rejects it in the console meanwhile.
    raw_api.post(
        f"{seeds.service_path(SERVICE_ID)}/connections/action",
        {"action": "reject", "endpoints": [PENDING[0]]},
    )
    cloud.control.clear_journal()
    detail = bob.get(f"/approvals/{change.pk}/").content.decode()
    assert "changed: approving sends nothing for it" in detail
    page = _decide(bob, change, "approve").content.decode()
    assert "nothing was sent" in page
    change.refresh_from_db()
    assert change.status == RequestStatus.STALE
    assert _calls(cloud, ACTION_PATH) == [] and _status(cloud, PENDING[0]) == "rejected"
    assert AuditRecord.objects.filter(action=Action.STALE_REQUEST).count() == 1
    assert AuditRecord.objects.filter(action=Action.ACCEPT_CONNECTION, outcome=Outcome.CONFLICT).count() == 1


def test_a_whitelist_addition_on_a_four_eyes_account_is_a_request(people, guarded, cloud) -> None:
    alice, bob = people["alice"], people["bob"]
    confirm = alice.post(_url(guarded, "whitelist/confirm/"), {"entry_type": "account", "value": ACCOUNTS[1]})
    page = confirm.content.decode()
    assert "Request approval" in page and 'value="apply"' not in page
    token = re.search(r'name="item" value="([^"]+)"', page)
    assert token is not None
    data = {"item": token.group(1), "reason": "OPS-3"}
    assert alice.post(_url(guarded, "whitelist/confirm/"), {**data, "step": "apply"}).status_code == 403
    assert alice.post(_url(guarded, "whitelist/confirm/"), {**data, "step": "request"}).status_code == 302
    change = ChangeRequest.objects.get()
    entry = f"iam:domain::{ACCOUNTS[1]}"
    assert change.kind == Action.ADD_WHITELIST_ENTRY
    assert change.body == [{"permissions": [entry], "action": "add", "permission_type": "domainId"}]
    assert _calls(cloud, WHITELIST_PATH) == []
    assert "Approved and applied." in _decide(bob, change, "approve").content.decode()
    [call] = _calls(cloud, WHITELIST_PATH)
    assert call["body"] == change.body[0]
    record = AuditRecord.objects.get(action=Action.ADD_WHITELIST_ENTRY, outcome=Outcome.APPLIED)
    assert record.actor_username == "bob" and "by alice, approved by bob" in record.reason


def test_the_author_lays_a_stale_service_request_over_the_current_state(
    people, guarded, simulator, raw_api
) -> None:
    alice, bob = people["alice"], people["bob"]
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change = _request_edit(alice, guarded, service_id, "OPS-11", description="mine")
    assert raw_api.put(seeds.service_path(service_id), {"service_name": "console-name"}).status == 200
    _decide(bob, change, "approve")
    change.refresh_from_db()
    assert change.status == RequestStatus.STALE
    detail = alice.get(f"/approvals/{change.pk}/").content.decode()
    link = f"/credentials/{guarded.pk}/services/{service_id}/edit/?rebase={change.pk}"
    assert "Lay my change over the current state" in detail and link in detail
    page = alice.get(link).content.decode()
    # Both: the console's new name, and the author's description.
    assert 'value="console-name"' in page and ">mine</textarea>" in page
    assert f"Your request #{change.pk} is laid over the current state" in page
    # Only its author can: for bob the form is the service as it is.
    assert ">mine</textarea>" not in bob.get(link).content.decode()


def test_a_removal_whose_follow_up_rejection_ran_into_a_change_is_partly_applied(
    people, guarded, cloud, raw_api
) -> None:
    alice, bob = people["alice"], people["bob"]
    page = alice.get(_url(guarded, "whitelist/")).content.decode()
    item = re.search(r'name="item" value="([^"]+)"', page)
    assert item is not None
    confirm = alice.post(_url(guarded, "whitelist/confirm/"), {"item": item.group(1)}).content.decode()
    connections = re.findall(r'name="connection" value="([^"]+)"', confirm)
    assert len(connections) == 2  # ACCOUNTS[0]'s pending and accepted connections
    data = {"item": item.group(1), "step": "request", "reason": "offboarding", "also_reject": "1",
            "connection": connections}  # fmt: skip
    assert alice.post(_url(guarded, "whitelist/confirm/"), data).status_code == 302
    change = ChangeRequest.objects.get()
    requested = AuditRecord.objects.get(action=Action.REQUEST_CHANGE)
    assert len(requested.request_body) == 3  # the removal, then the two rejections it names
    entry = f"iam:domain::{ACCOUNTS[0]}"
    assert (
        requested.summary
        == f"request #{change.pk}: remove whitelist entry × 1: {entry}; then reject connection × 2"
    )
    # One of the two connections is rejected in the console meanwhile: its rejection is not sent.
    rejection = {"action": "reject", "endpoints": [PENDING[0]]}
    assert raw_api.post(f"{seeds.service_path(SERVICE_ID)}/connections/action", rejection).status == 200
    cloud.control.clear_journal()
    page = _decide(bob, change, "approve").content.decode()
    assert "2 of 3 applied" in page
    change.refresh_from_db()
    assert change.status == RequestStatus.PARTLY_APPLIED
    assert len(_calls(cloud, WHITELIST_PATH)) == 1 and len(_calls(cloud, ACTION_PATH)) == 1


def test_a_change_a_policy_forbids_since_its_review_is_neither_requested_nor_sent(
    people, guarded, simulator
) -> None:
    alice, bob = people["alice"], people["bob"]
    service_id = simulator.seed["endpoint_services"][0]["id"]
    editor = Editor(alice, guarded.pk, service_id)
    editor.load()
    rows = [*editor.values["ports"], (2222, 22, "TCP")]
    editor.submit("review", ports=rows)
    assert editor.submit("request", reason="OPS-12", ports=rows).status_code == 302
    change = ChangeRequest.objects.get()
    # An admin forbids server port 22 on staging: approving the request sends nothing.
    PolicyRule.objects.update_or_create(
        environment="staging", rule=Rule.FORBIDDEN_PORTS, defaults={"mode": Mode.FORBIDDEN, "value": [22]}
    )
    page = _decide(bob, change, "approve").content.decode()
    assert "Server port 22 is forbidden on staging services" in page
    change.refresh_from_db()
    assert change.status == RequestStatus.NOT_APPLIED and simulator.journal(method="PUT") == []
    # Reviewed before the rule, requested after it: refused on the row, no request made.
    editor.submit("review", ports=rows)
    PolicyRule.objects.filter(environment="staging", rule=Rule.FORBIDDEN_PORTS).update(mode=Mode.OFF)
    editor.submit("review", ports=rows)  # signs the review while the rule is off
    PolicyRule.objects.filter(environment="staging", rule=Rule.FORBIDDEN_PORTS).update(mode=Mode.FORBIDDEN)
    response = editor.submit("request", reason="OPS-12 again", ports=rows)
    assert response.status_code == 200 and "Server port 22 is forbidden" in response.content.decode()
    assert ChangeRequest.objects.count() == 1 and simulator.journal(method="PUT") == []


def test_requests_past_their_age_expire_when_the_job_runs_with_a_record_on_their_page(
    people, guarded, simulator, settings
) -> None:
    alice = people["alice"]
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change = _request_edit(alice, guarded, service_id, "OPS-13", description="late")
    call_command("expire_requests", stdout=io.StringIO())
    change.refresh_from_db()
    assert change.status == RequestStatus.OPEN  # not due yet
    ChangeRequest.objects.filter(pk=change.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.APPROVAL_MAX_AGE + 1)
    )
    out = io.StringIO()
    call_command("expire_requests", stdout=out)
    assert "1 request(s) expired." in out.getvalue()
    change.refresh_from_db()
    assert change.status == RequestStatus.EXPIRED
    page = alice.get(f"/approvals/{change.pk}/").content.decode()
    assert "Change request expired — " in page


def test_an_author_deleted_and_made_again_is_still_the_author(people, guarded, simulator) -> None:
    alice = people["alice"]
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change = _request_edit(alice, guarded, service_id, "OPS-14", description="mine")
    User.objects.filter(username="alice").delete()
    again = make_user("operator", username="alice")
    client = client_for(again)
    verify_session(client, again)
    assert _decide(client, change, "approve").status_code == 403
    change.refresh_from_db()
    assert change.status == RequestStatus.OPEN and simulator.journal(method="PUT") == []
