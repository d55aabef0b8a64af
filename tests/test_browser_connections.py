"""In a real browser: an operator accepts and rejects connections (one, or several at a time while one
changes meanwhile), adds and removes whitelist entries, opens a production service to everyone only
after typing its name and a fresh second-factor code, and finds every action in History and the
audit log. Each test checks what the page shows and what the simulated cloud received and holds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings

from tests import mfakit
from tests.browser import enter_code, sign_in
from tests.connectionkit import (
    ACCEPTED,
    ACCEPTED_B,
    ACCOUNTS,
    ACTION_PATH,
    ELSEWHERE,
    PENDING,
    SERVICE_ID,
    SERVICE_NAME,
    WHITELIST_PATH,
    seed,
)
from tests.dashboard import make_account, make_user
from vpcepadmin.credentials.models import Environment
from vpcepadmin.mfa.models import AuthenticatorDevice
from vpcepadmin.policies.models import Mode, PolicyRule, Rule

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"

RESULT_TABLE = "Outcome of each change"


@pytest.fixture
def cloud(simulator):
    simulator.reset(seed())  # clears the journal too
    return simulator


@pytest.fixture
def operator_page(page, cloud):
    """The browser, signed in as an operator (who has a second factor: the sign-in asks for a code)."""
    make_user("operator", password=PASSWORD)
    sign_in(page, "operator", PASSWORD)
    return page


# --- the simulated cloud -----------------------------------------------------------------------------
def _endpoints(cloud) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in cloud.control.state()["endpoints"]}


def _statuses(cloud) -> dict[str, str]:
    return {endpoint_id: item["status"] for endpoint_id, item in _endpoints(cloud).items()}


def _whitelist(cloud, service_id: str = SERVICE_ID) -> set[str]:
    return {
        item["permission"]
        for item in cloud.control.state()["permissions"]
        if item["service_id"] == service_id
    }


def _posts(cloud, path: str) -> list[dict[str, Any]]:
    """The bodies of the POSTs the cloud received whose path contains ``path``."""
    return [entry["body"] for entry in cloud.journal(method="POST") if path in entry["path"]]


# --- the pages ---------------------------------------------------------------------------------------
def _url(account, tail: str = "") -> str:
    return f"/credentials/{account.pk}/services/{SERVICE_ID}/{tail}"


def _apply(page, reason: str) -> None:
    """On a confirmation page: give the reason and press "Apply changes"."""
    page.get_by_label("Reason for change").fill(reason)
    page.get_by_role("button", name="Apply changes").click()


def _results(page) -> list[list[str]]:
    """The result page's table: (action, target, outcome, details, audit record) per row."""
    table = page.get_by_role("table", name=RESULT_TABLE)
    table.wait_for()
    return [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]


def _one_connection(page, account, verb: str, endpoint: str, reason: str) -> list[list[str]]:
    """From the Connections tab, a row's "Accept" or "Reject", confirmed and applied."""
    page.goto(_url(account, "connections/"))
    page.get_by_role("button", name=f"{verb} {endpoint}", exact=True).click()
    page.get_by_role("heading", name=f"{verb} 1 connection", exact=True).wait_for()
    assert endpoint in page.get_by_role("table", name=f"Connections to {verb.lower()}").inner_text()
    _apply(page, reason)
    return _results(page)


def _start_adding(page, account, entry_type: str, value: str = "") -> None:
    """From the Whitelist tab, "Add entry" up to its confirmation."""
    page.goto(_url(account, "whitelist/"))
    page.get_by_label("Type", exact=True).select_option(label=entry_type)
    page.get_by_label("Value", exact=True).fill(value)
    page.get_by_role("button", name="Add entry").click()
    page.get_by_role("heading", name="Add a whitelist entry").wait_for()


def _start_removing(page, account, value: str) -> None:
    """From the Whitelist tab, a row's "Remove" up to its confirmation."""
    page.goto(_url(account, "whitelist/"))
    page.get_by_role("button", name=f"Remove {value}", exact=True).click()
    page.get_by_role("heading", name="Remove a whitelist entry").wait_for()


