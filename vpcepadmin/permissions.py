"""Permissions and role names of the signed-in user from one query per request.

Django's ``ModelBackend`` asks twice for the permissions (the user's own, then its groups') and the
navigation asked a third time for the role names. ``RoleBackend`` reads all three in one query
and caches them on the user object for the request, as ``ModelBackend`` caches its own: the same
answers (tests/test_permissions_backend.py compares them for every role), never older than the
request.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection

CACHE = "_perm_cache"
ROLES = "_role_names"


@cache  # the tables' names never change while the process runs
def _query() -> str:
    user_groups = Group.user_set.through._meta.db_table
    group_permissions = Group.permissions.through._meta.db_table
    user_permissions = Permission.user_set.through._meta.db_table
    # Table names from the models' metadata, never from input; the user id is a parameter.
    return f"""
        SELECT g.name, ct.app_label, p.codename
        FROM {user_groups} ug
        JOIN {Group._meta.db_table} g ON g.id = ug.group_id
        LEFT JOIN {group_permissions} gp ON gp.group_id = g.id
        LEFT JOIN {Permission._meta.db_table} p ON p.id = gp.permission_id
        LEFT JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id
        WHERE ug.user_id = %s
        UNION ALL
        SELECT NULL, ct.app_label, p.codename
        FROM {user_permissions} up
        JOIN {Permission._meta.db_table} p ON p.id = up.permission_id
        JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id
        WHERE up.user_id = %s
    """  # noqa: S608


def _load(user: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_query(), [user.pk, user.pk])
        rows = cursor.fetchall()
    perms = {f"{app}.{codename}" for _, app, codename in rows if codename is not None}
    if user.is_superuser:
        perms = {
            f"{app}.{codename}"
            for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
        }
    setattr(user, CACHE, perms)
    setattr(user, ROLES, sorted({name for name, _, _ in rows if name is not None}))


class RoleBackend(ModelBackend):
    """``ModelBackend`` with ``get_all_permissions`` (what ``has_perm`` asks) read in one query."""

    def get_all_permissions(self, user_obj: Any, obj: object | None = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, CACHE):
            _load(user_obj)
        perms: set[str] = getattr(user_obj, CACHE)
        return perms


def role_names(user: Any) -> list[str]:
    """The names of ``user``'s groups (its roles), from the same query as its permissions."""
    if not getattr(user, "is_authenticated", False):
        return []
    if not hasattr(user, ROLES):
        _load(user)
    names: list[str] = getattr(user, ROLES)
    return names
