"""In a real browser: an auditor-minded operator finds a change in the audit log, restores the values
from before it through the normal edit flow, and sees the new record linked to the old one."""

from __future__ import annotations

import re

import pytest

from tests.auditkit import change
from tests.browser import field, sign_in
from tests.dashboard import make_user

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"


def test_an_operator_restores_the_values_from_before_a_change(page, account, simulator) -> None:
    service = simulator.seed["endpoint_services"][0]
    operator = make_user("operator", password=PASSWORD)
    wrong_ports = [{"client_port": 443, "server_port": 8443, "protocol": "TCP"},
                   {"client_port": 23, "server_port": 2323, "protocol": "TCP"}]  # fmt: skip
    old = change(
        account, service["id"], operator, reason="CHG-9: telnet for debugging", ports=wrong_ports
    ).record
    sign_in(page, "operator", PASSWORD)

    page.goto("/audit/")
    page.get_by_label("Search").fill("telnet")
    page.wait_for_url(re.compile(r".*q=telnet.*"))
    page.get_by_role("link", name=f"Record {old.seq}").click()
    page.get_by_role("heading", name=f"Audit record #{old.seq}").wait_for()
    assert page.locator("tr.diff-added").inner_text().split() == ["added", "23", "2323", "TCP"]

    page.get_by_role("link", name="Restore these values").click()
    page.get_by_text(f"Pre-filled with the values before change #{old.seq}").wait_for()
    assert page.locator("tr.port-row").count() == 1
    assert page.locator("#id_ports-0-client_port").input_value() == "443"
    page.get_by_role("button", name="Review changes").click()
    page.get_by_role("heading", name="Review your change").wait_for()
    assert page.locator("tr.diff-removed").inner_text().split() == ["removed", "23", "2323", "TCP"]
    field(page, "Reason for change").fill("CHG-10: undo CHG-9, telnet must stay closed")
    page.get_by_role("button", name="Apply changes").click()
    page.get_by_text("Change applied.").wait_for()
    assert simulator.journal(method="PUT")[-1]["body"]["ports"] == wrong_ports[:1]

    page.get_by_role("link", name="History").click()
    newest = page.locator("table.table-audit tbody tr").first
    assert "CHG-10: undo CHG-9" in newest.inner_text()
    assert "Applied" in newest.inner_text()
    newest.get_by_role("link", name=re.compile(r"^Record \d+$")).click()
    page.get_by_text("This change restored the values from before").wait_for()
    page.get_by_role("link", name=f"record #{old.seq}").click()
    page.get_by_role("heading", name=f"Audit record #{old.seq}").wait_for()
    assert page.get_by_text("The values from before this change were restored by").is_visible()
