"""In a real browser, two people (issue 14): on a production account whose changes need a second
person's approval, alice edits a service and requests approval; she cannot approve it herself, not
even by a forged POST; bob finds it under Approvals, sees what it sends, approves it with a comment
and a fresh second-factor code, and exactly that change reaches the cloud, in the audit log by both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from tests import mfakit
from tests.browser import enter_code, field, sign_in
from tests.dashboard import make_account, make_user
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.changes.models import ChangeRequest, RequestStatus
from vpcepadmin.credentials.models import Environment
from vpcepadmin.mfa.models import AuthenticatorDevice

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"
DESCRIPTION = "orders API, approved by a second person"
REASON = "CHG-14: describe the orders API"
COMMENT = "checked with alice: matches CHG-14"


@pytest.fixture
def second_page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A second person's browser: its own context (own cookies), watched like ``page``."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    problems: list[str] = []
    new_page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    new_page.on("pageerror", lambda error: problems.append(str(error)))
    yield new_page
    context.close()
    assert problems == [], f"console errors or CSP violations: {problems}"


def test_one_operator_requests_a_production_change_and_another_approves_it(
    page, second_page, simulator
) -> None:
    production = make_account(simulator.url, name="Production")
    production.environment, production.requires_approval = Environment.PRODUCTION, True
    production.save()
    service = simulator.seed["endpoint_services"][0]
    make_user("operator", username="alice", password=PASSWORD)
    bob = make_user("operator", username="bob", password=PASSWORD)

    # alice: edit, review, request.
    alice = page
    sign_in(alice, "alice", PASSWORD)
    alice.goto(f"/credentials/{production.pk}/services/{service['id']}/edit/")
    field(alice, "Description").fill(DESCRIPTION)
    alice.get_by_role("button", name="Review changes").click()
    alice.get_by_role("heading", name="Review your change").wait_for()
    assert alice.get_by_role("button", name="Apply changes").count() == 0
    alice.get_by_label("Reason for change").fill(REASON)
    alice.get_by_role("button", name="Request approval").click()
    alice.wait_for_url(re.compile(r".*/approvals/\d+/$"))
    alice.get_by_text("Your change is waiting for another operator's approval.").wait_for()
    alice.get_by_role("heading", name=re.compile(r"Change request #\d+ Waiting for approval")).wait_for()
    pk = int(alice.url.rstrip("/").rsplit("/", 1)[1])
    assert simulator.journal(method="PUT") == []

    # alice cannot approve her own request: no button, and a forged POST is refused.
    alice.get_by_role("button", name="Withdraw my request").wait_for()
    assert alice.get_by_role("button", name="Approve and apply").count() == 0
    assert alice.get_by_role("button", name="Reject").count() == 0
    assert alice.get_by_label("Comment").count() == 0
    token = alice.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    forged = alice.request.post(
        f"/approvals/{pk}/decide/",
        form={"csrfmiddlewaretoken": token, "action": "approve", "reason": "approving my own"},
        max_redirects=0,
        timeout=10_000,
    )
    assert forged.status == 403, forged.text()[:500]
    assert "You may not do this" in forged.text()  # refused as the author, not for a bad CSRF token
    assert simulator.journal(method="PUT") == []
    assert ChangeRequest.objects.get(pk=pk).status == RequestStatus.OPEN

    # bob: find it, see what it sends, approve it with a comment and a fresh code.
    sign_in(second_page, "bob", PASSWORD)
    second_page.goto("/approvals/")
    row = second_page.get_by_role("row").filter(has_text=REASON)
    assert "alice" in row.inner_text() and "Production" in row.inner_text()
    row.get_by_role("link", name=f"#{pk}", exact=True).click()
    second_page.get_by_role("heading", name=f"Change request #{pk} Waiting for approval").wait_for()
    diff = second_page.get_by_role("table", name="Changes").get_by_role("row").filter(has_text="Description")
    assert diff.locator("td.diff-removed-text").inner_text() == (service["description"] or "(empty)")
    assert diff.locator("td.diff-added-text").inner_text() == DESCRIPTION
    assert second_page.get_by_role("button", name="Withdraw my request").count() == 0
    second_page.get_by_label("Comment").fill(COMMENT)
    session = next(c for c in second_page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    mfakit.age_the_check(session["value"])  # 15 minutes later: approving on production asks again
    second_page.get_by_role("button", name="Approve and apply").click()
    second_page.get_by_role("heading", name="Confirm it is you").wait_for()
    assert simulator.journal(method="PUT") == []
    device = AuthenticatorDevice.objects.get(user=bob)
    enter_code(second_page, mfakit.code_for(device), r".*/decide/$", button="Confirm and continue")
    second_page.get_by_role("heading", name=f"Change request #{pk} Approved and applied").wait_for()

    # Exactly the requested change reached the cloud, once; the audit log names both people.
    [put] = simulator.journal(method="PUT")
    assert put["body"] == {"description": DESCRIPTION}
    assert ChangeRequest.objects.get(pk=pk).status == RequestStatus.APPLIED
    requested = AuditRecord.objects.get(action=Action.REQUEST_CHANGE)
    assert (requested.actor_username, requested.reason) == ("alice", REASON)
    approved = AuditRecord.objects.get(action=Action.APPROVE_REQUEST)
    assert (approved.actor_username, approved.reason) == ("bob", COMMENT)
    applied = AuditRecord.objects.get(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.APPLIED)
    assert applied.actor_username == "bob"
    assert applied.reason.startswith(f"Request #{pk} by alice, approved by bob"), applied.reason
    heading = second_page.get_by_role("heading", name="Audit records")
    listed = heading.locator("xpath=following-sibling::ul[1]").inner_text()
    assert "Change requested — Recorded by alice" in listed, listed
    assert "Change request approved — Recorded by bob" in listed, listed
