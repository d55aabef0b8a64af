from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from vpcepadmin.policies.models import PolicyRule


@admin.register(PolicyRule)
class PolicyRuleAdmin(admin.ModelAdmin[PolicyRule]):
    """Read-only here: rules are changed on ``/policies/``, where every change is audited."""

    list_display = ("environment", "rule", "mode", "value", "updated_at", "updated_by_username")
    list_filter = ("environment", "mode")
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PolicyRule | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PolicyRule | None = None) -> bool:
        return False
