"""In a real browser: an operator edits port mappings through review and apply; a viewer cannot."""

from __future__ import annotations

import pytest

from tests.browser import sign_in
from tests.dashboard import make_user

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"


def _row(page, index: int, column: str):
    return page.locator(f"#id_ports-{index}-{column}")


def test_an_operator_edits_port_mappings_reviews_and_applies(page, account, simulator) -> None:
    service = simulator.seed["endpoint_services"][0]
    make_user("operator", password=PASSWORD)
    sign_in(page, "operator", PASSWORD)
    page.goto(f"/credentials/{account.pk}/services/")
    page.get_by_role("link", name=service["service_name"]).click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("heading", name="Edit endpoint service").wait_for()

    page.get_by_role("button", name="Add port mapping").click()
    _row(page, 1, "client_port").wait_for()
    _row(page, 1, "client_port").fill("8080")
    _row(page, 1, "server_port").fill("80")
    page.get_by_role("button", name="Add port mapping").click()
    _row(page, 2, "client_port").wait_for()
    _row(page, 2, "client_port").fill("9090")
    _row(page, 2, "server_port").fill("90")
    assert page.locator(".is-invalid").count() == 0  # no error while typing

    page.get_by_role("button", name="Remove row 3").click()
    page.wait_for_function("() => document.querySelectorAll('tr.port-row').length === 2")
    assert _row(page, 1, "client_port").input_value() == "8080"  # typed values survive the re-render

    _row(page, 1, "client_port").fill("443")  # the same client port as row 1
    page.get_by_role("button", name="Review changes").click()
    error = page.locator("#port-row-1").get_by_text("Row 1 already maps client port 443/TCP.")
    error.wait_for()
    assert page.locator("#port-row-0 .is-invalid").count() == 0
    assert simulator.journal(method="PUT") == []

    _row(page, 1, "client_port").fill("8080")
    page.get_by_role("button", name="Review changes").click()
    page.get_by_role("heading", name="Review your change").wait_for()
    added = page.locator("tr.diff-added")
    assert added.count() == 1
    assert "8080" in added.inner_text()
    assert page.locator("tr.diff-unchanged").count() == 1

    page.get_by_label("Reason for change").fill("CHG-1234: expose the admin port")
    page.get_by_role("button", name="Apply changes").click()
    page.get_by_text("Change applied.").wait_for()
    assert len(simulator.journal(method="PUT")) == 1
    assert page.get_by_role("cell", name="8080").first.is_visible()

    page.get_by_role("link", name="History").click()
    history = page.locator("table").first
    history.get_by_text("CHG-1234: expose the admin port").first.wait_for()
    assert "operator" in history.inner_text()


def test_a_viewer_sees_no_edit_button_and_is_refused_the_edit_page(page, account, simulator) -> None:
    service = simulator.seed["endpoint_services"][0]
    make_user("viewer", password=PASSWORD)
    sign_in(page, "viewer", PASSWORD)
    page.goto(f"/credentials/{account.pk}/services/{service['id']}/")
    page.get_by_role("heading", name=service["service_name"]).wait_for()
    assert page.get_by_role("link", name="Edit").count() == 0
    assert page.get_by_role("button", name="Edit").count() == 0
    response = page.goto(f"/credentials/{account.pk}/services/{service['id']}/edit/")
    assert response is not None
    assert response.status == 403
    page.get_by_role("heading", name="You may not do this").wait_for()
    page.console_problems.remove(
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    )