# --- 1, 2: one connection ----------------------------------------------------------------------------
def test_accepting_one_pending_connection(operator_page, account, cloud) -> None:
    page = operator_page
    rows = _one_connection(page, account, "Accept", PENDING[0], "INC-7 approve the orders client")
    page.get_by_role("heading", name="Change applied", exact=True).wait_for()
    page.get_by_text("Every change was applied.").wait_for()
    [(action, target, outcome, details, record)] = rows
    assert (action, target, details) == ("Accept connection", PENDING[0], "Change applied.")
    assert outcome.startswith("changed") and record.startswith("#")

    assert _posts(cloud, "") == [{"action": "receive", "endpoints": [PENDING[0]]}]
    assert cloud.journal(method="POST")[0]["path"].endswith(f"{SERVICE_ID}/{ACTION_PATH}")
    statuses = _statuses(cloud)
    assert statuses[PENDING[0]] == "accepted"
    assert statuses[PENDING[1]] == statuses[PENDING[2]] == "pendingAcceptance"

    page.get_by_role("link", name="Back").click()
    row = page.get_by_role("row").filter(has_text=PENDING[0])
    row.get_by_role("cell", name="accepted", exact=True).wait_for()
    assert row.get_by_role("button", name=f"Accept {PENDING[0]}").count() == 0


def test_rejecting_one_pending_connection(operator_page, account, cloud) -> None:
    page = operator_page
    rows = _one_connection(page, account, "Reject", PENDING[2], "INC-8 unknown client")
    [(action, target, _, details, _)] = rows
    assert (action, target, details) == ("Reject connection", PENDING[2], "Change applied.")

    assert _posts(cloud, "") == [{"action": "reject", "endpoints": [PENDING[2]]}]
    statuses = _statuses(cloud)
    assert statuses[PENDING[2]] == "rejected"
    assert statuses[PENDING[0]] == statuses[PENDING[1]] == "pendingAcceptance"
    assert statuses[ACCEPTED] == "accepted"


# --- 3: several at a time, one of them changed meanwhile -----------------------------------------
def test_a_bulk_accept_leaves_out_the_connection_that_changed_meanwhile(
    operator_page, account, cloud
) -> None:
    page = operator_page
    page.goto(_url(account, "connections/"))
    for endpoint in PENDING:
        page.get_by_label(f"Select connection {endpoint}").check()
    page.get_by_role("button", name="Accept selected").click()
    page.get_by_role("heading", name="Accept 3 connections").wait_for()
    listed = page.get_by_role("table", name="Connections to accept").inner_text()
    assert all(endpoint in listed for endpoint in PENDING)
    assert _posts(cloud, ACTION_PATH) == []

    # Meanwhile, in another tab, the second one is rejected through the dashboard (its updated_at moves).
    other = page.context.new_page()
    other.on("console", lambda m: page.console_problems.append(m.text) if m.type == "error" else None)
    other.on("pageerror", lambda error: page.console_problems.append(str(error)))
    rows = _one_connection(other, account, "Reject", PENDING[1], "INC-9 rejected meanwhile")
    assert rows[0][3] == "Change applied."
    other.close()
    meanwhile = _endpoints(cloud)[PENDING[1]]
    assert meanwhile["status"] == "rejected"
    assert not meanwhile["updated_at"].startswith("2026-05-02T00:00:00")  # not as seen (its creation)
    cloud.control.clear_journal()

    _apply(page, "INC-10 accept the three new clients")
    rows = _results(page)
    page.get_by_role("heading", name="3 changes: 1 did not take effect").wait_for()
    alert = page.get_by_role("alert").filter(has_text="Not changed:")
    assert re.search(rf"{PENDING[1]} — The connection changed since you loaded it", alert.inner_text())
    assert PENDING[0] not in alert.inner_text() and PENDING[2] not in alert.inner_text()
    by_target = {target: (outcome, details) for _, target, outcome, details, _ in rows}
    assert len(rows) == 3 and set(by_target) == set(PENDING)
    # It names the change it ran into: the rejection made in the other tab, with its record.
    assert re.fullmatch(
        r"The connection changed since you loaded it — reject connection by operator at "
        r"\S+ \S+ UTC \(audit record #\d+\)\. Nothing was sent\.",
        by_target[PENDING[1]][1],
    ), by_target[PENDING[1]][1]
    assert by_target[PENDING[1]][0].startswith("not changed")
    assert by_target[PENDING[0]][1] == by_target[PENDING[2]][1] == "Change applied."

    posts = _posts(cloud, ACTION_PATH)
    assert len(posts) == len(cloud.journal(method="POST")) == 2
    assert sorted(posts, key=str) == sorted(
        [{"action": "receive", "endpoints": [PENDING[0]]}, {"action": "receive", "endpoints": [PENDING[2]]}],
        key=str,
    )
    statuses = _statuses(cloud)
    assert (statuses[PENDING[0]], statuses[PENDING[1]], statuses[PENDING[2]]) == (
        "accepted", "rejected", "accepted"
    )  # fmt: skip


