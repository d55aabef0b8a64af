"""Field-level differences between two snapshots of an endpoint service; port mappings as a set diff.

Used by the review step before a change, by the audit detail page and by the one-line summaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The fields an operator can change, in display order, with their labels.
EDITABLE_FIELDS = {
    "service_name": "Service name",
    "description": "Description",
    "approval_enabled": "Connection approval required",
    "port_id": "Backend port ID",
    "vip_port_id": "Virtual IP port ID",
    "tcp_proxy": "TCP proxy",
    "ports": "Port mappings",
}

Mapping = tuple[int, int, str]


def _mapping(item: Any) -> Mapping | None:
    if not isinstance(item, dict):
        return None
    try:
        return (int(item["client_port"]), int(item["server_port"]), str(item.get("protocol") or "TCP"))
    except (KeyError, TypeError, ValueError):
        return None


def mappings(value: Any) -> list[Mapping]:
    """Port mappings of a snapshot as sorted tuples (client, server, protocol)."""
    if not isinstance(value, list):
        return []
    return sorted({m for m in (_mapping(item) for item in value) if m is not None})


@dataclass(frozen=True)
class PortsDiff:
    added: list[Mapping] = field(default_factory=list)
    removed: list[Mapping] = field(default_factory=list)
    unchanged: list[Mapping] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    before: Any
    after: Any
    ports: PortsDiff | None = None


def ports_diff(before: Any, after: Any) -> PortsDiff:
    old, new = set(mappings(before)), set(mappings(after))
    return PortsDiff(sorted(new - old), sorted(old - new), sorted(old & new))


def service_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """The changed editable fields. A field missing from ``after`` is unchanged (a partial PUT)."""
    before, after = before or {}, after or {}
    changes = []
    for name, label in EDITABLE_FIELDS.items():
        if name not in after:
            continue
        if name == "ports":
            diff = ports_diff(before.get("ports"), after.get("ports"))
            if diff.changed:
                changes.append(FieldChange(name, label, before.get("ports"), after.get("ports"), diff))
        elif _normal(before.get(name)) != _normal(after.get(name)):
            changes.append(FieldChange(name, label, before.get(name), after.get(name)))
    return changes


def _normal(value: Any) -> Any:
    return "" if value is None else value


def summary(changes: list[FieldChange]) -> str:
    """One line: ``name a → b; ports +2 −1; approval on → off``."""
    parts = []
    for change in changes:
        if change.ports is not None:
            parts.append(f"port mappings +{len(change.ports.added)} −{len(change.ports.removed)}")
        elif isinstance(change.after, bool):
            parts.append(f"{change.label.lower()} {_onoff(change.before)} → {_onoff(change.after)}")
        else:
            parts.append(f"{change.label.lower()} “{_text(change.before)}” → “{_text(change.after)}”")
    return "; ".join(parts)


def _onoff(value: Any) -> str:
    return "on" if value else "off"


def _text(value: Any, limit: int = 40) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
