"""Values every template may use."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {
        "simulator_enabled": settings.SIMULATOR_ENABLED,
        "request_id": getattr(request, "request_id", ""),
    }
