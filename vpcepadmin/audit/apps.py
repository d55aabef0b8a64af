from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The audit log: immutable, hash-chained records of every modification attempt."""

    name = "vpcepadmin.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from vpcepadmin.audit import signals

        signals.connect()
