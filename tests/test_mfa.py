"""The second factor (issue 10 §2): enrolment, sign-in, recovery codes, reset, step-up, and that
nobody reads a key or a code back."""

from __future__ import annotations

import io
import json
import time
from base64 import b32decode, b64decode
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django_otp.plugins.otp_static.models import StaticToken

from bench import pages
from tests import mfakit, seeds
from tests.dashboard import client_for, make_account, make_user
from tests.editing import Editor
from tests.test_credentials_pages import _form
from vpcepadmin import roles
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.credentials import crypto
from vpcepadmin.credentials.models import CloudCredential, Environment
from vpcepadmin.mfa import services
from vpcepadmin.mfa.checks import check_second_factor, check_second_factor_required
from vpcepadmin.mfa.middleware import OPEN_VIEWS
from vpcepadmin.mfa.models import STEP_SECONDS, AuthenticatorDevice

PASSWORD = "a-long-password-for-the-tests-1"
ENROL, VERIFY, STEP_UP = "/accounts/mfa/enrol/", "/accounts/mfa/verify/", "/accounts/mfa/step-up/"


def past_the_password(user: User) -> Client:
    """A client signed in with the password only, as the sign-in page leaves it."""
    client = Client()
    client.force_login(user)
    return client


def key_of(secret: str) -> bytes:
    return b32decode(secret + "=" * (-len(secret) % 8))


def enrol(client: Client) -> tuple[str, list[str]]:
    """Enrol through the pages; the key as shown and the recovery codes."""
    secret = client.get(ENROL).context["secret"]
    done = client.post(
        ENROL, {"otp_token": mfakit.code_at(key_of(secret), mfakit.next_step(-1)), "next": "/"}
    )
    assert done.templates[0].name == "mfa/recovery_codes.html", done.content.decode()[:1000]
    return secret, done.context["codes"]


def a_wrong_code(device: AuthenticatorDevice) -> str:
    """Six digits that are not a code of ``device`` anywhere near now."""
    now = int(time.time()) // STEP_SECONDS
    near = {mfakit.code_at(device.key(), step) for step in range(now - 2, now + 3)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)


def events(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action).order_by("seq"))


# --- enrolment ---------------------------------------------------------------------------------------
def test_it_shows_the_qr_code_and_the_key_until_a_code_confirms_them(db) -> None:
    client = past_the_password(make_user(roles.OPERATOR))
    assert client.get("/")["Location"] == f"{ENROL}?next=%2F"
    page = client.get(ENROL)
    secret, html = page.context["secret"], page.content.decode()
    assert secret in html
    qr = html.split('src="data:image/svg+xml;base64,')[1].split('"')[0]
    assert b64decode(qr).startswith(b"<svg") and b"<path" in b64decode(qr)
    device = AuthenticatorDevice.objects.get()
    assert device.confirmed is False and device.key() == key_of(secret)
    assert "secret=" + secret in device.config_url() and "issuer=vpcepadmin" in device.config_url()

    wrong = client.post(ENROL, {"otp_token": a_wrong_code(device)})
    assert services.WRONG_CODE in wrong.content.decode()
    assert wrong.context["secret"] == secret  # the same key, still to be confirmed
    time.sleep(1.1)  # a wrong code holds the next attempt back for a second (throttling)
    done = client.post(ENROL, {"otp_token": mfakit.code_for(device), "next": "/credentials/"})
    codes = done.context["codes"]
    assert len(codes) == len(set(codes)) == services.RECOVERY_CODES
    assert all(code in done.content.decode() for code in codes)
    assert 'href="/credentials/"' in done.content.decode()
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get("/").status_code == 200  # verified for this session
    again = client.get(ENROL)
    assert again.status_code == 302 and secret not in str(again.headers)
    (enrolled,) = events(Action.MFA_ENROLLED)
    assert (enrolled.actor_username, enrolled.target_name) == ("operator", "operator")


def test_it_holds_back_a_code_typed_right_after_a_wrong_one(db) -> None:
    client = past_the_password(make_user(roles.OPERATOR))
    client.get(ENROL)
    device = AuthenticatorDevice.objects.get()
    client.post(ENROL, {"otp_token": a_wrong_code(device)})
    refused = client.post(ENROL, {"otp_token": mfakit.code_for(device)})
    assert "Too many wrong codes. Wait 1 second," in refused.content.decode()
    device.refresh_from_db()
    assert device.confirmed is False