# --- 4, 5: the whitelist -------------------------------------------------------------------------
def test_adding_an_account_id_to_the_whitelist(operator_page, account, cloud) -> None:
    page = operator_page
    _start_adding(page, account, "Account ID", ACCOUNTS[1])
    banner = page.get_by_role("note").filter(has_text="You are about to add")
    assert ACCOUNTS[1] in banner.inner_text() and "Test account" in banner.inner_text()
    assert _posts(cloud, WHITELIST_PATH) == []
    _apply(page, "OPS-2 partner onboarding")
    [(action, target, _, details, _)] = _results(page)
    assert (action, target, details) == (
        "Add whitelist entry",
        f"iam:domain::{ACCOUNTS[1]}",
        "Change applied.",
    )

    assert _posts(cloud, "") == [
        {"permissions": [f"iam:domain::{ACCOUNTS[1]}"], "action": "add", "permission_type": "domainId"}
    ]
    assert _whitelist(cloud) == {f"iam:domain::{ACCOUNTS[0]}", f"iam:domain::{ACCOUNTS[1]}"}

    page.get_by_role("link", name="Back").click()
    page.get_by_role("button", name=f"Remove {ACCOUNTS[1]}", exact=True).wait_for()
    page.get_by_text("2 entries").wait_for()


def test_removing_an_entry_and_rejecting_that_accounts_connections(operator_page, account, cloud) -> None:
    page = operator_page
    _start_adding(page, account, "Account ID", ACCOUNTS[1])
    _apply(page, "OPS-2 partner onboarding")
    _results(page)
    cloud.control.clear_journal()

    _start_removing(page, account, ACCOUNTS[1])
    listed = page.locator("form").filter(has=page.get_by_label("Also reject this account's connections"))
    text = listed.inner_text()
    assert PENDING[1] in text and ACCEPTED_B in text  # this account's, to this service
    assert PENDING[0] not in text and ELSEWHERE not in text
    page.get_by_label("Also reject this account's connections").check()
    _apply(page, "OPS-3 partner offboarded")
    rows = _results(page)
    page.get_by_text("Every change was applied.").wait_for()
    # The removal first, then one rejection per connection (in the order the page listed them).
    assert rows[0][:2] == ["Remove whitelist entry", f"iam:domain::{ACCOUNTS[1]}"]
    assert sorted(tuple(row[:2]) for row in rows[1:]) == sorted(
        [("Reject connection", PENDING[1]), ("Reject connection", ACCEPTED_B)]
    )
    assert all(details == "Change applied." for *_, details, _ in rows)

    first, *rejections = _posts(cloud, "")
    assert first == {
        "permissions": [f"iam:domain::{ACCOUNTS[1]}"], "action": "remove", "permission_type": "domainId"
    }  # fmt: skip
    assert sorted(body["endpoints"][0] for body in rejections) == sorted([PENDING[1], ACCEPTED_B])
    assert all(body["action"] == "reject" and len(body["endpoints"]) == 1 for body in rejections)
    assert _whitelist(cloud) == {f"iam:domain::{ACCOUNTS[0]}"}
    assert _statuses(cloud) == {
        PENDING[0]: "pendingAcceptance",
        PENDING[1]: "rejected",
        PENDING[2]: "pendingAcceptance",
        ACCEPTED: "accepted",
        ACCEPTED_B: "rejected",
        ELSEWHERE: "pendingAcceptance",  # the same account, another service: untouched
    }

    page.get_by_role("link", name="Back").click()
    page.get_by_text("1 entry").wait_for()
    assert page.get_by_role("button", name=f"Remove {ACCOUNTS[1]}", exact=True).count() == 0


