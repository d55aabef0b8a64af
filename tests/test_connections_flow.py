"""Connections and whitelist through the pages and the change pipeline, against the simulator over
real HTTP: what is read, what is sent (the simulator's journal), what the audit log keeps."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.connectionkit import (
    ACCEPTED,
    ACCOUNTS,
    ACTION_PATH,
    ELSEWHERE,
    OTHER_SERVICE_ID,
    PENDING,
    SERVICE_ID,
    WHITELIST_PATH,
    seed,
)
from tests.connectionkit import connection as seeded_connection
from tests.dashboard import make_account
from tests.mfakit import age_the_check, verify_session
from tests.seeds import stable_uuid
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.budget import Budget
from vpcepadmin.cloud.types import Connection
from vpcepadmin.endpoints.actions import Seen
from vpcepadmin.policies.models import Mode, PolicyRule, Rule


def change_records() -> list[AuditRecord]:
    """The records of changes to endpoint services (attempts, outcomes, conflicts), oldest first."""
    return list(AuditRecord.objects.filter(target_type=TargetType.ENDPOINT_SERVICE).order_by("seq"))


@pytest.fixture
def cloud(simulator):
    simulator.reset(seed())
    simulator.control.clear_journal()
    return simulator


def _url(account, tail: str = "connections/") -> str:
    return f"/credentials/{account.pk}/services/{SERVICE_ID}/{tail}"


def _tokens(client, account, name: str = "connection") -> dict[str, str]:
    """Endpoint id → its signed token, as the connections page renders them."""
    page = client.get(_url(account)).content.decode()
    rows = re.findall(
        r'name="connection" value="([^"]+)" id="sel-\d+" aria-label="Select connection ([0-9a-f-]+)"', page
    )
    return {endpoint: token for token, endpoint in rows}


def _apply(client, account, verb: str, tokens: list[str], reason: str = "OPS-1") -> Any:
    data = {"do": verb, "connection": tokens, "step": "apply", "reason": reason}
    return client.post(_url(account, "connections/confirm/"), data, follow=True)


def _status(cloud, endpoint_id: str) -> str:
    endpoints = {item["id"]: item for item in cloud.control.state()["endpoints"]}
    return endpoints[endpoint_id]["status"]


def _calls(cloud, path: str) -> list[dict]:
    return [entry for entry in cloud.journal(method="POST") if path in entry["path"]]


def test_the_connections_tab_is_one_call_and_constant_sql(operator_client, account, cloud) -> None:
    counts = []
    operator_client.get(_url(account))  # the first request of a session stamps it and the account
    for status in ("", "pendingAcceptance", "failed"):
        cloud.control.clear_journal()
        with CaptureQueriesContext(connection) as queries:
            response = operator_client.get(_url(account), {"status": status})
        assert response.status_code == 200
        counts.append(len(queries))
        assert [(e["method"], "connections" in e["path"]) for e in cloud.journal()] == [("GET", True)]
    assert counts[0] == counts[1] == counts[2]
    page = operator_client.get(_url(account)).content.decode()
    for endpoint in PENDING:
        assert endpoint in page
    assert ACCEPTED in page and ELSEWHERE not in page
    for heading in ("Endpoint ID", "Marker ID", "Account ID", "Status", "Created", "Description"):
        assert f'<th scope="col">{heading}</th>' in page


def test_accepting_one_connection_confirms_then_sends_one_action_with_two_records(
    operator_client, account, cloud
) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    confirm = operator_client.post(_url(account, "connections/confirm/"), {"accept": token})
    page = confirm.content.decode()
    assert confirm.status_code == 200 and "Reason for change" in page and "Apply changes" in page
    assert PENDING[0] in page and ACCOUNTS[0] in page
    assert _calls(cloud, ACTION_PATH) == []
    response = _apply(operator_client, account, "accept", [token], reason="INC-7 approve orders client")
    assert response.status_code == 200, response.content
    assert "Change applied." in response.content.decode()
    [call] = _calls(cloud, ACTION_PATH)
    assert call["body"] == {"action": "receive", "endpoints": [PENDING[0]]}
    assert _status(cloud, PENDING[0]) == "accepted"
    attempt, outcome = change_records()
    assert (attempt.action, attempt.outcome, outcome.outcome) == (
        Action.ACCEPT_CONNECTION, Outcome.ATTEMPTED, Outcome.APPLIED
    )  # fmt: skip
    assert attempt.before["status"] == "pendingAcceptance" and outcome.after["status"] == "accepted"
    assert (attempt.target_id, attempt.target_name, attempt.reason) == (
        SERVICE_ID,
        "orders",
        "INC-7 approve orders client",
    )
    summary = outcome.summary or ""
    assert summary.endswith("pendingAcceptance → accepted") and PENDING[0] in summary
    assert verify_chain().ok


def test_a_bulk_accept_sends_only_the_connections_that_did_not_change_meanwhile(
    operator_client, account, cloud
) -> None:
    tokens = _tokens(operator_client, account)
    chosen = [tokens[endpoint] for endpoint in PENDING]
    operator_client.post(_url(account, "connections/confirm/"), {"bulk": "accept", "connection": chosen})
    # Meanwhile somebody rejects the second one in the console.
    other = _tokens(operator_client, account)[PENDING[1]]
    assert _apply(operator_client, account, "reject", [other]).status_code == 200
    cloud.control.clear_journal()
    before = AuditRecord.objects.count()
    response = _apply(operator_client, account, "accept", chosen)
    page = response.content.decode()
    assert [call["body"]["endpoints"] for call in _calls(cloud, ACTION_PATH)] == [[PENDING[0]], [PENDING[2]]]
    assert "did not take effect" in page and "Not changed:" in page
    assert re.search(rf"{PENDING[1]}</span> — The connection changed since you loaded it", page)
    records = list(AuditRecord.objects.order_by("seq")[before:])
    assert [r.outcome for r in records] == [
        Outcome.ATTEMPTED, Outcome.APPLIED, Outcome.CONFLICT, Outcome.ATTEMPTED, Outcome.APPLIED
    ]  # fmt: skip
    assert len({r.request_id for r in records}) == 1 and records[0].request_id  # one batch id
    assert _status(cloud, PENDING[1]) == "rejected"


def test_an_action_the_status_does_not_allow_is_refused_before_anything_is_sent(
    operator_client, account, cloud
) -> None:
    cloud.reset({**seed()})
    token = _tokens(operator_client, account)[ACCEPTED]
    response = operator_client.post(_url(account, "connections/confirm/"), {"accept": token})
    assert response.status_code == 400 and "cannot be accepted" in response.content.decode()
    assert _apply(operator_client, account, "accept", [token]).status_code == 400
    assert _calls(cloud, ACTION_PATH) == [] and change_records() == []


def test_a_missing_reason_sends_nothing(operator_client, account, cloud) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    response = _apply(operator_client, account, "accept", [token], reason="  ")
    assert response.status_code == 200 and "Say why you make this change." in response.content.decode()
    assert _calls(cloud, ACTION_PATH) == [] and change_records() == []


BAD_POSTS: list[tuple[str, dict[str, Any]]] = [
    ("no action", {"connection": ["x"]}),
    ("unknown action", {"bulk": "delete", "connection": ["x"]}),
    ("forged token", {"accept": "not-a-token"}),
    ("tampered token", {"accept": "TOKEN:x"}),
    ("nothing selected", {"bulk": "accept"}),
    ("ten thousand selected", {"bulk": "accept", "connection": [str(n) for n in range(10_000)]}),
    ("apply without tokens", {"do": "accept", "step": "apply", "reason": "r"}),
]


@pytest.mark.parametrize(("case", "data"), BAD_POSTS, ids=[case for case, _ in BAD_POSTS])
def test_bad_selections_are_refused_with_nothing_sent(operator_client, account, cloud, case, data) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    data = {
        key: (value.replace("TOKEN", token) if isinstance(value, str) else value)
        for key, value in data.items()
    }
    response = operator_client.post(_url(account, "connections/confirm/"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was sent." in page or "Nothing was changed." in page  # ours, or Django's field limit
    assert _calls(cloud, ACTION_PATH) == [] and change_records() == []


def test_a_token_of_another_service_or_account_is_refused(operator_client, account, cloud) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    other_service = f"/credentials/{account.pk}/services/{OTHER_SERVICE_ID}/connections/confirm/"
    assert operator_client.post(other_service, {"accept": token}).status_code == 400
    other = make_account(cloud.url, name="second account")
    other_url = f"/credentials/{other.pk}/services/{SERVICE_ID}/connections/confirm/"
    assert operator_client.post(other_url, {"accept": token}).status_code == 400
    assert _calls(cloud, ACTION_PATH) == []


def test_viewers_see_no_actions_and_cannot_post(viewer_client, operator_client, account, cloud) -> None:
    page = viewer_client.get(_url(account)).content.decode()
    assert "Accept selected" not in page and 'name="accept"' not in page
    token = _tokens(operator_client, account)[PENDING[0]]
    for tail, data in (
        ("connections/confirm/", {"accept": token}),
        ("whitelist/confirm/", {"entry_type": "account", "value": "abc"}),
    ):
        assert viewer_client.post(_url(account, tail), data).status_code == 403
    assert _calls(cloud, ACTION_PATH) == [] and _calls(cloud, WHITELIST_PATH) == []


FAULTS: list[tuple[str, dict[str, Any], str]] = [
    ("400 2013", {"action": "status", "status": 400, "error_code": "EndPoint.2013"}, Outcome.REJECTED),
    ("400 2031", {"action": "status", "status": 400, "error_code": "EndPoint.2031"}, Outcome.REJECTED),
    ("400 3049", {"action": "status", "status": 400, "error_code": "EndPoint.3049"}, Outcome.REJECTED),
    ("404", {"action": "status", "status": 404, "error_code": "EndPoint.0005"}, Outcome.REJECTED),
    ("429", {"action": "status", "status": 429}, Outcome.REJECTED),
    ("500", {"action": "status", "status": 500}, Outcome.RECONCILED_NOT_APPLIED),
    ("503", {"action": "status", "status": 503}, Outcome.RECONCILED_NOT_APPLIED),
    ("500 applied", {"action": "status", "status": 500, "apply": True}, Outcome.RECONCILED_APPLIED),
    ("reset before", {"action": "reset_before"}, Outcome.RECONCILED_NOT_APPLIED),
    ("reset after", {"action": "reset_after"}, Outcome.RECONCILED_APPLIED),
    ("apply then timeout", {"action": "apply_then_timeout", "seconds": 3}, Outcome.RECONCILED_APPLIED),
]


@pytest.mark.parametrize(("case", "fault", "expected"), FAULTS, ids=[case for case, _, _ in FAULTS])
def test_every_fault_of_an_accept_gives_one_attempt_one_outcome_and_one_call(
    operator_client, account, cloud, settings, case, fault, expected
) -> None:
    settings.CLOUD_READ_TIMEOUT = 1.0
    token = _tokens(operator_client, account)[PENDING[0]]
    cloud.add_fault(match={"method": "POST", "path": ACTION_PATH}, count=1, **fault)
    response = _apply(operator_client, account, "accept", [token])
    assert response.status_code == 200
    assert len(_calls(cloud, ACTION_PATH)) == 1
    attempt, outcome = change_records()
    assert (attempt.outcome, outcome.outcome, outcome.attempt_id) == (Outcome.ATTEMPTED, expected, attempt.pk)
    applied = expected in (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)
    assert _status(cloud, PENDING[0]) == ("accepted" if applied else "pendingAcceptance")
    assert verify_chain().ok


@pytest.mark.parametrize(("case", "fault", "expected"), FAULTS, ids=[case for case, _, _ in FAULTS])
def test_every_fault_of_a_whitelist_add_gives_one_attempt_one_outcome_and_one_call(
    operator_client, account, cloud, settings, case, fault, expected
) -> None:
    settings.CLOUD_READ_TIMEOUT = 1.0
    cloud.add_fault(match={"method": "POST", "path": WHITELIST_PATH}, count=1, **fault)
    _add(operator_client, account, ACCOUNTS[1])
    assert len(_calls(cloud, WHITELIST_PATH)) == 1
    attempt, outcome = change_records()
    assert (attempt.action, attempt.outcome) == (Action.ADD_WHITELIST_ENTRY, Outcome.ATTEMPTED)
    assert (outcome.outcome, outcome.attempt_id) == (expected, attempt.pk)
    assert verify_chain().ok


def _whitelist(cloud) -> set[str]:
    return {
        item["permission"]
        for item in cloud.control.state()["permissions"]
        if item["service_id"] == SERVICE_ID
    }


def _add(client, account, value: str, entry_type: str = "account", **extra: str) -> Any:
    confirm = client.post(_url(account, "whitelist/confirm/"), {"entry_type": entry_type, "value": value})
    assert confirm.status_code == 200 and confirm.templates[0].name == "endpoints/whitelist_confirm.html"
    token = re.search(r'name="item" value="([^"]+)"', confirm.content.decode())
    assert token is not None, confirm.content.decode()
    data = {"item": token.group(1), "step": "apply", "reason": "OPS-2", **extra}
    return client.post(_url(account, "whitelist/confirm/"), data, follow=True)


def test_adding_an_account_id_to_the_whitelist(operator_client, account, cloud) -> None:
    page = operator_client.get(_url(account, "whitelist/")).content.decode()
    assert "This account (the service's owner)" in page and ACCOUNTS[0] in page
    response = _add(operator_client, account, ACCOUNTS[1])
    assert "Change applied." in response.content.decode()
    [call] = _calls(cloud, WHITELIST_PATH)
    assert call["body"] == {
        "permissions": [f"iam:domain::{ACCOUNTS[1]}"],
        "action": "add",
        "permission_type": "domainId",
    }
    assert f"iam:domain::{ACCOUNTS[1]}" in _whitelist(cloud)
    attempt, outcome = change_records()
    assert attempt.before is None and outcome.outcome == Outcome.APPLIED
    assert outcome.summary == f"whitelist + iam:domain::{ACCOUNTS[1]}"


@pytest.mark.parametrize("value", ["", "x" * 65, "abc def", "<script>", "organizations:orgPath::x"])
def test_a_malformed_account_id_is_an_error_beside_the_field(operator_client, account, cloud, value) -> None:
    response = operator_client.post(
        _url(account, "whitelist/confirm/"), {"entry_type": "account", "value": value}
    )
    page = response.content.decode()
    assert response.status_code == 200 and 'aria-invalid="true"' in page and 'id="error-summary"' in page
    assert _calls(cloud, WHITELIST_PATH) == [] and change_records() == []


def test_removing_an_entry_can_also_reject_that_accounts_connections(operator_client, account, cloud) -> None:
    page = operator_client.get(_url(account, "whitelist/")).content.decode()
    item = re.search(r'name="item" value="([^"]+)"', page)
    assert item is not None
    confirm = operator_client.post(
        _url(account, "whitelist/confirm/"), {"item": item.group(1)}
    ).content.decode()
    assert "Also reject this account's connections" in confirm
    assert PENDING[0] in confirm and ACCEPTED in confirm and PENDING[1] not in confirm
    connections = re.findall(r'name="connection" value="([^"]+)"', confirm)
    data = {
        "item": item.group(1),
        "step": "apply",
        "reason": "offboarding",
        "also_reject": "1",
        "connection": connections,
    }
    response = operator_client.post(_url(account, "whitelist/confirm/"), data, follow=True)
    assert response.status_code == 200 and "Every change was applied." in response.content.decode()
    assert f"iam:domain::{ACCOUNTS[0]}" not in _whitelist(cloud)
    assert _status(cloud, PENDING[0]) == _status(cloud, ACCEPTED) == "rejected"
    assert _status(cloud, PENDING[1]) == "pendingAcceptance"
    actions = [(r.action, r.outcome) for r in change_records() if r.outcome != Outcome.ATTEMPTED]
    assert actions == [
        (Action.REMOVE_WHITELIST_ENTRY, Outcome.APPLIED),
        (Action.REJECT_CONNECTION, Outcome.APPLIED),
        (Action.REJECT_CONNECTION, Outcome.APPLIED),
    ]


def _allow_everyone_on_production() -> None:
    """An admin lowered the policy "No Everyone on production" to a warning (it forbids it by default:
    tests/test_policy_guardrails.py)."""
    PolicyRule.objects.update_or_create(
        environment="production", rule=Rule.WHITELIST_EVERYONE, defaults={"mode": Mode.WARNING}
    )


def test_everyone_on_production_needs_the_service_name_typed(
    operator_client, operator, account, cloud
) -> None:
    _allow_everyone_on_production()
    account.environment = "production"
    account.save()
    verify_session(operator_client, operator)
    response = _add(operator_client, account, "", entry_type="everyone", confirm_name="wrong")
    assert "Type “orders” exactly" in response.content.decode()
    assert _calls(cloud, WHITELIST_PATH) == []
    response = _add(operator_client, account, "", entry_type="everyone", confirm_name="orders")
    assert "Change applied." in response.content.decode()
    assert "*" in _whitelist(cloud)


def test_history_and_audit_show_the_new_actions(operator_client, admin_client, account, cloud) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    _apply(operator_client, account, "accept", [token])
    _add(operator_client, account, ACCOUNTS[2])
    history = operator_client.get(f"/credentials/{account.pk}/services/{SERVICE_ID}/", {"tab": "history"})
    text = history.content.decode()
    assert "Accept connection" in text and "Add whitelist entry" in text
    listing = admin_client.get("/audit/", {"action": "add_whitelist_entry"}).content.decode()
    assert (
        f"whitelist + iam:domain::{ACCOUNTS[2]}" in listing and "pendingAcceptance → accepted" not in listing
    )


def test_a_whitelist_change_is_undone_from_its_audit_record(
    operator_client, admin_client, account, cloud
) -> None:
    _add(operator_client, account, ACCOUNTS[1])
    added = change_records()[-1]
    page = operator_client.get(f"/audit/{added.pk}/").content.decode()
    assert "Remove this entry again" in page
    confirm = operator_client.post(_url(account, "whitelist/confirm/"), {"restore": str(added.pk)})
    text = confirm.content.decode()
    assert confirm.status_code == 200 and f"audit record #{added.seq}" in text
    item = re.search(r'name="item" value="([^"]+)"', text)
    assert item is not None
    data = {"item": item.group(1), "restore": str(added.pk), "step": "apply", "reason": "undo"}
    assert (
        "Change applied."
        in operator_client.post(_url(account, "whitelist/confirm/"), data, follow=True).content.decode()
    )
    assert f"iam:domain::{ACCOUNTS[1]}" not in _whitelist(cloud)
    removed = change_records()[-1]
    assert (removed.action, removed.outcome, removed.restored_from_id) == (
        Action.REMOVE_WHITELIST_ENTRY, Outcome.APPLIED, added.pk
    )  # fmt: skip
    # Undoing the removal adds the entry again; undoing it twice finds nothing to remove.
    again = operator_client.post(_url(account, "whitelist/confirm/"), {"restore": str(added.pk)})
    assert again.status_code == 409 and "no longer on the whitelist" in again.content.decode()


@pytest.mark.parametrize("restore", ["0", "-1", "abc", "99999999999999999999", "1"])
def test_undoing_a_record_that_is_no_whitelist_change_of_this_service_is_refused(
    operator_client, account, cloud, restore
) -> None:
    response = operator_client.post(_url(account, "whitelist/confirm/"), {"restore": restore})
    assert response.status_code == 400 and "cannot be undone here" in response.content.decode()
    assert _calls(cloud, WHITELIST_PATH) == []


def test_the_record_page_shows_a_readable_diff_of_each_new_action(
    operator_client, admin_client, account, cloud
) -> None:
    _apply(operator_client, account, "accept", [_tokens(operator_client, account)[PENDING[0]]])
    _add(operator_client, account, ACCOUNTS[2])
    accepted, added = [r for r in change_records() if r.outcome == Outcome.APPLIED]
    page = admin_client.get(f"/audit/{accepted.pk}/").content.decode()
    assert f"Connection {PENDING[0]} (account {ACCOUNTS[0]})" in page
    assert "pendingAcceptance" in page and "accepted" in page
    page = admin_client.get(f"/audit/{added.pk}/").content.decode()
    assert "Whitelist entry" in page and f"iam:domain::{ACCOUNTS[2]}" in page


WHITELIST_BAD: list[tuple[str, dict[str, Any], int]] = [
    ("forged item", {"item": "forged", "step": "apply", "reason": "r"}, 400),
    ("connection token as item", {"item": "CONNECTION", "step": "apply", "reason": "r"}, 400),
    ("unknown type", {"entry_type": "root", "value": "abc"}, 200),
    ("everyone with a value", {"entry_type": "everyone", "value": ACCOUNTS[1]}, 200),
    ("org path too long", {"entry_type": "org_path", "value": "o/" + "x" * 1100}, 200),
    ("org path bad characters", {"entry_type": "org_path", "value": "o/<x>"}, 200),
]


@pytest.mark.parametrize(
    ("case", "data", "status"), WHITELIST_BAD, ids=[case for case, _, _ in WHITELIST_BAD]
)
def test_bad_whitelist_posts_are_refused_with_nothing_sent(
    operator_client, account, cloud, case, data, status
) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    data = {
        key: (value.replace("CONNECTION", token) if isinstance(value, str) else value)
        for key, value in data.items()
    }
    response = operator_client.post(_url(account, "whitelist/confirm/"), data)
    assert response.status_code == status
    page = response.content.decode()
    assert "Nothing was sent." in page if status == 400 else 'aria-invalid="true"' in page
    assert _calls(cloud, WHITELIST_PATH) == [] and change_records() == []


@pytest.mark.parametrize("kind", ["accept", "whitelist add"])
def test_reconcile_audit_settles_a_change_whose_answer_and_reread_were_lost(
    operator_client, account, cloud, settings, kind
) -> None:
    path, reread = (ACTION_PATH, "/connections") if kind == "accept" else (WHITELIST_PATH, "/permissions")
    token = _tokens(operator_client, account)[PENDING[0]]
    cloud.add_fault(match={"method": "POST", "path": path}, action="reset_after", count=1)
    # The read before the call succeeds; the re-read after the lost answer fails.
    cloud.add_fault(
        match={"method": "GET", "path": reread + "$"}, action="status", status=500, skip=1, count=5
    )
    if kind == "accept":
        page = _apply(operator_client, account, "accept", [token]).content.decode()
    else:
        page = _add(operator_client, account, ACCOUNTS[1]).content.decode()
    assert "until reconcile_audit settles it" in page
    [attempt] = change_records()
    assert attempt.outcome == Outcome.ATTEMPTED and len(_calls(cloud, path)) == 1
    cloud.control.clear_faults()
    settings.WORKER_TIMEOUT, settings.EDIT_APPLY_DEADLINE, settings.EDIT_LOCK_TIMEOUT = 0.3, 0.2, 0.1
    settings.CLOUD_DEADLINE = 0.3
    time.sleep(Budget.of(settings).reconcile_after + 0.05)
    call_command("reconcile_audit")
    settled = AuditRecord.objects.get(attempt=attempt)
    assert settled.outcome == Outcome.RECONCILED_APPLIED and settled.action == attempt.action
    assert len(_calls(cloud, path)) == 1  # the reconciler reads; it never sends again
    assert verify_chain().ok


def test_more_than_a_page_of_connections_is_refused(operator_client, account, cloud) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    data = {"bulk": "accept", "connection": [token] * 26}
    response = operator_client.post(_url(account, "connections/confirm/"), data)
    assert response.status_code == 400 and "Select at most 25 connections" in response.content.decode()
    assert _calls(cloud, ACTION_PATH) == []


@pytest.mark.parametrize("tail", ["connections/confirm/", "whitelist/confirm/"])
def test_applying_on_production_asks_for_a_fresh_second_factor(
    operator_client, operator, account, cloud, tail
) -> None:
    account.environment = "production"
    account.save()
    verify_session(operator_client, operator)
    token = _tokens(operator_client, account)[PENDING[0]]
    if tail.startswith("connections"):
        data = {"do": "accept", "connection": [token], "step": "apply", "reason": "r"}
    else:
        confirm = operator_client.post(_url(account, tail), {"entry_type": "account", "value": ACCOUNTS[2]})
        item = re.search(r'name="item" value="([^"]+)"', confirm.content.decode())
        assert item is not None
        data = {"item": item.group(1), "step": "apply", "reason": "r"}
    age_the_check(operator_client)
    response = operator_client.post(_url(account, tail), data)
    assert response.status_code == 200 and "Confirm it is you" in response.content.decode()
    assert _calls(cloud, ACTION_PATH) == [] and _calls(cloud, WHITELIST_PATH) == [] and change_records() == []


def test_a_wildcard_account_on_production_needs_the_name_typed_like_everyone(
    operator_client, operator, account, cloud
) -> None:
    _allow_everyone_on_production()
    account.environment = "production"
    account.save()
    verify_session(operator_client, operator)
    response = _add(operator_client, account, "*", entry_type="account", confirm_name="")
    assert "Type “orders” exactly" in response.content.decode()
    assert _calls(cloud, WHITELIST_PATH) == []


def test_also_reject_is_not_offered_for_more_than_a_page_of_connections(
    operator_client, account, simulator
) -> None:
    document = seed()
    many = [seeded_connection(stable_uuid("many", n), "pendingAcceptance", 2, 12 + n % 15) for n in range(26)]
    document["endpoints"] = document["endpoints"] + many
    document["permissions"].append(
        {"service_id": SERVICE_ID, "permission": f"iam:domain::{ACCOUNTS[2]}", "permission_type": "domainId"}
    )
    simulator.reset(document)
    page = operator_client.get(_url(account, "whitelist/")).content.decode()
    items = re.findall(r'name="item" value="([^"]+)"', page)
    confirms = [
        operator_client.post(_url(account, "whitelist/confirm/"), {"item": item}).content.decode()
        for item in items
    ]
    [many_page] = [text for text in confirms if ACCOUNTS[2] in text]
    assert "cannot be rejected here at once" in many_page and 'name="also_reject"' not in many_page
    # Forcing it anyway rejects nothing (the removal alone is made).
    tokens = [
        Seen.connection(
            account, SERVICE_ID, Connection(c["id"], "pendingAcceptance", domain_id=ACCOUNTS[2])
        ).sign()
        for c in many
    ]
    item = items[[ACCOUNTS[2] in text for text in confirms].index(True)]
    data = {"item": item, "step": "apply", "reason": "r", "also_reject": "1", "connection": tokens}
    operator_client.post(_url(account, "whitelist/confirm/"), data)
    assert _calls(simulator, ACTION_PATH) == [] and len(_calls(simulator, WHITELIST_PATH)) == 1


def test_an_undo_must_name_the_entry_its_record_changed(operator_client, account, cloud) -> None:
    _add(operator_client, account, ACCOUNTS[1])
    added = change_records()[-1]
    confirm = operator_client.post(
        _url(account, "whitelist/confirm/"), {"entry_type": "account", "value": ACCOUNTS[2]}
    )
    other = re.search(r'name="item" value="([^"]+)"', confirm.content.decode())
    assert other is not None
    data = {"item": other.group(1), "restore": str(added.pk), "step": "apply", "reason": "r"}
    response = operator_client.post(_url(account, "whitelist/confirm/"), data)
    assert response.status_code == 400 and len(_calls(cloud, WHITELIST_PATH)) == 1  # only the first add


def test_an_entry_the_cloud_lists_without_text_cannot_be_removed_and_breaks_nothing(
    operator_client, account, simulator
) -> None:
    document = seed()
    document["permissions"].append(
        {"service_id": SERVICE_ID, "permission": "", "permission_type": "domainId"}
    )
    simulator.reset(document)
    page = operator_client.get(_url(account, "whitelist/")).content.decode()
    assert "cannot be named" in page and len(re.findall(r'name="item"', page)) == 1


def test_a_batch_stops_starting_changes_when_its_time_runs_out(
    operator_client, account, cloud, settings
) -> None:
    tokens = _tokens(operator_client, account)
    settings.EDIT_APPLY_DEADLINE, settings.CLOUD_DEADLINE, settings.EDIT_LOCK_TIMEOUT = 1.2, 1.0, 0.5
    cloud.add_fault(action="latency", seconds=0.35, match={"path": "^/v1/"})
    response = _apply(operator_client, account, "accept", [tokens[endpoint] for endpoint in PENDING])
    page = response.content.decode()
    sent = _calls(cloud, ACTION_PATH)
    assert 1 <= len(sent) < 3 and "Not sent: the time for this request ran out" in page
    attempts = [r for r in change_records() if r.outcome == Outcome.ATTEMPTED]
    assert len(attempts) == len(sent)  # nothing started is left without its outcome
    assert all(AuditRecord.objects.filter(attempt=a).exists() for a in attempts)


def test_reloading_a_result_page_sends_nothing_again(operator_client, account, cloud) -> None:
    token = _tokens(operator_client, account)[PENDING[0]]
    data = {"do": "accept", "connection": [token], "step": "apply", "reason": "r"}
    response = operator_client.post(_url(account, "connections/confirm/"), data)
    assert response.status_code == 302 and "/changes/" in response["Location"]
    records = AuditRecord.objects.count()
    for _ in range(2):
        page = operator_client.get(response["Location"])
        assert page.status_code == 200 and "Change applied." in page.content.decode()
    assert len(_calls(cloud, ACTION_PATH)) == 1 and AuditRecord.objects.count() == records
    assert operator_client.get(_url(account, "changes/not-a-batch/")).status_code == 404