def test_it_makes_the_key_of_an_earlier_enrolment_page_worthless(db) -> None:
    client = past_the_password(make_user(roles.OPERATOR))
    first = key_of(client.get(ENROL).context["secret"])
    client.get(ENROL)
    refused = client.post(ENROL, {"otp_token": mfakit.code_at(first, mfakit.next_step(-1))})
    assert services.WRONG_CODE in refused.content.decode()
    assert AuthenticatorDevice.objects.filter(confirmed=True).count() == 0


# --- who must use it, and what they reach before ------------------------------------------------------
def project_urls(values: dict[Any, Any]) -> list[tuple[str, str]]:
    """Every named URL of the project (``(view name, path)``), the admin's represented by two pages."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], namespace: str, converters: dict[str, Any]) -> None:
        for pattern in patterns:
            known = {**converters, **pattern.pattern.converters}
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                    walk(pattern.url_patterns, inner, known)
            elif pattern.name:
                name = namespace + pattern.name
                kwargs = {key: values.get((name, key), values.get(key)) for key in known}
                found.append((name, reverse(name, kwargs=kwargs)))

    walk(get_resolver().url_patterns, "", {})
    return [*found, ("admin:index", "/admin/"), ("admin:auth_user_changelist", "/admin/auth/user/")]


@pytest.mark.parametrize("role", [roles.OPERATOR, roles.ADMIN, "superuser"])
def test_it_lets_a_required_role_reach_nothing_before_enrolling(role, account, simulator) -> None:
    user = User.objects.create_superuser("root") if role == "superuser" else make_user(role)
    client = past_the_password(user)
    service = simulator.seed["endpoint_services"][0]["id"]
    values = {
        "pk": account.pk,
        "service_id": service,
        ("mfa:reset", "pk"): user.pk,
        ("audit:detail", "pk"): 1,
    }
    urls = [(name, url) for name, url in project_urls(values) if name not in OPEN_VIEWS]
    assert len(urls) > 20 and any(name == "mfa:step_up" for name, _ in urls)
    for _name, url in urls:
        for method, headers in (("get", {}), ("post", {}), ("get", {"HTTP_HX_REQUEST": "true"})):
            response = getattr(client, method)(url, **headers)
            where = response.get("HX-Redirect") if headers else response.get("Location")
            assert where and where.startswith(ENROL), f"{method} {url} {headers}: {response.status_code}"
    assert simulator.journal() == []
    assert CloudCredential.objects.count() == 1
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"  # signing out works


def test_it_asks_a_user_with_an_app_for_its_code_and_comes_back(db) -> None:
    user = make_user(roles.ADMIN, password=PASSWORD)
    device = mfakit.give_authenticator(user)
    client = Client()
    signed_in = client.post("/accounts/login/?next=/audit/", {"username": "admin", "password": PASSWORD})
    assert client.get(signed_in["Location"])["Location"] == f"{VERIFY}?next=%2Faudit%2F"
    page = client.get(f"{VERIFY}?next=%2Faudit%2F")
    assert 'name="otp_token"' in page.content.decode() and page.context["mfa_pending"]
    session_before = client.session.session_key
    answer = client.post(VERIFY, {"otp_token": mfakit.code_for(device), "next": "/audit/"})
    assert answer["Location"] == "/audit/"
    assert client.get("/audit/").status_code == 200
    assert client.session.session_key != session_before  # a new session key with the new privilege


def test_it_accepts_a_code_once(db) -> None:
    user = make_user(roles.OPERATOR)
    device = mfakit.give_authenticator(user)
    code = mfakit.code_for(device)
    assert past_the_password(user).post(VERIFY, {"otp_token": code})["Location"] == "/"
    replayed = past_the_password(user).post(VERIFY, {"otp_token": code})
    assert replayed.status_code == 200 and services.WRONG_CODE in replayed.content.decode()


def test_it_does_not_force_a_viewer_but_lets_them_enrol(db) -> None:
    viewer = past_the_password(make_user(roles.VIEWER))
    assert viewer.get("/").status_code == 200
    assert viewer.get(ENROL).status_code == 200
    assert viewer.get(VERIFY)["Location"].startswith(ENROL)  # nothing to verify yet


def test_it_makes_whoever_enrolled_use_it_whatever_their_role(db) -> None:
    viewer = make_user(roles.VIEWER)
    mfakit.give_authenticator(viewer)
    assert past_the_password(viewer).get("/")["Location"] == f"{VERIFY}?next=%2F"


def test_it_takes_the_required_roles_from_the_setting(db, settings) -> None:
    settings.MFA_REQUIRED_ROLES = ["admin"]
    assert past_the_password(make_user(roles.OPERATOR)).get("/").status_code == 200
    assert past_the_password(make_user(roles.ADMIN)).get("/")["Location"].startswith(ENROL)


# --- recovery codes ----------------------------------------------------------------------------------
def test_it_accepts_a_recovery_code_once_and_records_it(db) -> None:
    client = past_the_password(make_user(roles.OPERATOR))
    _, codes = enrol(client)
    first = past_the_password(User.objects.get())
    assert first.post(VERIFY, {"otp_token": codes[0]})["Location"] == "/"
    assert first.get("/").status_code == 200
    again = past_the_password(User.objects.get()).post(VERIFY, {"otp_token": codes[0]})
    assert services.WRONG_CODE in again.content.decode()
    time.sleep(1.1)  # the wrong attempt's back-off
    typed = codes[1].upper().replace("-", " ")  # however it is typed
    assert past_the_password(User.objects.get()).post(VERIFY, {"otp_token": typed})["Location"] == "/"
    used = events(Action.RECOVERY_CODE_USED)
    assert [(r.target_name, r.after) for r in used] == [
        ("operator", {"recovery_codes_left": 9}),
        ("operator", {"recovery_codes_left": 8}),
    ]


# --- reset -------------------------------------------------------------------------------------------
def test_it_lets_an_admin_reset_another_users_second_factor(db) -> None:
    operator = make_user(roles.OPERATOR)
    operators_session = client_for(operator)
    services.issue_recovery_codes(operator)
    admin = client_for(make_user(roles.ADMIN))
    page = admin.get(f"/accounts/mfa/reset/{operator.pk}/")
    assert "An authenticator app is set up" in page.content.decode()
    assert admin.post(f"/accounts/mfa/reset/{operator.pk}/").status_code == 302
    assert not AuthenticatorDevice.objects.filter(user=operator).exists()
    assert services.recovery_codes_left(operator) == 0
    (reset,) = events(Action.MFA_RESET)
    assert (reset.actor_username, reset.target_name) == ("admin", "operator")
    assert reset.before == {"authenticator": True, "recovery_codes_left": 10}
    assert operators_session.get("/")["Location"].startswith(ENROL)  # their session lost it at once


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        ("admin", "superuser", False),
        ("admin", "self", False),
        ("superuser", "admin", True),
        ("operator", "viewer", False),
        ("viewer", "operator", False),
    ],
)
def test_it_lets_only_an_admin_reset_and_never_their_own_or_a_superusers(db, actor, target, allowed) -> None:
    people = {
        "superuser": User.objects.create_superuser("root"),
        **{role: make_user(role) for role in (roles.ADMIN, roles.OPERATOR, roles.VIEWER)},
    }
    acting = people[actor]
    victim = acting if target == "self" else people[target]
    mfakit.give_authenticator(victim)
    response = client_for(acting).post(f"/accounts/mfa/reset/{victim.pk}/")
    assert AuthenticatorDevice.objects.filter(user=victim).exists() != allowed
    assert response.status_code == (302 if allowed else 403)
    assert len(events(Action.MFA_RESET)) == int(allowed)


# --- nobody reads a key or a code back ---------------------------------------------------------------
def test_it_lets_nobody_read_the_key_or_a_recovery_code_back(db, caplog) -> None:
    caplog.set_level("DEBUG")
    operator = make_user(roles.OPERATOR)
    client = past_the_password(operator)
    secret, codes = enrol(client)
    key = key_of(secret)
    root = client_for(User.objects.create_superuser("root"))
    seen = [
        client.get(url).content.decode() for url in ("/", "/credentials/", ENROL, VERIFY, STEP_UP, "/audit/")
    ]
    seen += [
        root.get(url).content.decode()
        for url in (
            "/admin/",
            f"/admin/auth/user/{operator.pk}/change/",
            f"/accounts/mfa/reset/{operator.pk}/",
            *(f"/audit/{record.pk}/" for record in AuditRecord.objects.all()),
        )
    ]
    assert "an authenticator app is set up" in seen[7]
    for gone in (
        "/admin/otp_static/staticdevice/",
        "/admin/otp_totp/totpdevice/",
        "/admin/mfa/authenticatordevice/",
    ):
        assert root.get(gone).status_code == 404, gone
    records = json.dumps([[r.before, r.after, r.request_body, r.reason] for r in AuditRecord.objects.all()])
    stored = AuthenticatorDevice.objects.get(user=operator).key_encrypted
    tokens = json.dumps(list(AuthenticatorDevice.objects.values_list("key_encrypted", flat=True)))
    tokens += json.dumps(list(StaticToken.objects.values_list("token", flat=True)))
    assert stored.startswith("gAAAAA")  # a Fernet token
    for text in [*seen, records, caplog.text, tokens]:
        for value in (secret, key.hex(), *codes, *(code.replace("-", "") for code in codes)):
            assert value not in text


# --- step-up -----------------------------------------------------------------------------------------
def answer_step_up(client: Client, page: Any, code: str) -> Any:
    """Submit the step-up page as a browser would: its fields, with ``code`` typed in."""
    assert page.templates[0].name == "mfa/step_up.html", page.content.decode()[:1000]
    form = next(f for f in pages.forms_of(page.content.decode()) if f.value("step_up_form"))
    return client.post(form.action, dict(form.replaced(otp_token=code)))


@pytest.fixture
def production(db, simulator) -> CloudCredential:
    return make_account(simulator.url, name="Production", environment=Environment.PRODUCTION)


def test_it_asks_for_a_code_before_applying_to_production_then_applies_the_form_once(
    production, simulator
) -> None:
    operator = make_user(roles.OPERATOR)
    client = client_for(operator)
    editor = Editor(client, production.pk, simulator.seed["endpoint_services"][0]["id"])
    editor.load()
    editor.submit("review", description="stepped up")
    mfakit.age_the_check(client)
    asked = editor.submit("apply", reason="Ticket OPS-7", description="stepped up")
    assert "Applying a change to a production account" in asked.content.decode()
    assert simulator.journal(method="PUT") == [] and not AuditRecord.objects.filter(
        action=Action.MODIFY_ENDPOINT_SERVICE
    )

    device = mfakit.give_authenticator(operator)
    wrong = answer_step_up(client, asked, a_wrong_code(device))
    assert services.WRONG_CODE in wrong.content.decode() and simulator.journal(method="PUT") == []
    time.sleep(1.1)  # the wrong code's back-off
    done = answer_step_up(client, wrong, mfakit.code_for(device))
    assert done["Location"] == f"/credentials/{production.pk}/services/{editor.service_id}/"
    [put] = simulator.journal(method="PUT")
    assert put["body"] == {"description": "stepped up"}
    attempt, outcome = AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE).order_by("seq")
    assert (attempt.outcome, outcome.outcome) == (Outcome.ATTEMPTED, Outcome.APPLIED)
    assert (
        attempt.reason == "Ticket OPS-7" and attempt.actor_username == "operator"
    )  # the form arrived intact


def test_it_needs_no_code_after_a_recent_check_or_for_another_environment(
    account, production, simulator
) -> None:
    client = client_for(make_user(roles.OPERATOR))
    service = simulator.seed["endpoint_services"][0]["id"]
    for credential, description in ((production, "fresh"), (account, "staging")):
        editor = Editor(client, credential.pk, service)
        editor.load()
        assert editor.apply(description=description).status_code == 302
        mfakit.age_the_check(client)  # recent for production; old for staging, which needs none
    assert len(simulator.journal(method="PUT")) == 2


def test_it_asks_for_a_code_to_add_an_account_and_keeps_the_secret_off_the_page(db, simulator) -> None:
    admin = make_user(roles.ADMIN)
    client = client_for(admin)
    mfakit.age_the_check(client)
    assert client.get("/credentials/new/")["Location"] == f"{STEP_UP}?next=%2Fcredentials%2Fnew%2F"
    asked = client.post("/credentials/new/", _form(simulator.url))
    assert seeds.SECRET_KEY not in asked.content.decode() and seeds.ACCESS_KEY not in asked.content.decode()
    assert not CloudCredential.objects.exists()
    done = answer_step_up(client, asked, mfakit.code_for(mfakit.give_authenticator(admin)))
    credential = CloudCredential.objects.get()
    assert done["Location"] == f"/credentials/{credential.pk}/"
    assert (credential.name, credential.secret(), credential.access_key) == (
        "Prod EU",
        seeds.SECRET_KEY,
        seeds.ACCESS_KEY,
    )
    assert len(events(Action.CREATE_CREDENTIAL)) == 1


def test_it_asks_for_a_code_to_change_or_delete_an_account(account, simulator) -> None:
    admin = make_user(roles.ADMIN)
    client = client_for(admin)
    device = mfakit.give_authenticator(admin)
    mfakit.age_the_check(client)
    asked = client.post(
        f"/credentials/{account.pk}/edit/", _form(simulator.url, name="Renamed", secret_key="")
    )
    account.refresh_from_db()
    assert account.name == "Test account"
    assert answer_step_up(client, asked, mfakit.code_for(device))["Location"] == f"/credentials/{account.pk}/"
    account.refresh_from_db()
    assert (account.name, account.secret()) == ("Renamed", seeds.SECRET_KEY)
    mfakit.age_the_check(client)
    asked = client.post(f"/credentials/{account.pk}/delete/")
    assert CloudCredential.objects.exists()
    assert answer_step_up(client, asked, mfakit.code_for(device))["Location"] == "/credentials/"
    assert not CloudCredential.objects.exists()
    assert [len(events(a)) for a in (Action.UPDATE_CREDENTIAL, Action.DELETE_CREDENTIAL)] == [1, 1]


def test_it_comes_back_from_the_step_up_page_to_where_it_was_asked(db) -> None:
    admin = make_user(roles.ADMIN)
    client = client_for(admin)
    mfakit.age_the_check(client)
    device = mfakit.give_authenticator(admin)
    page = client.get(f"{STEP_UP}?next=/credentials/new/")
    assert "Confirm it is you" in page.content.decode()
    answer = client.post(f"{STEP_UP}?next=/credentials/new/", {"otp_token": mfakit.code_for(device)})
    assert answer["Location"] == "/credentials/new/"
    assert client.get("/credentials/new/").status_code == 200
    elsewhere = client.post(STEP_UP, {"otp_token": mfakit.code_for(device), "next": "https://evil.example/"})
    assert elsewhere["Location"] == "/"


def test_it_resumes_a_sealed_form_only_for_its_user_and_url_and_unaltered(account, simulator) -> None:
    admin = make_user(roles.ADMIN)
    client = client_for(admin)
    mfakit.age_the_check(client)
    asked = client.post(f"/credentials/{account.pk}/delete/")
    sealed = next(f for f in pages.forms_of(asked.content.decode()) if f.value("step_up_form")).value(
        "step_up_form"
    )
    code = mfakit.code_for(mfakit.give_authenticator(admin))
    tampered = client.post(
        f"/credentials/{account.pk}/delete/", {"step_up_form": sealed[:-4] + "AAAA", "otp_token": code}
    )
    assert tampered["Location"] == f"/credentials/{account.pk}/delete/"
    elsewhere = client.post("/credentials/new/", {"step_up_form": sealed, "otp_token": code})
    assert elsewhere["Location"] == "/credentials/new/"
    other = client_for(make_user(roles.ADMIN, username="other-admin"))
    mfakit.age_the_check(other)
    stolen = other.post(f"/credentials/{account.pk}/delete/", {"step_up_form": sealed, "otp_token": code})
    assert stolen.status_code == 302 and CloudCredential.objects.filter(pk=account.pk).exists()


# --- keys at rest, settings --------------------------------------------------------------------------
def test_it_rotates_authenticator_keys_and_a_key_nobody_can_read_verifies_nothing(db, settings) -> None:
    user = make_user(roles.OPERATOR)
    device = mfakit.give_authenticator(user)
    key = device.key()
    new = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new, *settings.FERNET_KEYS]
    call_command("rotate_credential_keys", stdout=io.StringIO())
    settings.FERNET_KEYS = [new]
    device.refresh_from_db()
    assert device.key() == key and crypto.is_current(device.key_encrypted)
    code = mfakit.code_for(device)
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]  # the right key is gone
    refused = past_the_password(user).post(VERIFY, {"otp_token": code})
    assert services.WRONG_CODE in refused.content.decode()


def test_it_refuses_an_unknown_role_and_warns_when_nobody_needs_a_second_factor(settings) -> None:
    settings.MFA_REQUIRED_ROLES = ["operators"]
    settings.REAUTH_SECONDS = 0
    assert [m.id for m in check_second_factor(None)] == ["vpcepadmin.E020", "vpcepadmin.E021"]
    settings.MFA_REQUIRED_ROLES = []
    assert [m.id for m in check_second_factor_required(None)] == ["vpcepadmin.W020"]


def test_it_asks_again_when_the_step_up_code_is_left_empty(account, simulator) -> None:
    client = client_for(make_user(roles.ADMIN))
    mfakit.age_the_check(client)
    asked = client.post(f"/credentials/{account.pk}/delete/")
    again = answer_step_up(client, asked, "")
    assert "Enter the code." in again.content.decode()
    assert CloudCredential.objects.filter(pk=account.pk).exists()
