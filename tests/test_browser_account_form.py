"""In a real browser, the account form (issue 15, item 10): with JavaScript only the fields of the
chosen sign-in method and only the regions of the chosen cloud show; without it every field shows,
grouped in a fieldset per method and an optgroup per cloud."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from tests.browser import field
from tests.dashboard import client_for, make_user
from vpcepadmin import roles
from vpcepadmin.cloud.regions import HUAWEI_REGIONS, OTC_REGIONS

pytestmark = pytest.mark.browser
AKSK, IAM = "Sign in with an access key (AK/SK)", "Sign in with an IAM user and password"


def _open_form(page: Any, base_url: str) -> None:
    """The "Add account" page, as an admin (the session is handed to the browser)."""
    session = client_for(make_user(roles.ADMIN)).cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])
    page.goto("/credentials/new/")


def _offered_regions(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "select[name=region] option",
        "options => options.filter(o => !o.disabled && !o.parentElement.disabled"
        " && !o.parentElement.hidden).map(o => o.value)",
    )


def test_it_shows_only_the_chosen_methods_fields_and_the_chosen_clouds_regions(page, live_server) -> None:
    _open_form(page, live_server.url)
    page.get_by_label("Access key and secret key (request signing)").check()
    assert field(page, "Access key ID").is_visible() and field(page, "Secret access key").is_visible()
    assert page.locator("fieldset", has_text=IAM).is_hidden()
    assert field(page, "IAM password").is_hidden()

    page.get_by_label("IAM user and password (token)").check()
    assert field(page, "IAM password").is_visible()
    assert page.locator("fieldset", has_text=AKSK).is_hidden()
    assert field(page, "Access key ID").is_hidden()

    field(page, "Cloud").select_option("otc")
    assert _offered_regions(page) == OTC_REGIONS
    assert page.locator("select[name=region]").input_value() in OTC_REGIONS
    field(page, "Cloud").select_option("huawei")
    assert _offered_regions(page) == HUAWEI_REGIONS
    assert page.locator("select[name=region]").input_value() in HUAWEI_REGIONS


def test_without_javascript_every_field_shows_grouped_by_method_and_cloud(browser, live_server, db) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    _open_form(page, live_server.url)
    legends = page.locator("fieldset legend").all_inner_texts()
    assert AKSK in legends and IAM in legends
    assert page.get_by_role("group", name=AKSK).get_by_label("Access key ID").is_visible()
    assert page.get_by_role("group", name=IAM).get_by_label("IAM password").is_visible()
    groups = page.eval_on_selector_all("select[name=region] optgroup", "groups => groups.map(g => g.label)")
    assert groups == ["Huawei Cloud", "Open Telekom Cloud"]
    assert len(_offered_regions(page)) == len(HUAWEI_REGIONS) + len(OTC_REGIONS)
    context.close()
