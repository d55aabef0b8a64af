from __future__ import annotations

from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    """Stored cloud accounts: encrypted secrets, endpoints, roles."""

    name = "vpcepadmin.credentials"
    label = "credentials"
    verbose_name = "Cloud accounts"
