"""No privilege escalation through Django's admin (security issue; ASVS 8.2.1, 8.3.1).

Only superusers grant or remove superuser status, staff status, user permissions and the admin
role, and only they edit groups' permissions. An admin-role user assigns viewer and operator only,
never to itself, and never touches a superuser's account. Every case is a forged POST (what a
browser would send, plus the change) and is judged by the database afterwards, not by the page.

The expected outcome below is written out on its own, not derived from vpcepadmin.admin.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory

from tests.dashboard import client_for
from vpcepadmin import roles

SUPERUSER, ADMIN, OPERATOR, VIEWER = "superuser", roles.ADMIN, roles.OPERATOR, roles.VIEWER
ACTORS = (SUPERUSER, ADMIN, OPERATOR, VIEWER)
SELF, OTHER_ADMIN, AN_OPERATOR, A_VIEWER, A_SUPERUSER = (
    "self",
    "another admin",
    "an operator",
    "a viewer",
    "a superuser",
)
TARGETS = (SELF, OTHER_ADMIN, AN_OPERATOR, A_VIEWER, A_SUPERUSER)
FLIP_SUPERUSER, FLIP_STAFF = "flip is_superuser", "flip is_staff"
ADD_ADMIN, ADD_OPERATOR, ADD_VIEWER = "add admin group", "add operator group", "add viewer group"
REMOVE_GROUPS, GRANT_PERMISSION = "remove groups", "grant a user permission"
CHANGES = (FLIP_SUPERUSER, FLIP_STAFF, ADD_ADMIN, ADD_OPERATOR, ADD_VIEWER, REMOVE_GROUPS, GRANT_PERMISSION)
# A permission no role holds: with it an admin could edit groups' permissions.
GRANTED = ("auth", "change_group")

State = tuple[bool, bool, tuple[str, ...], tuple[str, ...]]


def allowed(actor: str, target: str, change: str) -> bool:
    """The policy, written out: what each actor may do to each target."""
    if actor == SUPERUSER:
        return True
    if actor != ADMIN or target in (SELF, A_SUPERUSER):
        return False
    if change in (ADD_OPERATOR, ADD_VIEWER):
        return True
    # Clearing the groups of another admin would remove the admin role.
    return change == REMOVE_GROUPS and target != OTHER_ADMIN


def _user(username: str, *groups: str, staff: bool = False, superuser: bool = False) -> User:
    user = User.objects.create_user(username, is_staff=staff or superuser, is_superuser=superuser)
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def cast(db: None) -> dict[str, User]:
    """One user per target besides the actor; the superuser also holds the admin role (as `make run`)."""
    return {
        OTHER_ADMIN: _user("other-admin", ADMIN, staff=True),
        AN_OPERATOR: _user("an-operator", OPERATOR),
        A_VIEWER: _user("a-viewer", VIEWER),
        A_SUPERUSER: _user("root", ADMIN, superuser=True),
    }


def make_actor(actor: str) -> User:
    """The acting user; every non-superuser is staff, the worst case (staff reaches /admin/)."""
    if actor == SUPERUSER:
        return _user("actor", ADMIN, superuser=True)
    return _user("actor", actor, staff=True)


def state(user: User) -> State:
    user = User.objects.get(pk=user.pk)
    groups = tuple(sorted(user.groups.values_list("name", flat=True)))
    perms = tuple(sorted(user.user_permissions.values_list("codename", flat=True)))
    return user.is_superuser, user.is_staff, groups, perms


def wanted(before: State, change: str) -> State:
    superuser, staff, groups, perms = before
    if change == FLIP_SUPERUSER:
        return not superuser, staff, groups, perms
    if change == FLIP_STAFF:
        return superuser, not staff, groups, perms
    if change == REMOVE_GROUPS:
        return superuser, staff, (), perms
    if change == GRANT_PERMISSION:
        return superuser, staff, groups, tuple(sorted({*perms, GRANTED[1]}))
    role = {ADD_ADMIN: ADMIN, ADD_OPERATOR: OPERATOR, ADD_VIEWER: VIEWER}[change]
    return superuser, staff, tuple(sorted({*groups, role})), perms


def _ids(names: tuple[str, ...]) -> list[str]:
    return [str(pk) for pk in Group.objects.filter(name__in=names).values_list("pk", flat=True)]


def _permission_ids(codenames: tuple[str, ...]) -> list[str]:
    found = Permission.objects.filter(content_type__app_label=GRANTED[0], codename__in=codenames)
    return [str(pk) for pk in found.values_list("pk", flat=True)]


def change_form(actor: User, target: User, goal: State) -> dict[str, Any]:
    """What the actor's change form sends for ``target`` with ``goal`` typed in.

    Fields the actor's form does not show are sent only when the goal changes them: that is the
    forgery. A checkbox is unticked by "false" (an absent checkbox would mean "unchanged" for a
    field the form does not have).
    """
    current = state(target)
    data: dict[str, Any] = {
        "username": target.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": target.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": target.date_joined.strftime("%H:%M:%S"),
    }
    full_form = actor.is_superuser
    for index, name in enumerate(("is_superuser", "is_staff")):
        if full_form or goal[index] != current[index]:
            data[name] = "on" if goal[index] else "false"
    if full_form or actor.pk != target.pk:
        data["groups"] = _ids(goal[2])
    elif goal[2] != current[2]:
        data["groups"] = _ids(goal[2]) or ""  # an empty selection would send no key at all
    if full_form or goal[3] != current[3]:
        data["user_permissions"] = _permission_ids(goal[3])
    return data


def _refused(response: Any) -> bool:
    """A 403, or the form again with an error (a saved form redirects)."""
    if response.status_code == 403:
        return True
    context = response.context
    return response.status_code == 200 and context is not None and bool(context["adminform"].form.errors)


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", ACTORS)
def test_it_changes_a_user_only_as_the_policy_allows(cast, actor, target, change) -> None:
    acting = make_actor(actor)
    user = acting if target == SELF else cast[target]
    before = state(user)
    goal = wanted(before, change)
    response = client_for(acting).post(f"/admin/auth/user/{user.pk}/change/", change_form(acting, user, goal))
    expected = goal if allowed(actor, target, change) else before
    assert state(user) == expected, f"{actor} → {target}: {change} ({response.status_code})"
    if goal != before and not allowed(actor, target, change):
        assert _refused(response), response.status_code
    if goal != before and allowed(actor, target, change):
        assert response.status_code == 302


FORGED_ON_ADD = {
    "nothing": {},
    "is_superuser": {"is_superuser": "on"},
    "is_staff": {"is_staff": "on"},
    "groups": {"groups": "admin"},
    "user_permissions": {"user_permissions": "grant"},
}


@pytest.mark.parametrize("forged", FORGED_ON_ADD)
@pytest.mark.parametrize("actor", ACTORS)
def test_it_creates_users_without_privileges_unless_a_superuser_grants_them_later(
    cast, actor, forged
) -> None:
    data: dict[str, Any] = {
        "username": "newcomer",
        "usable_password": "true",
        "password1": "a-long-enough-password-for-tests-123",
        "password2": "a-long-enough-password-for-tests-123",
    }
    extra = FORGED_ON_ADD[forged]
    if "groups" in extra:
        data["groups"] = _ids((ADMIN,))
    elif "user_permissions" in extra:
        data["user_permissions"] = _permission_ids((GRANTED[1],))
    else:
        data.update(extra)
    client_for(make_actor(actor)).post("/admin/auth/user/add/", data)
    created = User.objects.filter(username="newcomer").first()
    # The add form of Django has none of these fields: nobody, a superuser included, sets them there.
    if created is not None:
        assert state(created) == (False, False, (), ())
    # A superuser's forged fields are ignored; an admin's refused; the others may not add users.
    assert (created is not None) == (actor == SUPERUSER or (actor == ADMIN and forged == "nothing"))


@pytest.mark.parametrize("group", [VIEWER, OPERATOR, ADMIN])
@pytest.mark.parametrize("actor", ACTORS)
def test_it_lets_only_a_superuser_edit_the_permissions_of_a_group(cast, actor, group) -> None:
    role = Group.objects.get(name=group)
    before = set(role.permissions.values_list("pk", flat=True))
    everything = [str(pk) for pk in Permission.objects.values_list("pk", flat=True)]
    client = client_for(make_actor(actor))
    response = client.post(f"/admin/auth/group/{role.pk}/change/", {"name": group, "permissions": everything})
    after = set(role.permissions.values_list("pk", flat=True))
    assert after == ({int(pk) for pk in everything} if actor == SUPERUSER else before)
    if actor != SUPERUSER:
        assert response.status_code == 403
    added = client.post("/admin/auth/group/add/", {"name": "escalated", "permissions": everything})
    assert Group.objects.filter(name="escalated").exists() == (actor == SUPERUSER), added.status_code


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", [SUPERUSER, ADMIN])
def test_it_lets_an_admin_delete_only_users_without_staff_superuser_or_admin_role(
    cast, actor, target
) -> None:
    acting = make_actor(actor)
    user = acting if target == SELF else cast[target]
    client_for(acting).post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    may = actor == SUPERUSER or target in (AN_OPERATOR, A_VIEWER)
    assert User.objects.filter(pk=user.pk).exists() != may


def test_it_lets_nobody_but_a_superuser_delete_privileged_users_in_bulk(cast) -> None:
    ids = [str(user.pk) for user in cast.values()]
    client_for(make_actor(ADMIN)).post(
        "/admin/auth/user/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
    )
    assert User.objects.filter(pk__in=ids).count() == len(ids)


@pytest.mark.parametrize(("target", "expected"), [(A_SUPERUSER, 403), (A_VIEWER, 302)])
def test_it_lets_an_admin_set_passwords_but_never_a_superusers(cast, target, expected) -> None:
    user = cast[target]
    new = "another-long-enough-password-456"
    response = client_for(make_actor(ADMIN)).post(
        f"/admin/auth/user/{user.pk}/password/",
        {"usable_password": "true", "password1": new, "password2": new},
    )
    assert response.status_code == expected
    assert User.objects.get(pk=user.pk).check_password(new) == (expected == 302)


@pytest.mark.parametrize(("target", "shows_groups"), [(SELF, False), (A_VIEWER, True)])
def test_it_shows_an_admin_a_form_without_the_privileged_fields(cast, target, shows_groups) -> None:
    acting = make_actor(ADMIN)
    user = acting if target == SELF else cast[target]
    form = client_for(acting).get(f"/admin/auth/user/{user.pk}/change/").context["adminform"].form
    assert not {"is_superuser", "is_staff", "user_permissions"} & set(form.fields)
    assert ("groups" in form.fields) == shows_groups


def test_it_saves_an_unchanged_form_of_an_admin_as_rendered(cast) -> None:
    """The legitimate form of an admin, submitted as is, is not mistaken for a forgery."""
    acting = make_actor(ADMIN)
    for user in (acting, cast[OTHER_ADMIN], cast[A_VIEWER]):
        before = state(user)
        response = client_for(acting).post(
            f"/admin/auth/user/{user.pk}/change/", change_form(acting, user, before)
        )
        assert response.status_code == 302, user.username
        assert state(user) == before


def test_a_superuser_still_sees_the_whole_form(cast) -> None:
    client: Client = client_for(make_actor(SUPERUSER))
    form = client.get(f"/admin/auth/user/{cast[A_VIEWER].pk}/change/").context["adminform"].form
    assert {"is_superuser", "is_staff", "groups", "user_permissions"} <= set(form.fields)


def test_it_refuses_at_save_time_what_a_form_let_through(cast) -> None:
    """The second line of defence: saving judges the stored row, whatever form was validated."""
    model_admin = admin.site.get_model_admin(User)
    request = RequestFactory().post("/admin/auth/user/")
    request.user = make_actor(ADMIN)
    viewer = User.objects.get(pk=cast[A_VIEWER].pk)
    viewer.is_superuser = True
    with pytest.raises(PermissionDenied):
        model_admin.save_model(request, viewer, form=None, change=True)

    class Form:
        instance = cast[A_VIEWER]
        cleaned_data = {"groups": Group.objects.filter(name=ADMIN)}

    with pytest.raises(PermissionDenied):
        model_admin.save_related(request, Form(), formsets=[], change=True)
    assert state(cast[A_VIEWER]) == (False, False, (VIEWER,), ())


def test_it_still_shows_an_admin_every_user_and_group_page(cast) -> None:
    client = client_for(make_actor(ADMIN))
    role = Group.objects.get(name=OPERATOR)
    for url in (
        "/admin/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        f"/admin/auth/user/{cast[A_VIEWER].pk}/change/",
        f"/admin/auth/user/{cast[A_SUPERUSER].pk}/change/",  # read-only
        "/admin/auth/group/",
        f"/admin/auth/group/{role.pk}/change/",  # read-only
    ):
        assert client.get(url).status_code == 200, url
