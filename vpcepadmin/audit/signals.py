"""The receivers that turn Django's sign-in and user signals into security events (``security.record``).

Connected once by ``AuditConfig.ready``. A user's changes are compared with the row as it was
before the save, field by field; ``last_login`` (stamped at every sign-in) is not a change anybody
made, and a password is only ever recorded as "changed".
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest

from vpcepadmin.audit import security
from vpcepadmin.audit.models import Action

PRIVILEGE_FIELDS = ("is_superuser", "is_staff")
PROFILE_FIELDS = ("username", "first_name", "last_name", "email", "is_active")
_BEFORE = "_audit_before"
_GROUPS_BEFORE = "_audit_groups_before"


def _username(user: Any) -> str:
    return str(user.get_username()) if user is not None else ""


def signed_in(sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> None:
    security.record(Action.SIGN_IN, username=_username(user), request=request, actor=user)


def signed_out(sender: Any, request: HttpRequest, user: AbstractBaseUser | None, **kwargs: Any) -> None:
    if user is not None:
        security.record(Action.SIGN_OUT, username=_username(user), request=request, actor=user)


def sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """The username tried (whether or not such a user exists) and the address; never the password."""
    tried = str(credentials.get("username") or "")[:150]
    security.record(Action.SIGN_IN_FAILED, username=tried, request=request, after={"username": tried})


def _snapshot(user: Any) -> dict[str, Any]:
    return {name: getattr(user, name) for name in (*PROFILE_FIELDS, *PRIVILEGE_FIELDS)}


def remember_before(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    old = type(instance).objects.filter(pk=instance.pk).first()
    if old is not None:
        setattr(instance, _BEFORE, (_snapshot(old), old.password))


def user_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    username = _username(instance)
    if created:
        security.record(Action.USER_CREATED, username=username, after=_snapshot(instance))
        return
    remembered = instance.__dict__.pop(_BEFORE, None)
    if remembered is None:
        return
    before, old_password = remembered
    after = _snapshot(instance)
    _record_changes(username, before, after, PRIVILEGE_FIELDS, Action.PRIVILEGES_CHANGED)
    _record_changes(username, before, after, PROFILE_FIELDS, Action.USER_CHANGED)
    if instance.password != old_password:
        security.record(Action.PASSWORD_CHANGED, username=username)


def _record_changes(
    username: str, before: dict[str, Any], after: dict[str, Any], fields: tuple[str, ...], action: str
) -> None:
    changed = [name for name in fields if before[name] != after[name]]
    if changed:
        security.record(
            action,
            username=username,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    security.record(Action.USER_DELETED, username=_username(instance), before=_snapshot(instance))


def groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[int] | None, **kwargs: Any
) -> None:
    """Role membership, from either side (``user.groups.add`` or ``group.user_set.add``)."""
    users = [instance] if not reverse else list(get_user_model().objects.filter(pk__in=pk_set or ()))
    if reverse and action == "pre_clear":
        users = list(instance.user_set.all())
    elif reverse and action == "post_clear":
        remembered = instance.__dict__.get(_GROUPS_BEFORE, {})
        users = list(get_user_model().objects.filter(pk__in=list(remembered)))
    for user in users:
        if action.startswith("pre_"):
            setattr(user, _GROUPS_BEFORE, _group_names(user))
            if reverse:
                instance.__dict__.setdefault(_GROUPS_BEFORE, {})[user.pk] = _group_names(user)
        elif action in ("post_add", "post_remove", "post_clear"):
            before = _before_groups(instance, user, reverse)
            after = _group_names(user)
            if before != after:
                security.record(
                    Action.ROLES_CHANGED,
                    username=_username(user),
                    before={"roles": before},
                    after={"roles": after},
                )


def _group_names(user: Any) -> list[str]:
    return sorted(Group.objects.filter(user=user).values_list("name", flat=True))


def _before_groups(instance: Any, user: Any, reverse: bool) -> list[str]:
    if reverse:
        remembered: dict[int, list[str]] = instance.__dict__.get(_GROUPS_BEFORE, {})
        return remembered.pop(user.pk, [])
    before: list[str] = user.__dict__.pop(_GROUPS_BEFORE, [])
    return before


def connect() -> None:
    user_model = get_user_model()
    user_logged_in.connect(signed_in, dispatch_uid="audit.signed_in")
    user_logged_out.connect(signed_out, dispatch_uid="audit.signed_out")
    user_login_failed.connect(sign_in_failed, dispatch_uid="audit.sign_in_failed")
    pre_save.connect(remember_before, sender=user_model, dispatch_uid="audit.user_before")
    post_save.connect(user_saved, sender=user_model, dispatch_uid="audit.user_saved")
    post_delete.connect(user_deleted, sender=user_model, dispatch_uid="audit.user_deleted")
    m2m_changed.connect(groups_changed, sender=user_model.groups.through, dispatch_uid="audit.groups")
