"""Brute force is stopped (issue 10 §1): two limits, the trusted address, the admin's page, the audit
records, and one lock for every app process of a PostgreSQL deployment."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core.checks import Error
from django.core.management import call_command
from django.db.models import F
from django.http import HttpResponse
from django.test import Client

from bench import deployment, pages
from tests.dashboard import client_for, make_user
from vpcepadmin import checks, roles
from vpcepadmin.audit.models import Action, AuditRecord, TargetType

PASSWORD = "a-long-password-for-the-tests-1"
HERE, ELSEWHERE, SPRAYER = "198.51.100.7", "198.51.100.99", "203.0.113.9"
LOCKED = "Too many failed sign-ins from here. Try again in 15 minutes or ask an administrator to unlock."


def sign_in(
    username: str, password: str, address: str = HERE, path: str = "/accounts/login/", **extra: Any
) -> Any:
    """One sign-in from a fresh browser at ``address``."""
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


def fail(times: int, username: str = "alice", address: str = HERE, **extra: Any) -> list[int]:
    return [sign_in(username, "wrong password", address, **extra).status_code for _ in range(times)]


def shown(response: HttpResponse) -> str:
    """What the page says in its main part (the footer carries a request id, the body a CSRF token)."""
    main = response.content.decode().split("<main", 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", "<main" + main).split())


def events(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action).order_by("seq"))


def age_failures(minutes: int) -> None:
    """As if every failure had happened ``minutes`` earlier (no clock is mocked)."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    """Dozens of sign-ins per test: the password hash is not what these tests are about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password=PASSWORD)


# --- the rule -----------------------------------------------------------------------------------------


def test_it_refuses_the_right_password_after_five_failures_as_it_answers_an_unknown_user(alice) -> None:
    assert fail(4) == [200] * 4  # the form again, with its error
    assert fail(1) == [429]  # the fifth failure locks
    refused = sign_in("alice", PASSWORD)
    assert fail(5, username="nobody-of-that-name", address=ELSEWHERE) == [200] * 4 + [429]
    unknown = sign_in("nobody-of-that-name", PASSWORD, ELSEWHERE)
    assert refused.status_code == unknown.status_code == 429
    assert refused["Retry-After"] == unknown["Retry-After"] == "900"
    assert shown(refused) == shown(unknown)
    assert LOCKED in shown(refused)
    assert "_auth_user_id" not in refused.wsgi_request.session


def test_it_locks_the_username_only_from_that_address(alice) -> None:
    fail(5)
    assert sign_in("alice", PASSWORD).status_code == 429
    assert sign_in("alice", PASSWORD, ELSEWHERE).status_code == 302
    User.objects.create_user("bob", password=PASSWORD)
    assert sign_in("bob", PASSWORD).status_code == 302  # another user from the same address


def test_it_locks_an_address_after_twenty_failures_across_usernames(alice) -> None:
    for number in range(19):
        assert fail(1, username=f"sprayed-{number}", address=SPRAYER) == [200]
    assert sign_in("alice", PASSWORD, SPRAYER).status_code == 302  # not yet; and it clears nothing
    Client().post("/accounts/logout/", REMOTE_ADDR=SPRAYER)
    assert fail(1, username="sprayed-19", address=SPRAYER) == [429]
    assert sign_in("alice", PASSWORD, SPRAYER).status_code == 429  # everybody, from there
    assert sign_in("alice", PASSWORD, HERE).status_code == 302
    (locked,) = events(Action.LOCKED_OUT)
    assert (locked.target_type, locked.target_name, locked.source_ip) == (
        TargetType.CLIENT_ADDRESS,
        SPRAYER,
        SPRAYER,
    )
    assert (locked.actor_username, locked.after["failures"], locked.after["address"]) == (
        "anonymous",
        20,
        SPRAYER,
    )


def test_a_sign_in_clears_that_users_failures_and_not_the_addresss(alice) -> None:
    fail(4)
    assert sign_in("alice", PASSWORD).status_code == 302
    assert fail(4) == [200] * 4  # alice's count started again
    for number in range(15):
        fail(1, username=f"sprayed-{number}")
    assert sign_in("alice", PASSWORD).status_code == 302  # clears alice's 4 failures, not the 15 others
    for number in range(4):
        assert fail(1, username=f"more-{number}") == [200]
    assert fail(1, username="the-last") == [429]  # the 20th failure from here since the spraying began