# --- 6: everyone, on production ----------------------------------------------------------------------
def test_everyone_on_production_needs_the_service_name_and_a_fresh_code(page, cloud) -> None:
    production = make_account(cloud.url, name="Production", environment=Environment.PRODUCTION)
    operator = make_user("operator", password=PASSWORD)
    sign_in(page, "operator", PASSWORD)
    # By default the policy forbids it on production: the error is beside the field, nothing is sent.
    page.goto(_url(production, "whitelist/"))
    page.get_by_label("Type", exact=True).select_option(label="Everyone")
    page.get_by_role("button", name="Add entry").click()
    value = page.get_by_label("Value", exact=True)
    value.and_(page.locator('[aria-invalid="true"]')).wait_for()
    assert "is forbidden on production services" in page.locator("#main").inner_text()
    assert [call for call in cloud.journal(method="POST") if "permissions" in call["path"]] == []
    # An admin lowered the policy to a warning: then the service's name is typed as confirmation.
    PolicyRule.objects.update_or_create(
        environment="production", rule=Rule.WHITELIST_EVERYONE, defaults={"mode": Mode.WARNING}
    )
    _start_adding(page, production, "Everyone")
    page.get_by_role("note").filter(has_text="lets every account connect").wait_for()
    name_field = page.locator("#id_confirm_name")
    assert page.get_by_label(f"Type the service's name to confirm: {SERVICE_NAME}").count() == 1

    name_field.fill(SERVICE_NAME.upper())
    session = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    mfakit.age_the_check(session["value"])  # 15 minutes later
    _apply(page, "OPS-4 public service")
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    assert _posts(cloud, WHITELIST_PATH) == []
    device = AuthenticatorDevice.objects.get(user=operator)
    enter_code(page, mfakit.code_for(device), r".*/whitelist/confirm/$", button="Confirm and continue")

    # The code was right; the name was not: an error beside the field, and nothing sent.
    error = f"Type “{SERVICE_NAME}” exactly to open this service to everyone."
    page.locator("#confirm_error").get_by_text(error).wait_for()
    page.locator("#error-summary").get_by_text(error).wait_for()
    assert name_field.get_attribute("aria-invalid") == "true"
    assert _posts(cloud, WHITELIST_PATH) == []
    assert "*" not in _whitelist(cloud)

    name_field.fill(SERVICE_NAME)
    _apply(page, "OPS-4 public service")
    [(action, target, _, details, _)] = _results(page)
    assert (action, target, details) == ("Add whitelist entry", "*", "Change applied.")
    assert _posts(cloud, "") == [{"permissions": ["*"], "action": "add", "permission_type": "domainId"}]
    assert "*" in _whitelist(cloud)


# --- 7: History and the audit log --------------------------------------------------------------------
ACTIONS = ("Accept connection", "Reject connection", "Add whitelist entry", "Remove whitelist entry")


def test_history_and_the_audit_log_show_each_action(operator_page, account, cloud) -> None:
    page = operator_page
    _one_connection(page, account, "Accept", PENDING[0], "R1 accept")
    _one_connection(page, account, "Reject", PENDING[2], "R2 reject")
    _start_adding(page, account, "Account ID", ACCOUNTS[1])
    _apply(page, "R3 add")
    _results(page)
    _start_removing(page, account, ACCOUNTS[1])
    _apply(page, "R4 remove")
    _results(page)
    assert len(cloud.journal(method="POST")) == 4

    page.get_by_role("link", name="History of this service").click()
    page.wait_for_url(re.compile(r".*\?tab=history$"))
    _assert_each_action_once(page.get_by_role("table", name="Audit records"))

    page.goto("/audit/")
    _assert_each_action_once(page.get_by_role("table", name="Audit records"))


def _assert_each_action_once(table) -> None:
    """Each action has its attempt and its outcome (applied), with the reason it was given."""
    rows = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    # Columns: #, time, source, actor, account, target, action, outcome, reason, change.
    done = {(cells[6], cells[7], cells[8]) for cells in rows}
    for action, reason in zip(ACTIONS, ("R1 accept", "R2 reject", "R3 add", "R4 remove"), strict=True):
        assert (action, "Attempted", reason) in done, rows
        assert (action, "Applied", reason) in done, rows
    assert sum(cells[6] in ACTIONS for cells in rows) == 8
    assert {cells[2] for cells in rows} == {"via vpcepadmin"}


@pytest.mark.parametrize("tail", ["connections/", "whitelist/", "pending"])
def test_the_new_pages_do_not_scroll_sideways_at_390_px(operator_page, account, cloud, tail) -> None:
    """A row button's hidden text (for screen readers) must not widen the page beside its table."""
    page = operator_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/connections/pending/" if tail == "pending" else _url(account, tail))
    page.get_by_role("table").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
