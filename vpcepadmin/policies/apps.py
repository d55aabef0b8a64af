from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PoliciesConfig(AppConfig):
    """Policy guardrails: per-environment rules checked before a change is requested or sent."""

    name = "vpcepadmin.policies"
    label = "policies"
    verbose_name = "Policy guardrails"

    def ready(self) -> None:
        # After every migrate — and after a flush, which empties the rows the data migration seeded.
        post_migrate.connect(_ensure_defaults, sender=self, dispatch_uid="vpcepadmin.policies.defaults")


def _ensure_defaults(sender: AppConfig, **kwargs: Any) -> None:
    from django.db import connections

    from vpcepadmin.policies.models import PolicyRule
    from vpcepadmin.policies.services import ensure_defaults

    using = kwargs.get("using", "default")
    if PolicyRule._meta.db_table in connections[using].introspection.table_names():  # not migrated back
        ensure_defaults(using=using)
