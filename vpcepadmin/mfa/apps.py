from __future__ import annotations

from django.apps import AppConfig


class MfaConfig(AppConfig):
    """The second factor: authenticator apps, recovery codes, step-up checks."""

    name = "vpcepadmin.mfa"
    label = "mfa"
    verbose_name = "Second factor"

    def ready(self) -> None:
        from vpcepadmin.mfa import checks  # noqa: F401  (registers the system checks)