def test_it_covers_the_admin_sign_in(db) -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    assert fail(5, username="root", path="/admin/login/") == [200] * 4 + [429]
    refused = sign_in("root", PASSWORD, path="/admin/login/")
    assert refused.status_code == 429
    assert LOCKED in shown(refused)
    assert sign_in("root", PASSWORD).status_code == 429  # the same lock on the dashboard's form


def test_a_lock_runs_out_after_the_cool_off_and_refused_attempts_do_not_extend_it(alice) -> None:
    fail(5)
    age_failures(14)
    assert fail(3) == [429] * 3  # refused: neither counted nor extending the lock
    assert sign_in("alice", PASSWORD).status_code == 429
    assert AccessAttempt.objects.get().failures_since_start == 5
    age_failures(2)
    assert sign_in("alice", PASSWORD).status_code == 302
    assert len(events(Action.LOCKED_OUT)) == 1


# --- the address: the trusted one of the audit log, never a header the client writes ------------------


def test_a_forwarded_header_changes_nothing_without_a_trusted_proxy(alice) -> None:
    for number in range(5):
        fail(1, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")
    assert sign_in("alice", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [HERE]


def test_behind_a_trusted_proxy_the_address_its_hop_wrote_is_locked(alice, settings) -> None:
    settings.TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    proxy, client = "10.0.0.2", "198.51.100.20"
    for number in range(5):  # the client writes whatever it likes to the left of what the proxy appends
        fail(1, address=proxy, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, {client}")
    assert sign_in("alice", PASSWORD, proxy, HTTP_X_FORWARDED_FOR=client).status_code == 429
    assert sign_in("alice", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="198.51.100.21").status_code == 302
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [client]
    (locked,) = events(Action.LOCKED_OUT)
    assert (locked.target_name, locked.source_ip, locked.after["address"]) == ("alice", client, client)


def test_a_proxy_hop_that_is_no_address_is_counted_as_unknown_not_a_500(alice, settings) -> None:
    settings.TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    assert fail(5, address="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-address") == [200] * 4 + [429]
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [None]


# --- audit records ------------------------------------------------------------------------------------


def test_a_lockout_is_one_record_with_the_failures_and_the_address(alice) -> None:
    fail(5)
    fail(2)  # refused while locked: failed sign-ins, no second lockout
    (locked,) = events(Action.LOCKED_OUT)
    assert (locked.target_type, locked.target_name, locked.actor_username, locked.source_ip) == (
        TargetType.USER,
        "alice",
        "anonymous",
        HERE,
    )
    assert (locked.after["failures"], locked.after["address"]) == (5, HERE)
    assert len(events(Action.SIGN_IN_FAILED)) == 7
    assert PASSWORD not in json.dumps([r.after for r in AuditRecord.objects.all()])


def test_axes_reset_command_is_an_unlock_by_system(alice) -> None:
    fail(5)
    call_command("axes_reset")
    (unlocked,) = events(Action.UNLOCKED)
    assert (unlocked.target_name, unlocked.actor_username, unlocked.before["address"]) == (
        "alice",
        "system",
        HERE,
    )
    assert sign_in("alice", PASSWORD).status_code == 302


# --- the administrators' page -------------------------------------------------------------------------


@pytest.fixture
def admin(db: None) -> Client:
    return client_for(make_user(roles.ADMIN, username="the-admin"))


def test_the_admin_sees_the_locks_and_unlocks_a_user(alice, admin) -> None:
    fail(5)
    page = admin.get("/lockouts/")
    assert page.status_code == 200
    assert "alice" in shown(page) and HERE in shown(page) and "UTC" in shown(page)
    answer = admin.post(
        "/lockouts/unlock/", {"kind": "user", "username": "alice", "address": HERE}, REMOTE_ADDR="192.0.2.50"
    )
    assert answer.status_code == 302
    assert f"Unlocked: alice from {HERE}." in shown(admin.get("/lockouts/"))
    assert "Nobody is locked out." in shown(admin.get("/lockouts/"))
    (unlocked,) = events(Action.UNLOCKED)
    assert (unlocked.target_type, unlocked.target_name, unlocked.actor_username, unlocked.source_ip) == (
        TargetType.USER,
        "alice",
        "the-admin",
        "192.0.2.50",
    )
    assert unlocked.before["failures"] == 5
    assert sign_in("alice", PASSWORD).status_code == 302


def test_unlocking_an_address_ends_its_locks(alice, admin) -> None:
    fail(5, address=SPRAYER)  # alice locked from there...
    for number in range(15):  # ...and then the address
        fail(1, username=f"sprayed-{number}", address=SPRAYER)
    assert 'name="kind" value="address"' in admin.get("/lockouts/").content.decode()
    admin.post("/lockouts/unlock/", {"kind": "address", "username": "", "address": SPRAYER})
    assert sorted((r.target_type, r.target_name) for r in events(Action.UNLOCKED)) == [
        (TargetType.CLIENT_ADDRESS, SPRAYER),
        (TargetType.USER, "alice"),
    ]
    assert sign_in("alice", PASSWORD, SPRAYER).status_code == 302


def test_unlocking_what_has_run_out_records_nothing(alice, admin) -> None:
    fail(5)
    age_failures(16)
    admin.post("/lockouts/unlock/", {"kind": "user", "username": "alice", "address": HERE})
    assert "already ended" in shown(admin.get("/lockouts/"))
    assert events(Action.UNLOCKED) == []


def test_only_administrators_see_or_use_the_page(alice, admin, people) -> None:
    fail(5)
    unlock = {"kind": "user", "username": "alice", "address": HERE}
    for role in (roles.VIEWER, roles.OPERATOR):
        client = client_for(people[role])
        assert client.get("/lockouts/").status_code == 403
        assert client.post("/lockouts/unlock/", unlock).status_code == 403
        assert 'href="/lockouts/"' not in client.get("/").content.decode()  # no link in the menu
    assert sign_in("alice", PASSWORD).status_code == 429
    assert 'href="/lockouts/">Locked out<' in admin.get("/").content.decode()
    assert Client().get("/lockouts/").status_code == 302  # to the sign-in page


def test_an_unlock_needs_a_csrf_token(alice) -> None:
    fail(5)
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(roles.ADMIN, username="the-admin"))
    assert (
        client.post("/lockouts/unlock/", {"kind": "user", "username": "alice", "address": HERE}).status_code
        == 403
    )
    assert AccessAttempt.objects.exists()


def test_a_limit_below_one_is_refused(settings) -> None:
    settings.LOCKOUT_MINUTES = 0
    assert [m.id for m in checks.check_lockout(None)] == ["vpcepadmin.E010"]
    assert all(isinstance(m, Error) for m in checks.check_lockout(None))


# --- one lock for every process: two servers on one PostgreSQL database -----------------------------

DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/vpcepadmin_lockout_{os.getpid()}"
SETUP = """
from django.contrib.auth.models import User
User.objects.create_user("alice", password={password!r})
print({mark!r} + "1")
"""


@dataclass
class Servers:
    urls: list[str]

    def sign_in(self, url: str, password: str) -> int:
        session = requests.Session()
        login = session.get(f"{url}/accounts/login/", timeout=(3, 10))
        form = next(f for f in pages.forms_of(login.text) if f.value("csrfmiddlewaretoken"))
        answer = session.post(
            f"{url}/accounts/login/",
            data=form.replaced(username="alice", password=password),
            timeout=(3, 10),
            allow_redirects=False,
        )
        return answer.status_code


@pytest.fixture(scope="module")
def two_servers() -> Iterator[Servers]:
    deployment.recreate_database(DATABASE_URL)
    scratch = deployment.scratch_dir("vpcepadmin-lockout-")
    # No shared cache: the lock must hold through the database alone.
    env = deployment.deployment_env(DATABASE_URL, "", scratch, read_timeout=5)
    started: list[Any] = []
    try:
        migrated = deployment.manage(env, "migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stderr
        deployment.manage_json(env, SETUP.format(password=PASSWORD, mark=deployment.MARK))
        urls = []
        for _ in range(2):
            port = deployment.free_port()
            url = f"http://127.0.0.1:{port}"
            server = deployment.start_gunicorn(env, 2, port, Path(scratch) / f"gunicorn-{port}.log")
            started.append(server)
            deployment.wait_healthy(url, server)
            urls.append(url)
        yield Servers(urls)
    finally:
        for server in started:
            deployment.stop_process(server)
        deployment.drop_database(DATABASE_URL)


def test_failures_on_two_servers_lock_the_user_on_both(two_servers) -> None:
    first, second = two_servers.urls
    assert [two_servers.sign_in(url, "wrong password") for url in (first, second, first, second)] == [200] * 4
    assert two_servers.sign_in(second, "wrong password") == 429
    assert [two_servers.sign_in(url, PASSWORD) for url in (first, second)] == [429, 429]
    with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
        locked = connection.execute(
            "SELECT target_name, after->>'failures' FROM audit_auditrecord WHERE action = %s",
            (Action.LOCKED_OUT,),
        ).fetchall()
    assert locked == [("alice", "5")]
