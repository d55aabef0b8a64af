from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from vpcepadmin.audit.models import AuditRecord


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin[AuditRecord]):
    """Read-only: nobody adds, changes or deletes an audit record, not even a superuser."""

    list_display = ["seq", "created_at", "actor_username", "action", "target_name", "outcome"]
    list_filter = ["action", "outcome"]
    search_fields = ["target_name", "target_id", "actor_username", "reason"]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditRecord | None = None) -> bool:
        return False
