"""Field-level differences between two snapshots of an endpoint service; port mappings as a set diff.

Used by the review step before a change, by the audit detail page and by the one-line summaries.
Which fields exist, their labels and how they compare come from ``cloud.editable`` alone.

The port mappings of a service come back in record after record of the audit log (every change,
every verification of the chain compares them), up to 200 at a time, so the set diff works on
``(client_port, server_port, protocol)`` triples read straight from the items where the list is
plain API JSON (dicts with two integer ports and a protocol), and on ``PortMapping.parse`` of
each item otherwise; ``PortMapping``s are made only when a page shows them. The result is
exactly ``cloud.editable``'s (``port_set``: a set of ``PortMapping.parse``d items, in the dataclass
order — the order of the triples).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from typing import Any

from vpcepadmin.cloud.editable import EDITABLE_FIELDS, Kind
from vpcepadmin.cloud.types import PortMapping

Triple = tuple[int, int, str]


@dataclass(frozen=True)
class PortsDiff:
    """Added, removed and unchanged mappings, each sorted; kept as triples (``*_triples``)."""

    added_triples: tuple[Triple, ...] = ()
    removed_triples: tuple[Triple, ...] = ()
    unchanged_triples: tuple[Triple, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added_triples or self.removed_triples)

    @cached_property
    def added(self) -> list[PortMapping]:
        return [PortMapping(*triple) for triple in self.added_triples]

    @cached_property
    def removed(self) -> list[PortMapping]:
        return [PortMapping(*triple) for triple in self.removed_triples]

    @cached_property
    def unchanged(self) -> list[PortMapping]:
        return [PortMapping(*triple) for triple in self.unchanged_triples]


@dataclass(frozen=True)
class FieldChange:
    name: str
    label: str
    before: Any
    after: Any
    ports: PortsDiff | None = None


def port_triples(value: Any) -> set[Triple]:
    """``{(m.client_port, m.server_port, m.protocol) for m in cloud.editable.port_set(value)}``."""
    if not isinstance(value, list | tuple):
        return set()
    found = api_triples(value)
    return found if found is not None else _parsed_triples(value)


def api_triples(value: list[Any] | tuple[Any, ...]) -> set[Triple] | None:
    """The mappings of ``value`` when it is plain API JSON — dicts with integer ports (not bool)
    and a protocol named, which ``PortMapping.parse`` and ``PortMapping.from_api`` keep exactly as
    they are — else None. (Checked a column at a time, in C: a list of 200 is read in every diff.)"""
    if len(value) < _SHORT:
        return _few_triples(value)
    if set(map(type, value)) != _DICT:
        return None
    try:
        rows = list(map(_MAPPING, value))
    except KeyError:
        return None
    clients, servers, protocols = zip(*rows, strict=True)
    if (
        set(map(type, clients)) != _INT
        or set(map(type, servers)) != _INT
        or set(map(type, protocols)) != _STR
    ):
        return None
    if "" in protocols:
        return None
    return set(rows)


def _few_triples(value: list[Any] | tuple[Any, ...]) -> set[Triple] | None:
    """``api_triples`` of a short list, an item at a time (quicker than by column below ``_SHORT``)."""
    found: set[Triple] = set()
    for item in value:
        if type(item) is not dict:
            return None
        client, server, protocol = item.get("client_port"), item.get("server_port"), item.get("protocol")
        if type(client) is not int or type(server) is not int or type(protocol) is not str or not protocol:
            return None
        found.add((client, server, protocol))
    return found


_SHORT = 16
_MAPPING = itemgetter("client_port", "server_port", "protocol")
_DICT, _INT, _STR = {dict}, {int}, {str}


def _parsed_triples(value: list[Any] | tuple[Any, ...]) -> set[Triple]:
    mappings = (item if isinstance(item, PortMapping) else PortMapping.parse(item) for item in value)
    return {(m.client_port, m.server_port, m.protocol) for m in mappings if m is not None}


def ports_diff(before: Any, after: Any) -> PortsDiff:
    old, new = port_triples(before), port_triples(after)
    return PortsDiff(tuple(sorted(new - old)), tuple(sorted(old - new)), tuple(sorted(old & new)))


def service_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[FieldChange]:
    """The changed editable fields. A field missing from ``after`` is unchanged (a partial PUT)."""
    before, after = before or {}, after or {}
    changes = []
    for editable in EDITABLE_FIELDS:
        name = editable.name
        if name not in after:
            continue
        ports = None
        if editable.kind is Kind.PORTS:
            # ``editable.same`` for ports is "the same set": nothing added and nothing removed.
            ports = ports_diff(before.get(name), after[name])
            if not ports.changed:
                continue
        elif editable.same(before.get(name), after[name]):
            continue
        changes.append(FieldChange(name, editable.label, before.get(name), after[name], ports))
    return changes


def summary(changes: list[FieldChange]) -> str:
    """One line: ``name a → b; ports +2 −1; approval on → off``."""
    parts = []
    for change in changes:
        if change.ports is not None:
            parts.append(ports_summary(len(change.ports.added_triples), len(change.ports.removed_triples)))
        elif isinstance(change.after, bool):
            parts.append(f"{change.label.lower()} {_onoff(change.before)} → {_onoff(change.after)}")
        else:
            parts.append(f"{change.label.lower()} “{_text(change.before)}” → “{_text(change.after)}”")
    return "; ".join(parts)


def ports_summary(added: int, removed: int) -> str:
    """The part of ``summary`` about the port mappings."""
    return f"port mappings +{added} −{removed}"


def _onoff(value: Any) -> str:
    return "on" if value else "off"


def _text(value: Any, limit: int = 40) -> str:
    """The value shortened; a list or dict as JSON with sorted keys, so that the summary does not
    depend on the order its keys had when written (stored JSON keeps them sorted: ``CanonicalJSONField``)."""
    if value is None:
        text = ""
    elif isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
