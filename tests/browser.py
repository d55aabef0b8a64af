"""Browser fixtures: Debian's Chromium driven by Playwright against a live server.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Where Chromium is
missing the tests fail with the way to install it — they do not skip. Every page collects console
errors and CSP violations; a test fails if any appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("VPCEPADMIN_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: install Debian's package with 'apt-get install -y chromium'."
        )
    # NOTE: Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself are still synchronous, so its async-safety guard is told so.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    problems: list[str] = []
    new_page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    new_page.on("pageerror", lambda error: problems.append(str(error)))
    new_page.console_problems = problems  # a test that provokes an error status removes its own entry
    yield new_page
    context.close()
    assert problems == [], f"console errors or CSP violations: {problems}"


def sign_in(page: Any, username: str, password: str) -> None:
    """Sign in through the real form; a user who must use a second factor gets an authenticator app
    (``tests.mfakit``) if they have none, and types its code on the second page."""
    from django.contrib.auth.models import User

    from tests import mfakit
    from vpcepadmin.mfa import services as mfa

    user = User.objects.get(username=username)
    device = mfakit.give_authenticator(user) if mfa.must_verify(user) else None
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        enter_code(page, mfakit.code_for(device), r".*/accounts/mfa/verify/.*")
    page.wait_for_url(re.compile(r".*/$"))


def enter_code(page: Any, code: str, expected_url: str, button: str = "Verify") -> None:
    """On the page at ``expected_url``, type a second-factor code and submit it."""
    page.wait_for_url(re.compile(expected_url))
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_role("button", name=button).click()


def field(page: Any, label: str) -> Any:
    """The form control labelled ``label`` (crispy marks required fields with a trailing "*")."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$"))
