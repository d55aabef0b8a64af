"""In a real browser: an operator sets up an authenticator app, signs in with its codes and with a
recovery code, and confirms a change to a production account with a fresh code."""

from __future__ import annotations

import re
from base64 import b32decode

import pytest
from django.conf import settings

from tests import mfakit
from tests.browser import enter_code, field, sign_in
from tests.dashboard import make_account, make_user
from vpcepadmin.credentials.models import Environment
from vpcepadmin.mfa.models import AuthenticatorDevice

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-browser-staple"
OVERVIEW = r".*/$"


def _password_step(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/accounts/login/$"))


def test_it_enrols_an_operator_who_then_signs_in_with_a_code_and_a_recovery_code(page, db) -> None:
    make_user("operator", password=PASSWORD)
    _password_step(page, "operator")
    page.wait_for_url(re.compile(r".*/accounts/mfa/enrol/\?next=%2F$"))
    assert page.get_by_role("link", name="Accounts").is_hidden()  # nothing else opens yet
    qr = page.get_by_alt_text("QR code for your authenticator app")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # drawn: the CSP allows it
    secret = page.locator("#mfa-secret").inner_text()
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Code from the app").fill(mfakit.code_at(key, mfakit.next_step(-1)))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Your second factor is set up").wait_for()
    codes = page.locator(".mfa-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have saved them — continue").click()
    page.wait_for_url(re.compile(OVERVIEW))
    assert secret not in page.content()

    _sign_out(page)
    _password_step(page, "operator")
    enter_code(page, mfakit.code_for(AuthenticatorDevice.objects.get()), r".*/accounts/mfa/verify/.*")
    page.wait_for_url(re.compile(OVERVIEW))
    page.get_by_role("link", name="Accounts").wait_for()

    _sign_out(page)
    _password_step(page, "operator")
    enter_code(page, codes[0], r".*/accounts/mfa/verify/.*")
    page.wait_for_url(re.compile(OVERVIEW))
    _sign_out(page)
    _password_step(page, "operator")
    enter_code(page, codes[0], r".*/accounts/mfa/verify/.*")  # used up
    # Said at the top (with the focus) and beside the field.
    page.locator("#error-summary").get_by_text("That code is not right.").wait_for()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert "That code is not right." in page.locator("#id_otp_token_error").inner_text()


def test_it_asks_for_a_fresh_code_before_a_change_to_production_and_keeps_the_form(page, simulator) -> None:
    production = make_account(simulator.url, name="Production", environment=Environment.PRODUCTION)
    service = simulator.seed["endpoint_services"][0]
    operator = make_user("operator", password=PASSWORD)
    sign_in(page, "operator", PASSWORD)
    page.goto(f"/credentials/{production.pk}/services/{service['id']}/edit/")
    field(page, "Description").fill("changed after a step-up")
    page.get_by_role("button", name="Review changes").click()
    page.get_by_role("heading", name="Review your change").wait_for()
    page.get_by_label("Reason for change").fill("CHG-42: production needs a fresh code")
    session = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    mfakit.age_the_check(session["value"])  # 15 minutes later

    page.get_by_role("button", name="Apply changes").click()
    page.get_by_role("heading", name="Confirm it is you").wait_for()
    assert simulator.journal(method="PUT") == []
    device = AuthenticatorDevice.objects.get(user=operator)
    enter_code(page, mfakit.code_for(device), r".*/edit/$", button="Confirm and continue")
    page.get_by_text("Change applied.").wait_for()
    [put] = simulator.journal(method="PUT")
    assert put["body"] == {"description": "changed after a step-up"}
    page.get_by_role("link", name="History").click()
    page.get_by_text("CHG-42: production needs a fresh code").first.wait_for()
