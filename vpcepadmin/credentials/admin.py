from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from vpcepadmin.credentials.models import CloudCredential


@admin.register(CloudCredential)
class CloudCredentialAdmin(admin.ModelAdmin[CloudCredential]):
    """Read-only here: accounts are managed on the dashboard's own pages (secrets, audit)."""

    list_display = ("name", "environment", "cloud", "region", "project_id", "auth_method", "last_success_at")
    fields = ("name", "environment", "cloud", "region", "project_id", "auth_method", "last_success_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CloudCredential | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CloudCredential | None = None) -> bool:
        return False
