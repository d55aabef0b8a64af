from __future__ import annotations

from django.apps import AppConfig


class ChangesConfig(AppConfig):
    """The change pipeline and the observation of the cloud: what the dashboard knows of each target."""

    name = "vpcepadmin.changes"
    label = "changes"
    verbose_name = "Changes and observation"
