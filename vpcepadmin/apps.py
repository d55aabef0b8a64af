from __future__ import annotations

from django.apps import AppConfig


class VpcepadminConfig(AppConfig):
    """The project itself: middleware, system checks, health check, sign-in and shared templates."""

    name = "vpcepadmin"
    verbose_name = "vpcepadmin"

    def ready(self) -> None:
        from vpcepadmin import checks, lockout  # noqa: F401  (importing checks registers them)

        lockout.connect()
