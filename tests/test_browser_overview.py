"""In a real browser without JavaScript (issue 15, item 7): the overview's account cards do not wait
for ever for htmx; each offers a link that shows the account's service counts."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.dashboard import client_for, make_user
from vpcepadmin import roles

pytestmark = pytest.mark.browser


def test_without_javascript_each_card_links_to_its_counts_and_nothing_spins(
    browser, live_server, account
) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    session = client_for(make_user(roles.VIEWER)).cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
    page = context.new_page()
    page.goto("/")
    card = page.get_by_role("region", name=account.name)
    assert card.locator(".spinner-border").filter(visible=True).count() == 0
    assert card.get_by_text("Loading").filter(visible=True).count() == 0
    card.get_by_role("link", name="Show the service counts").click()
    page.get_by_role("link", name="3 endpoint services").wait_for()
    assert page.get_by_role("link", name="3 available").is_visible()
    assert page.get_by_role("heading", name=account.name).is_visible()
    context.close()
