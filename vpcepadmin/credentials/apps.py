from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CredentialsConfig(AppConfig):
    """Stored cloud accounts: encrypted secrets, endpoints, roles."""

    name = "vpcepadmin.credentials"
    label = "credentials"
    verbose_name = "Cloud accounts"

    def ready(self) -> None:
        # After every migrate — and after a flush, which empties the groups the data migration made.
        post_migrate.connect(_ensure_roles, dispatch_uid="vpcepadmin.ensure_roles")


def _ensure_roles(sender: AppConfig, **kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    from vpcepadmin.roles import ensure_roles

    using = kwargs.get("using", "default")
    if Permission.objects.using(using).filter(content_type__app_label="audit").exists():
        ensure_roles(Group, Permission)
