"""RoleBackend answers exactly what ModelBackend answers, from one query, and names the roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dashboard import PERSONAS, make_user
from vpcepadmin.permissions import RoleBackend, role_names


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)  # no permission cached yet


@pytest.mark.django_db
@pytest.mark.parametrize("role", PERSONAS)
def test_every_role_has_the_permissions_model_backend_gives(role) -> None:
    user = make_user(role)
    user.user_permissions.add(Permission.objects.get(codename="view_group"))  # a direct one too
    expected = ModelBackend().get_all_permissions(_fresh(user))
    with CaptureQueriesContext(connection) as queries:
        fresh = _fresh(user)
        got = RoleBackend().get_all_permissions(fresh)
        names = role_names(fresh)
    assert got == expected and "auth.view_group" in got
    assert names == [role]
    assert len(queries) == 2  # the user, then permissions and roles together


@pytest.mark.django_db
def test_inactive_superuser_and_nobody() -> None:
    nobody = User.objects.create_user("nobody")
    assert RoleBackend().get_all_permissions(_fresh(nobody)) == set() and role_names(nobody) == []
    boss = User.objects.create_superuser("boss")
    assert RoleBackend().get_all_permissions(_fresh(boss)) == ModelBackend().get_all_permissions(_fresh(boss))
    gone = make_user(PERSONAS[0], username="gone")
    gone.is_active = False
    gone.save()
    assert RoleBackend().get_all_permissions(_fresh(gone)) == set()
    assert not _fresh(gone).has_perm("audit.view_auditrecord")


def test_a_page_reads_permissions_and_roles_once(operator_client, account, simulator) -> None:
    with CaptureQueriesContext(connection) as queries:
        page = operator_client.get(f"/credentials/{account.pk}/services/").content.decode()
    permission_queries = [q for q in queries if "auth_permission" in q["sql"] or "auth_group" in q["sql"]]
    assert len(permission_queries) == 1
    assert '<span class="badge text-bg-secondary ms-1">operator</span>' in page
