"""In a real browser: "Check for outside changes" on an account page (with htmx, and as a plain POST
without JavaScript) says what it found and links to it in the audit log; a service's History tab shows
its changes made through vpcepadmin and those observed outside it as one timeline, newest first.

Outside changes are made through the simulated cloud's own API (``raw_api``); the observer runs for
real against the simulator. Each test checks what the page shows, the database and the cloud."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests import seeds
from tests.browser import sign_in
from tests.dashboard import client_for, make_user
from tests.editing import Editor
from vpcepadmin.audit.models import OBSERVED_ACTIONS, OUTSIDE_ACTOR, Action, AuditRecord, Outcome
from vpcepadmin.changes.models import ObservationRun
from vpcepadmin.changes.observation import observe_account

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"
TIMEOUT = 10.0  # seconds, for connecting and for each read of a direct call to the simulator
CHECK = "Check for outside changes"
OUTSIDE_LINK = "Outside changes of this account in the audit log"
OUTSIDE_DESCRIPTION = "changed in the console"
SLOW = 1.0  # seconds the cloud takes to list the services, so that the check is seen in flight
# Columns of an audit table: #, time, source, actor, account, target, action, outcome, reason, change.
SEQ, SOURCE, ACTOR, TARGET, ACTION, OUTCOME, REASON, CHANGE = 0, 2, 3, 5, 6, 7, 8, 9


@pytest.fixture
def service(simulator) -> dict[str, Any]:
    return dict(simulator.seed["endpoint_services"][0])


@pytest.fixture
def operator_page(page, account):
    """The browser, signed in as an operator (who has a second factor: the sign-in asks for a code)."""
    make_user("operator", password=PASSWORD)
    sign_in(page, "operator", PASSWORD)
    return page


@pytest.fixture
def no_js_page(browser, live_server, account) -> Iterator[Any]:
    """A browser without JavaScript, signed in as an operator; it collects console errors too."""
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    problems: list[str] = []
    new_page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    new_page.on("pageerror", lambda error: problems.append(str(error)))
    make_user("operator", password=PASSWORD)
    sign_in(new_page, "operator", PASSWORD)
    yield new_page
    context.close()
    assert problems == [], f"console errors or CSP violations: {problems}"


def _change_outside(raw_api, service_id: str, **values: Any) -> None:
    answer = raw_api.put(seeds.service_path(service_id), values, timeout=TIMEOUT)
    assert answer.status == 200, answer.body


def _cloud_service(simulator, service_id: str) -> dict[str, Any]:
    return next(item for item in simulator.control.state()["endpoint_services"] if item["id"] == service_id)


def _rows(page) -> list[list[str]]:
    table = page.get_by_role("table", name="Audit records")
    table.wait_for()
    return [
        [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in table.locator("tbody tr").all()
    ]


def _result(page):
    return page.locator("#observe-result").get_by_role("status")


BASELINE = re.compile(r"^\s*“Test account”: baseline of 3 services recorded \(\d+ ms\)\.")
ONE_CHANGE = re.compile(r"^\s*“Test account”: 3 services, 1 outside change\(s\) recorded \(\d+ ms\)\.")


# --- 1: the check, with htmx ------------------------------------------------------------------------
def test_the_check_shows_its_progress_records_a_baseline_then_reports_the_outside_change(
    operator_page, account, simulator, raw_api, service
) -> None:
    page = operator_page
    page.goto(f"/credentials/{account.pk}/")
    button = page.get_by_role("button", name=CHECK)
    progress = page.locator("#observe-progress")
    expect(progress).to_be_hidden()
    simulator.add_fault(
        action="latency", seconds=SLOW, match={"method": "GET", "path": "vpc-endpoint-services"}, count=1
    )

    button.click()
    expect(progress).to_be_visible()  # "Checking the cloud…" while the cloud answers
    expect(progress).to_have_text(re.compile(r"Checking the cloud…"))
    expect(button).to_be_disabled()
    expect(_result(page)).to_have_text(BASELINE)
    expect(progress).to_be_hidden()
    expect(button).to_be_enabled()
    assert page.url.endswith(f"/credentials/{account.pk}/")  # swapped in place: no navigation

    [baseline] = AuditRecord.objects.filter(action__in=OBSERVED_ACTIONS)
    assert (baseline.action, baseline.actor_username) == (Action.OBSERVATION_BASELINE, OUTSIDE_ACTOR)
    [run] = ObservationRun.objects.filter(credential=account)
    assert (run.baseline, run.services, run.recorded, run.error) == (True, 3, 1, "")  # one baseline record
    listed = simulator.journal(method="GET", path_contains="vpc-endpoint-services")
    assert listed and simulator.journal(method="PUT") == []  # the check only reads

    _change_outside(raw_api, service["id"], description=OUTSIDE_DESCRIPTION)
    button.click()
    expect(_result(page)).to_have_text(ONE_CHANGE)
    [seen] = AuditRecord.objects.filter(action=Action.OBSERVED_CHANGE)
    assert (seen.target_id, seen.actor_username) == (service["id"], OUTSIDE_ACTOR)
    assert ObservationRun.objects.filter(credential=account).count() == 2
    assert _cloud_service(simulator, service["id"])["description"] == OUTSIDE_DESCRIPTION

    _result(page).get_by_role("link", name=OUTSIDE_LINK).click()
    page.wait_for_url(re.compile(rf".*/audit/\?source=outside&account={account.pk}$"))
    expect(page.get_by_label("Source")).to_have_value("outside")
    rows = _rows(page)
    shown = {int(cells[SEQ]) for cells in rows}
    outside = AuditRecord.objects.filter(action__in=OBSERVED_ACTIONS, credential=account)
    assert shown == set(outside.values_list("seq", flat=True)) == {baseline.seq, seen.seq}
    assert {cells[SOURCE] for cells in rows} == {"outside vpcepadmin"}
    assert {cells[ACTOR] for cells in rows} == {OUTSIDE_ACTOR}
    [change] = [cells for cells in rows if int(cells[SEQ]) == seen.seq]
    assert change[ACTION] == "Observed change"
    assert change[TARGET] == service["service_name"]
    assert change[CHANGE] == f"description “” → “{OUTSIDE_DESCRIPTION}”"
    assert int(rows[0][SEQ]) == seen.seq  # newest first


# --- 2: one timeline per service ----------------------------------------------------------------------
def test_the_history_tab_shows_our_change_and_the_outside_one_newest_first(
    operator_page, account, simulator, raw_api, service
) -> None:
    page = operator_page
    assert observe_account(account).baseline
    operator = User.objects.get(username="operator")
    editor = Editor(client_for(operator), account.pk, service["id"])
    editor.load()
    applied = editor.apply(reason="CHG-42 tidy the description", description="edited in vpcepadmin")
    assert applied.status_code == 302  # to the service page, as after any apply
    _change_outside(raw_api, service["id"], description=OUTSIDE_DESCRIPTION)
    report = observe_account(account)
    assert (report.recorded, report.error) == (1, "")  # our edit is not reported as an outside change

    page.goto(f"/credentials/{account.pk}/services/{service['id']}/?tab=history")
    rows = _rows(page)
    assert [cells[SOURCE] for cells in rows] == ["outside vpcepadmin", "via vpcepadmin", "via vpcepadmin"]
    seqs = [int(cells[SEQ]) for cells in rows]
    assert seqs == sorted(seqs, reverse=True)
    outside, ours_applied, ours_attempted = rows
    assert (outside[ACTOR], outside[ACTION]) == (OUTSIDE_ACTOR, "Observed change")
    assert outside[TARGET] == ours_applied[TARGET] == service["service_name"]
    # The field, from the state our edit left to the one the console made.
    assert outside[CHANGE] == f"description “edited in vpcepadmin” → “{OUTSIDE_DESCRIPTION}”"
    assert ours_applied[CHANGE] == "description “” → “edited in vpcepadmin”"
    assert (ours_applied[ACTOR], ours_applied[OUTCOME], ours_applied[REASON]) == (
        "operator", "Applied", "CHG-42 tidy the description"
    )  # fmt: skip
    assert (ours_attempted[ACTOR], ours_attempted[OUTCOME]) == ("operator", "Attempted")

    records = AuditRecord.objects.filter(target_id=service["id"]).order_by("-seq")
    assert [record.seq for record in records] == seqs
    assert [(record.action, record.outcome) for record in records] == [
        (Action.OBSERVED_CHANGE, Outcome.APPLIED),
        (Action.MODIFY_ENDPOINT_SERVICE, Outcome.APPLIED),
        (Action.MODIFY_ENDPOINT_SERVICE, Outcome.ATTEMPTED),
    ]
    assert len(simulator.journal(method="PUT")) == 2  # ours, then the console's
    assert _cloud_service(simulator, service["id"])["description"] == OUTSIDE_DESCRIPTION


# --- 3: the check without JavaScript ------------------------------------------------------------------
def test_without_javascript_the_check_is_a_plain_post_that_renders_the_result(
    no_js_page, account, simulator, raw_api, service
) -> None:
    page = no_js_page
    page.goto(f"/credentials/{account.pk}/")
    page.get_by_role("button", name=CHECK).click()
    page.wait_for_url(re.compile(rf".*/credentials/{account.pk}/services/observe/$"))
    page.get_by_role("heading", name="Test account").wait_for()
    expect(_result(page)).to_have_text(BASELINE)
    assert AuditRecord.objects.filter(action=Action.OBSERVATION_BASELINE, credential=account).count() == 1
    assert ObservationRun.objects.filter(credential=account).count() == 1

    _change_outside(raw_api, service["id"], description=OUTSIDE_DESCRIPTION)
    page.get_by_role("button", name=CHECK).click()  # again, from the page the POST rendered
    expect(_result(page)).to_have_text(ONE_CHANGE)
    [seen] = AuditRecord.objects.filter(action=Action.OBSERVED_CHANGE)
    assert (seen.target_id, seen.credential_id) == (service["id"], account.pk)
    assert ObservationRun.objects.filter(credential=account).count() == 2

    _result(page).get_by_role("link", name=OUTSIDE_LINK).click()
    page.wait_for_url(re.compile(rf".*/audit/\?source=outside&account={account.pk}$"))
    assert seen.seq in {int(cells[SEQ]) for cells in _rows(page)}
