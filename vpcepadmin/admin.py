"""Users and groups in Django's admin, without privilege escalation (the README's "Roles").

The admin role holds ``auth.change_user`` so that administrators can manage users; Django's own
UserAdmin would then let them make anybody, themselves included, a superuser. Here, on the server:

- only a superuser grants or removes superuser status, staff status, user permissions, the admin
  role (or any group but viewer and operator), and edits groups;
- a non-superuser assigns viewer and operator only, never to itself, never edits, deletes or sets
  the password of a superuser, and deletes only users without staff status and the admin role.

Each rule is checked twice: by the form (a forged field is a form error, nothing is saved) and again
when saving (a 403 that rolls the whole request back), so no view path can skip it.
Django's admin autodiscovery imports this module (``vpcepadmin`` is an installed app).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from vpcepadmin import roles
from vpcepadmin.mfa.models import AuthenticatorDevice

# The roles a non-superuser may grant and remove (never on itself).
ASSIGNABLE_ROLES = frozenset({roles.VIEWER, roles.OPERATOR})
# Fields only a superuser may change.
SUPERUSER_ONLY_FIELDS = ("is_superuser", "is_staff", "user_permissions")


# --- the policy (pure: who may do what to whom) -------------------------------------------------------
def may_edit(actor: User, target: User) -> bool:
    """A non-superuser never changes a superuser's account (fields, roles or password)."""
    return actor.is_superuser or not target.is_superuser


def may_delete(actor: User, target: User) -> bool:
    """Deleting a user also removes its staff status and roles: a non-superuser deletes only users
    without staff status, superuser status and the admin role, and never itself."""
    if actor.is_superuser:
        return True
    privileged = target.is_superuser or target.is_staff or target.groups.filter(name=roles.ADMIN).exists()
    return not privileged and target.pk != actor.pk


def locked_fields(actor: User, target: User | None) -> tuple[str, ...]:
    """The fields ``actor`` may not change on ``target`` (None: a new user): they are read-only in
    the form, and sending them is refused."""
    if actor.is_superuser:
        return ()
    if target is None or target.pk == actor.pk:
        return (*SUPERUSER_ONLY_FIELDS, "groups")  # nobody assigns roles to itself
    return SUPERUSER_ONLY_FIELDS


def role_change_refusal(actor: User, target: User, before: Iterable[str], after: Iterable[str]) -> str | None:
    """Why ``actor`` may not change ``target``'s groups from ``before`` to ``after``; None if it may."""
    changed = set(before) ^ set(after)
    if actor.is_superuser or not changed:
        return None
    if target.pk == actor.pk:
        return "You may not change your own roles."
    if not may_edit(actor, target):
        return "Only a superuser may change a superuser."
    if changed - ASSIGNABLE_ROLES:
        return "Only a superuser may grant or remove the admin role (or any group but viewer and operator)."
    return None


def status_change_refusal(actor: User, stored: User | None, saved: User) -> str | None:
    """Why ``actor`` may not save ``saved`` over ``stored`` (None: a new user); None if it may."""
    if actor.is_superuser:
        return None
    if stored is not None and not may_edit(actor, stored):
        return "Only a superuser may change a superuser."
    was = (False, False) if stored is None else (stored.is_superuser, stored.is_staff)
    if (saved.is_superuser, saved.is_staff) != was:
        return "Only a superuser may grant or remove superuser or staff status."
    return None


def _group_names(user: User) -> set[str]:
    return set(Group.objects.filter(user=user).values_list("name", flat=True))


def _actor(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) else None


# --- the form: refuses what the policy refuses --------------------------------------------------------
class _GuardedUserForm(forms.ModelForm[User]):
    """Mixed into the admin's user forms; ``actor`` is set per request (``guarded_form``)."""

    actor: User

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        target = self.instance if self.instance.pk else None
        # The form does not show these fields to this actor: only a forged request sends them.
        forged = [name for name in locked_fields(self.actor, target) if name in self.data]
        if forged:
            raise ValidationError(f"You may not change: {', '.join(forged)}.", code="forbidden")
        if target is not None and "groups" in cleaned:
            after = {group.name for group in cleaned["groups"]}
            refusal = role_change_refusal(self.actor, target, _group_names(target), after)
            if refusal:
                self.add_error("groups", refusal)
        return cleaned


def guarded_form(base: type[forms.ModelForm[User]], actor: User) -> type[forms.ModelForm[User]]:
    """``base`` with the policy's checks for ``actor`` added to its validation."""
    form = type(f"Guarded{base.__name__}", (_GuardedUserForm, base), {"actor": actor})
    return cast(type[forms.ModelForm[User]], form)


# --- the admin classes -------------------------------------------------------------------------------
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    """Django's UserAdmin with the policy above enforced in the form and again when saving."""

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> tuple[str, ...]:
        actor = _actor(request)
        locked = locked_fields(actor, obj) if actor is not None else SUPERUSER_ONLY_FIELDS
        shown = ("second_factor",) if obj is not None else ()
        return (*super().get_readonly_fields(request, obj), *locked, *shown)

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [*fieldsets, ("Second factor", {"fields": ("second_factor",)})]

    @admin.display(description="Second factor")
    def second_factor(self, obj: User) -> str:
        """Whether the user has one, and the way to reset it: never a key or a code."""
        enrolled = AuthenticatorDevice.objects.filter(user=obj, confirmed=True).exists()
        status = "an authenticator app is set up" if enrolled else "none set up"
        return format_html('{} · <a href="{}">Reset…</a>', status, reverse("mfa:reset", args=[obj.pk]))

    def get_form(
        self, request: HttpRequest, obj: User | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[User]]:
        actor = _actor(request)
        if actor is None:  # admin views run for signed-in staff only
            raise PermissionDenied
        base = self.add_form if obj is None else self.form
        kwargs["form"] = guarded_form(kwargs.get("form", base), actor)
        return super().get_form(request, obj, change=change, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        actor = _actor(request)
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or (actor is not None and may_edit(actor, obj)))

    def has_delete_permission(self, request: HttpRequest, obj: User | None = None) -> bool:
        actor = _actor(request)
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or (actor is not None and may_delete(actor, obj)))

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: Any) -> None:
        # Again at save time: whatever form reached here, the stored row is the judge.
        actor = _actor(request)
        stored = User.objects.filter(pk=obj.pk).first() if change else None
        if actor is None or status_change_refusal(actor, stored, obj):
            raise PermissionDenied
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: Any) -> None:
        actor = _actor(request)
        if actor is None:
            raise PermissionDenied
        cleaned = form.cleaned_data
        if "user_permissions" in cleaned and not actor.is_superuser:
            raise PermissionDenied
        if "groups" in cleaned:
            after = {group.name for group in cleaned["groups"]}
            before = _group_names(form.instance) if change else set()
            if role_change_refusal(actor, form.instance, before, after):
                raise PermissionDenied
        super().save_related(request, form, formsets, change)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Groups are the roles: whoever edits a group's permissions grants them to all its members, so
    only a superuser adds, changes or deletes a group, whatever permissions a role holds."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Group | None = None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)
