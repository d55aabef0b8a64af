"""Every security event is an audit record in the one chain, with actor, address and request id."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client

from tests.auditkit import record, text
from tests.dashboard import client_for, make_user
from tests.test_mfa import enrol, past_the_password
from vpcepadmin.audit.models import SECURITY_ACTIONS, Action, AuditRecord

PASSWORD = "a-long-password-for-the-tests-1"


def _events(action: str) -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=action).order_by("seq"))


def _sign_in(client: Client, username: str, password: str) -> int:
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR="198.51.100.7"
    ).status_code


def test_it_records_a_sign_in_a_failed_one_and_a_sign_out(db) -> None:
    User.objects.create_user("alice", password=PASSWORD)
    client = Client()
    assert _sign_in(client, "alice", "wrong password") == 200
    assert _sign_in(client, "nobody-of-that-name", "wrong password") == 200
    assert _sign_in(client, "alice", PASSWORD) == 302
    client.post("/accounts/logout/", REMOTE_ADDR="198.51.100.7")
    failed = _events(Action.SIGN_IN_FAILED)
    assert [(r.target_name, r.actor_username, r.source_ip) for r in failed] == [
        ("alice", "anonymous", "198.51.100.7"),
        ("nobody-of-that-name", "anonymous", "198.51.100.7"),
    ]
    (signed_in,) = _events(Action.SIGN_IN)
    assert (signed_in.actor_username, signed_in.source_ip) == ("alice", "198.51.100.7")
    assert len(signed_in.request_id) == 32
    (signed_out,) = _events(Action.SIGN_OUT)
    assert signed_out.actor_username == "alice"
    everything = json.dumps(
        [[r.before, r.after, r.request_body, r.reason] for r in AuditRecord.objects.all()]
    )
    assert "wrong password" not in everything and PASSWORD not in everything


def test_it_records_users_their_passwords_privileges_and_roles(db) -> None:
    user = User.objects.create_user("bob", password=PASSWORD)
    user.email = "bob@example.com"
    user.save()
    user.set_password("another-long-password-2")
    user.save()
    user.is_staff = True
    user.save()
    user.groups.add(Group.objects.get(name="operator"))
    Group.objects.get(name="viewer").user_set.add(user)  # from the other side
    user.groups.remove(Group.objects.get(name="operator"))
    user.delete()
    assert [r.action for r in AuditRecord.objects.order_by("seq")] == [
        Action.USER_CREATED,
        Action.USER_CHANGED,
        Action.PASSWORD_CHANGED,
        Action.PRIVILEGES_CHANGED,
        Action.ROLES_CHANGED,
        Action.ROLES_CHANGED,
        Action.ROLES_CHANGED,
        Action.USER_DELETED,
    ]
    changed, _password, privileges, added, other_side, removed = list(AuditRecord.objects.order_by("seq"))[
        1:7
    ]
    assert (changed.before, changed.after) == ({"email": ""}, {"email": "bob@example.com"})
    assert (privileges.before, privileges.after) == ({"is_staff": False}, {"is_staff": True})
    assert (added.before, added.after) == ({"roles": []}, {"roles": ["operator"]})
    assert other_side.after == {"roles": ["operator", "viewer"]}
    assert removed.after == {"roles": ["viewer"]}
    assert "pbkdf2" not in json.dumps([[r.before, r.after] for r in AuditRecord.objects.all()])


def test_signing_in_is_not_recorded_as_a_change_of_the_user(db) -> None:
    User.objects.create_user("carol", password=PASSWORD)
    assert _sign_in(Client(), "carol", PASSWORD) == 302  # stamps last_login
    assert _events(Action.USER_CHANGED) == []


def test_changes_in_the_admin_name_the_admin_and_their_address(db) -> None:
    root = User.objects.create_superuser("root", password=PASSWORD)
    target = make_user("viewer", username="dave")
    admin = client_for(root)
    data = {
        "username": "dave", "is_active": "on", "is_staff": "on", "groups": [Group.objects.get(name="viewer").pk],
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }  # fmt: skip
    response = admin.post(f"/admin/auth/user/{target.pk}/change/", data, REMOTE_ADDR="203.0.113.5")
    assert response.status_code == 302, response.content.decode()[:500]
    (privileges,) = _events(Action.PRIVILEGES_CHANGED)
    assert (privileges.actor_username, privileges.source_ip, privileges.target_name) == (
        "root",
        "203.0.113.5",
        "dave",
    )


def test_the_security_category_lists_them_and_the_chain_verifies(db, capsys) -> None:
    User.objects.create_user("erin", password=PASSWORD)
    _sign_in(Client(), "erin", "wrong")
    viewer = client_for(make_user("viewer", username="auditor"))
    record(reason="a change to the cloud")
    response = viewer.get("/audit/?category=security")
    page = text(response)
    assert "Failed sign-in" in page and "User created" in page
    shown = {int(seq) for seq in re.findall(r'aria-label="Record (\d+)"', response.content.decode())}
    security = set(AuditRecord.objects.filter(action__in=SECURITY_ACTIONS).values_list("seq", flat=True))
    assert shown == security
    call_command("verify_audit")
    assert "Audit chain verified" in capsys.readouterr().out


@pytest.mark.parametrize("action", SECURITY_ACTIONS)
def test_every_security_action_is_in_the_security_category(action) -> None:
    from vpcepadmin.audit.models import CATEGORIES

    assert action in CATEGORIES["security"][1]


def test_every_kind_of_security_event_lands_in_the_one_chain_and_it_verifies(db, settings, capsys) -> None:
    """Each of the 14 kinds, caused through the pages as people would, then verify_audit."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, for the test only
    user = make_user("operator", username="frank", password=PASSWORD)  # user created, roles changed
    for _ in range(5):  # failed sign-ins, then the lockout
        _sign_in(Client(), "frank", "wrong password")
    admin = client_for(make_user("admin", username="the-admin"))
    unlock = {"kind": "user", "username": "frank", "address": "198.51.100.7"}
    assert admin.post("/lockouts/unlock/", unlock).status_code == 302  # unlocked
    browser = Client()
    assert _sign_in(browser, "frank", PASSWORD) == 302  # sign-in
    _secret, codes = enrol(browser)  # second factor enrolled
    again = past_the_password(User.objects.get(username="frank"))
    assert again.post("/accounts/mfa/verify/", {"otp_token": codes[0]}).status_code == 302  # recovery code
    again.post("/accounts/logout/")  # sign-out
    assert admin.post(f"/accounts/mfa/reset/{user.pk}/").status_code == 302  # second factor reset
    user.refresh_from_db()
    user.email, user.is_staff = "frank@example.com", True  # user changed, staff status changed
    user.set_password("a-brand-new-password-3")  # password changed
    user.save()
    user.delete()  # user deleted
    recorded = set(AuditRecord.objects.values_list("action", flat=True))
    kinds = {str(action) for action in SECURITY_ACTIONS}
    assert kinds <= recorded, kinds - recorded
    call_command("verify_audit")
    assert "Audit chain verified" in capsys.readouterr().out
