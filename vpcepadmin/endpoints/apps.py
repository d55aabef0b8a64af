from __future__ import annotations

from django.apps import AppConfig


class EndpointsConfig(AppConfig):
    """Endpoint services of each account: list, detail, edit. No models: the data lives in the cloud."""

    name = "vpcepadmin.endpoints"
    label = "endpoints"
    verbose_name = "Endpoint services"
