"""The lines of the service table, computed once in Python: one URL reverse per page, no filter or
tag per row, and each row's HTML built with ``str.format`` over escaped values — through the
template engine the 25 rows were most of the list page's time (``bench/page_profile.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from vpcepadmin.cloud.types import EndpointService, PortMapping
from vpcepadmin.times import when_html

PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
STATUS_CLASSES = {
    "available": "text-bg-success",
    "creating": "text-bg-info",
    "deleting": "text-bg-warning",
    "failed": "text-bg-danger",
}


def status_class(status: str) -> str:
    return STATUS_CLASSES.get(status, "text-bg-secondary")


def ports_summary(ports: tuple[PortMapping, ...]) -> str:
    """``443→8443 +2``: the first mapping and how many more."""
    if not ports:
        return "none"
    first = ports[0]
    more = f" +{len(ports) - 1}" if len(ports) > 1 else ""
    protocol = "" if first.protocol == "TCP" else f"/{first.protocol}"
    return f"{first.client_port}→{first.server_port}{protocol}{more}"


@dataclass(frozen=True)
class ServiceRow:
    """One service as the table shows it. ``updated_*`` are empty when the cloud gave no time."""

    id: str
    url: str
    name: str
    status: str
    status_class: str
    approval_enabled: bool
    server_type: str
    ports_summary: str
    ports_title: str
    connections: str
    updated: (
        SafeString  # escaped HTML: absolute in UTC with the relative time beside it (``times.when_html``)
    )
    short_id: str

    @property
    def html(self) -> SafeString:
        return row_html(self)


def _short_id(service_id: str) -> str:
    """The first 12 characters and an ellipsis (``truncatechars:13``)."""
    return service_id if len(service_id) <= 13 else service_id[:12] + "…"


def service_rows(
    account_pk: int, services: Iterable[EndpointService], now: datetime | None = None
) -> list[ServiceRow]:
    detail = reverse("endpoints:detail", args=[account_pk, PLACEHOLDER])
    now = now or datetime.now(UTC)
    rows = []
    for service in services:
        updated = service.updated_at.astimezone(UTC) if service.updated_at else None
        rows.append(
            ServiceRow(
                id=service.id,
                url=detail.replace(PLACEHOLDER, quote(service.id, safe="")),
                name=service.name,
                status=service.status,
                status_class=status_class(service.status),
                approval_enabled=service.approval_enabled,
                server_type=service.server_type,
                ports_summary=ports_summary(service.ports),
                ports_title=", ".join(map(str, service.ports)),
                connections="—" if service.connection_count is None else str(service.connection_count),
                updated=when_html(updated, "", now=now),
                short_id=_short_id(service.id),
            )
        )
    return rows


ROW = (
    '<tr><td><a href="{url}">{name}</a></td>'
    '<td><span class="badge {status_class}">{status}</span></td>'
    "<td>{approval}</td><td>{server_type}</td>"
    '<td class="mono" title="{ports_title}">{ports_summary}</td><td>{connections}</td><td>{updated}</td>'
    '<td class="id-cell"><span class="service-id">{short_id}</span>'
    ' <button type="button" class="btn btn-sm btn-link p-0 ms-1" data-copy="{id}" data-js-only hidden'
    ' aria-label="Copy the id of {label}"><span class="copy-label">Copy</span></button></td></tr>'
)


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def row_html(row: ServiceRow) -> SafeString:
    """The table row of ``row``; every value from the cloud is escaped here."""
    html = ROW.format(
        url=_e(row.url),
        name=_e(row.name) if row.name else '<em class="text-muted">(no name)</em>',
        status_class=row.status_class,
        status=_e(row.status),
        approval="required" if row.approval_enabled else '<span class="text-muted">automatic</span>',
        server_type=_e(row.server_type),
        ports_title=_e(row.ports_title),
        ports_summary=_e(row.ports_summary),
        connections=row.connections,
        updated=row.updated,
        short_id=_e(row.short_id),
        id=_e(row.id),
        label=_e(row.name or row.id),
    )
    return mark_safe(html)  # noqa: S308  (every value from the cloud is escaped by _e; ``updated`` by format_html)
