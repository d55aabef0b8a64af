"""Template filters for endpoint services (the service table computes the same in Python, per row)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from vpcepadmin.endpoints import port_rows as endpoint_port_rows
from vpcepadmin.endpoints import rows

register = template.Library()

register.filter("ports_summary", rows.ports_summary)
register.filter("status_class", rows.status_class)


@register.simple_tag
def port_rows(formset: Any, action: str, focus_last: bool = False) -> list[SafeString]:
    """``{% port_rows formset action focus_last as rows %}``: the formset's rows as HTML."""
    return endpoint_port_rows.port_rows(formset, action, bool(focus_last))


@register.filter
def field_changes(changes: list[Any]) -> list[Any]:
    """The changes of a diff shown as before / after (every field but the port mappings)."""
    return [change for change in changes if change.ports is None]


@register.filter
def port_changes(changes: list[Any]) -> list[Any]:
    """The port-mapping changes of a diff, shown as a set diff with a table of their own."""
    return [change for change in changes if change.ports is not None]


@register.simple_tag
def port_diff_rows(ports: Any) -> SafeString:
    """``{% port_diff_rows change.ports %}``: the rows of a port-mapping diff."""
    return endpoint_port_rows.diff_rows(ports)


@register.simple_tag
def port_table_rows(ports: Any) -> SafeString:
    """``{% port_table_rows ports %}``: one ``<tr>`` per port mapping."""
    return endpoint_port_rows.table_rows(ports)
