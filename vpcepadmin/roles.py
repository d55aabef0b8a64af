"""The three roles and the permissions behind them (checked on the server for every view).

- viewer: sees accounts, services and the audit log;
- operator: viewer + may modify endpoint services;
- admin: operator + manages stored accounts (and users, through Django's admin).
"""

from __future__ import annotations

from typing import Any

VIEW = "credentials.view_cloudcredential"
MODIFY = "credentials.modify_endpoint_services"
ADD_ACCOUNT = "credentials.add_cloudcredential"
CHANGE_ACCOUNT = "credentials.change_cloudcredential"
DELETE_ACCOUNT = "credentials.delete_cloudcredential"
VIEW_AUDIT = "audit.view_auditrecord"
# Seeing and ending sign-in locks (/lockouts/) is managing users: the admin role, and superusers.
UNLOCK_SIGN_IN = "auth.change_user"
# Resetting another user's second factor (a lost phone) is managing users too.
RESET_SECOND_FACTOR = "auth.change_user"

VIEWER = "viewer"
OPERATOR = "operator"
ADMIN = "admin"

_VIEWER_PERMS = [VIEW, VIEW_AUDIT]
_OPERATOR_PERMS = [*_VIEWER_PERMS, MODIFY]
_ADMIN_PERMS = [
    *_OPERATOR_PERMS,
    ADD_ACCOUNT,
    CHANGE_ACCOUNT,
    DELETE_ACCOUNT,
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.delete_user",
    "auth.view_group",
]
ROLE_PERMISSIONS = {VIEWER: _VIEWER_PERMS, OPERATOR: _OPERATOR_PERMS, ADMIN: _ADMIN_PERMS}


def ensure_roles(group_model: Any, permission_model: Any) -> None:
    """Create the role groups with exactly their permissions (idempotent).

    Takes the model classes so that the data migration can pass its historical models.
    """
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".")
            wanted.append(permission_model.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
