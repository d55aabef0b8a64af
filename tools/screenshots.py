"""The README's screenshots, taken in Chromium from a running ``make run``.

    make run                                    # in another terminal; note the admin password
    .venv/bin/python tools/screenshots.py --password '<admin password>' [--base http://127.0.0.1:8000]

It signs in as ``admin`` (enrolling the second factor when the demo asks for it, or reading
``--totp-key`` when it is already enrolled) and saves, in ``docs/screenshots/``: the overview, a
service list, an edit page with an error, a review, the audit record of the change it then applies
(to the demo's staging account), and the edit page at 390 px.
The browser is Debian's Chromium (``/usr/bin/chromium``), as in the tests.
"""

from __future__ import annotations

import argparse
import base64
import re
import time
from pathlib import Path

from django_otp.oath import totp
from playwright.sync_api import Page, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def sign_in(page: Page, base: str, password: str, key: bytes | None) -> bytes | None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("Sign in", re.I)).click()
    secret = page.locator("#mfa-secret")
    if secret.count():
        text = secret.inner_text().replace(" ", "").strip()
        key = base64.b32decode(text + "=" * (-len(text) % 8))
        page.get_by_label("Code from the app").fill(f"{totp(key):06d}")
        page.get_by_role("button", name=re.compile("Confirm|Turn on|Enrol|Verify", re.I)).first.click()
    elif key is not None and page.get_by_label("Code", exact=True).count():
        page.get_by_label("Code", exact=True).fill(f"{totp(key):06d}")
        page.get_by_role("button", name=re.compile("Verify", re.I)).first.click()
    page.goto(f"{base}/")
    return key


def edit_url(page: Page, base: str) -> str:
    page.goto(f"{base}/credentials/2/services/")  # the demo's staging account
    href = page.locator("table a[href*='/services/']").first.get_attribute("href") or ""
    return f"{base}{href.split('?')[0]}edit/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--password", required=True)
    parser.add_argument("--totp-key", default="", help="base32 key of an admin already enrolled")
    options = parser.parse_args()
    key = base64.b32decode(options.totp_key) if options.totp_key else None
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        sign_in(page, options.base, options.password, key)
        page.wait_for_timeout(1500)  # the account cards load by themselves
        page.screenshot(path=OUT / "overview.png", full_page=True)
        page.goto(f"{options.base}/credentials/2/services/")
        page.screenshot(path=OUT / "service-list.png", full_page=True)
        url = edit_url(page, options.base)
        page.goto(url)
        page.locator("#id_ports-0-client_port").fill("")
        page.get_by_role("button", name="Review changes").last.click()
        page.locator("#error-summary").wait_for()
        page.screenshot(path=OUT / "edit-with-errors.png")
        page.goto(url)
        page.locator("#id_description").fill(f"Shown in the README ({time.strftime('%H:%M:%S')})")
        page.get_by_role("button", name="Review changes").last.click()
        page.get_by_role("heading", name="Review your change").wait_for()
        page.screenshot(path=OUT / "review.png", full_page=True)
        page.get_by_label("Reason for change").fill("README screenshots")
        page.get_by_role("button", name="Apply changes").click()
        page.get_by_text("Change applied.").wait_for()
        page.goto(f"{options.base}/audit/?category=cloud")
        page.locator("#audit-results a[href^='/audit/'][href$='/']").first.click()
        page.get_by_role("heading", name=re.compile("Audit record")).wait_for()
        page.screenshot(path=OUT / "audit-record.png", full_page=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.context.add_cookies(page.context.cookies())
        phone.goto(url)
        phone.screenshot(path=OUT / "edit-390px.png", full_page=False)
        browser.close()
    print(f"Saved to {OUT}")


if __name__ == "__main__":
    main()
