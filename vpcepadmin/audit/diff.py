"""Field-level differences between two snapshots of an endpoint service; port mappings as a set diff.

Used by the review step before a change, by the audit detail page and by the one-line summaries.
Which fields exist, their labels and how they compare come from ``cloud.editable`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vpcepadmin.cloud.editable import EDITABLE_FIELDS, Kind, port_set
from vpcepadmin.cloud.types import PortMapping


@dataclass(frozen=True)
class PortsDiff:
    added: list[PortMapping] = field(default_factory=list)
    removed: list[PortMapping] = field(default_factory=list)
    unchanged: list[PortMapping] = field(default_factory=list)

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
    old, new = set(port_set(before)), set(port_set(after))
    return PortsDiff(sorted(new - old), sorted(old - new), sorted(old & new))


def service_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """The changed editable fields. A field missing from ``after`` is unchanged (a partial PUT)."""
    before, after = before or {}, after or {}
    changes = []
    for editable in EDITABLE_FIELDS:
        name = editable.name
        if name not in after or editable.same(before.get(name), after[name]):
            continue
        ports = ports_diff(before.get(name), after[name]) if editable.kind is Kind.PORTS else None
        changes.append(FieldChange(name, editable.label, before.get(name), after[name], ports))
    return changes


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
