"""In a real browser: sign in, add an AK/SK account on the simulator, test it, browse its services."""

from __future__ import annotations

import re

import pytest

from tests import seeds
from tests.browser import field, sign_in
from tests.dashboard import make_user

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"


def test_an_admin_adds_an_account_and_browses_its_services(page, simulator) -> None:
    simulator.reset(seeds.standard_seed(services=30))
    make_user("admin", password=PASSWORD)
    sign_in(page, "admin", PASSWORD)

    page.get_by_role("link", name="Accounts").click()
    page.get_by_role("link", name="Add account").click()
    field(page, "Display name").fill("Browser EU")
    field(page, "Environment").select_option("production")
    field(page, "Cloud").select_option("otc")
    field(page, "Region").select_option("eu-de")
    field(page, "Project ID").fill(seeds.PROJECT_ID)
    page.get_by_label("Access key and secret key (request signing)").check()
    field(page, "Access key ID").fill(seeds.ACCESS_KEY)
    field(page, "Secret access key").fill(seeds.SECRET_KEY)
    field(page, "VPCEP endpoint override").fill(simulator.url)
    field(page, "IAM endpoint override").fill(simulator.url)
    page.get_by_role("button", name="Save account").click()
    page.get_by_text("saved").wait_for()
    assert seeds.SECRET_KEY not in page.content()

    page.get_by_role("button", name="Test connection").click()
    page.locator("#test-result").get_by_text("Connected.").wait_for()

    page.get_by_role("link", name="Endpoint services").first.click()
    page.get_by_text("30 services").wait_for()
    assert page.locator(".env-banner.env-red").get_by_text("PRODUCTION").is_visible()

    page.get_by_label("Search names").fill("service-2")
    page.get_by_role("link", name="service-29").wait_for()
    expect_rows = page.locator("table.table-services tbody tr")
    page.wait_for_function("() => document.querySelectorAll('table.table-services tbody tr').length === 10")
    assert expect_rows.count() == 10
    assert "q=service-2" in page.url

    page.get_by_label("Search names").fill("")
    page.get_by_label("Status").select_option("failed")
    page.get_by_text("No endpoint service matches.").wait_for()
    page.get_by_label("Status").select_option("")
    page.get_by_text("page 1 of 2").wait_for()

    page.get_by_role("link", name="Next").click()
    page.get_by_text("page 2 of 2").wait_for()
    assert re.search(r"page=2", page.url)

    page.get_by_role("link", name="service-04").click()
    page.get_by_text(f"{seeds.REGION}.service-04.").wait_for()
    page.get_by_role("link", name="Port mappings").click()
    assert page.get_by_role("cell", name="8443").first.is_visible()


def test_the_pages_work_without_javascript(browser, live_server, account) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    make_user("viewer", password=PASSWORD)
    sign_in(page, "viewer", PASSWORD)
    page.goto(f"/credentials/{account.pk}/services/")
    page.get_by_label("Search names").fill("service-01")
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_role("link", name="service-01").wait_for()
    assert "q=service-01" in page.url
    assert page.locator("table.table-services tbody tr").count() == 1
    context.close()
