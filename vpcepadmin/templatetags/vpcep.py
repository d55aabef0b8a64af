"""Template filters for endpoint services."""

from __future__ import annotations

from collections.abc import Sequence

from django import template

from vpcepadmin.cloud.types import PortMapping

register = template.Library()

STATUS_CLASSES = {
    "available": "text-bg-success",
    "creating": "text-bg-info",
    "deleting": "text-bg-warning",
    "failed": "text-bg-danger",
}


@register.filter
def ports_summary(ports: Sequence[PortMapping]) -> str:
    """``443→8443 +2``: the first mapping and how many more."""
    if not ports:
        return "none"
    first = ports[0]
    more = f" +{len(ports) - 1}" if len(ports) > 1 else ""
    protocol = "" if first.protocol == "TCP" else f"/{first.protocol}"
    return f"{first.client_port}→{first.server_port}{protocol}{more}"


@register.filter
def status_class(status: str) -> str:
    return STATUS_CLASSES.get(status, "text-bg-secondary")
