"""The editable endpoint service, declared once (style.md rule 9).

``EDITABLE_FIELDS`` names every field an operator may change, its label, its kind and how it is
read from the typed service. Everything else is derived from it: the edit form's field list, the
fingerprint that detects conflicts, the review and audit diffs, the PUT body (``ServiceChanges``)
and the audit summary. Forgetting a field in one place is therefore impossible: there is one place.

Values travel as the API spells them (``editable_values``): scalars, and ``ports`` as a list of
``{"client_port", "server_port", "protocol"}`` objects, so they can be signed into the form and
kept in the audit log as JSON. Port mappings compare as sets of ``PortMapping`` (their order carries
no meaning), blank text equals a missing value (the cloud omits ``description`` and ``tcp_proxy``
in places), and a value the dashboard does not know (a protocol or ``tcp_proxy`` outside the form's
choices) is kept exactly as the cloud reported it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vpcepadmin.cloud.types import EndpointService, PortMapping

# NOTE: the cloud refuses to modify a service in any other state (EndPoint.3045, vpcep-api.md §5).
EDITABLE_STATUS = "available"


def edit_refusal(status: str) -> str:
    """Why a service in ``status`` cannot be edited, or "" when it can. The one rule; pages mirror it."""
    if status == EDITABLE_STATUS:
        return ""
    return (
        f"This service is {status or 'in an unknown state'}; it can be edited when it is {EDITABLE_STATUS}."
    )


class Kind(StrEnum):
    TEXT = "text"
    FLAG = "flag"
    CHOICE = "choice"
    PORTS = "ports"


@dataclass(frozen=True)
class EditableField:
    """One field an operator may change. ``vip_only``: shown and sent for VIP backends only."""

    name: str
    label: str
    kind: Kind
    read: Callable[[EndpointService], Any]
    vip_only: bool = False

    def same(self, a: Any, b: Any) -> bool:
        """Whether two values of this field mean the same to the cloud."""
        if self.kind is Kind.PORTS:
            return set(port_list(a)) == set(port_list(b))  # the order never matters
        if self.kind is Kind.FLAG:
            return bool(a) == bool(b)
        return (a or "") == (b or "")

    def to_api(self, value: Any) -> Any:
        """The value as a PUT body spells it."""
        if self.kind is Kind.PORTS:
            return [mapping.to_api() for mapping in port_list(value)]
        if self.kind is Kind.FLAG:
            return bool(value)
        return value


EDITABLE_FIELDS: tuple[EditableField, ...] = (
    EditableField("service_name", "Service name", Kind.TEXT, lambda s: s.name),
    EditableField("description", "Description", Kind.TEXT, lambda s: s.description or ""),
    EditableField(
        "approval_enabled", "Connection approval required", Kind.FLAG, lambda s: s.approval_enabled
    ),
    EditableField("port_id", "Backend port ID", Kind.TEXT, lambda s: s.port_id),
    EditableField(
        "vip_port_id", "Virtual IP port ID", Kind.TEXT, lambda s: s.vip_port_id or "", vip_only=True
    ),
    EditableField("tcp_proxy", "TCP proxy", Kind.CHOICE, lambda s: s.tcp_proxy or ""),
    EditableField("ports", "Port mappings", Kind.PORTS, lambda s: [mapping.to_api() for mapping in s.ports]),
)
FIELDS = {field.name: field for field in EDITABLE_FIELDS}
NAMES = tuple(FIELDS)
SCALAR_NAMES = tuple(field.name for field in EDITABLE_FIELDS if field.kind is not Kind.PORTS)
LABELS = {field.name: field.label for field in EDITABLE_FIELDS}


def editable_values(service: EndpointService) -> dict[str, Any]:
    """The fields an operator can change, as the API spells them."""
    return {field.name: field.read(service) for field in EDITABLE_FIELDS}


def port_list(value: Any) -> tuple[PortMapping, ...]:
    """Port mappings of a snapshot in their order; items that are not mappings are left out."""
    if not isinstance(value, list | tuple):
        return ()
    parsed = (item if isinstance(item, PortMapping) else PortMapping.parse(item) for item in value)
    return tuple(mapping for mapping in parsed if mapping is not None)


def _order(mapping: PortMapping) -> tuple[int, int, str]:
    return (mapping.client_port, mapping.server_port, mapping.protocol)


def port_set(value: Any) -> tuple[PortMapping, ...]:
    """Port mappings of a snapshot as a sorted set: what a comparison of two lists looks at (the
    order of ``PortMapping``, compared as plain tuples: 200 mappings sort 5× faster)."""
    return tuple(sorted(set(port_list(value)), key=_order))


def canonical(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` in the form the fingerprint hashes: ports as sorted ``[client, server, protocol]``."""
    shown = {name: values.get(name) for name in NAMES}
    shown["ports"] = [[m.client_port, m.server_port, m.protocol] for m in port_set(values.get("ports"))]
    return shown


def changed_names(original: Mapping[str, Any], requested: Mapping[str, Any]) -> list[str]:
    """The editable fields ``requested`` gives a different value from ``original`` (declaration order)."""
    return [
        name
        for name, field in FIELDS.items()
        if name in requested and not field.same(original.get(name), requested[name])
    ]


class ServiceChanges:
    """The body of a PUT (vpcep-api.md §5): only changed, editable fields; absent means unchanged.

    ``ports``, when given, is the complete new list: the API replaces the whole list. A field the
    dashboard does not know can never be part of a change, so it is never dropped or rewritten.
    """

    __slots__ = ("_values",)

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - set(NAMES)
        if unknown:
            raise TypeError(f"not editable fields: {', '.join(sorted(unknown))}")
        given = {name: value for name, value in values.items() if value is not None}
        if "ports" in given:
            given["ports"] = port_list(given["ports"])
        self._values = given

    @classmethod
    def between(cls, original: Mapping[str, Any], requested: Mapping[str, Any]) -> ServiceChanges:
        """The PUT that takes the service from ``original`` to ``requested``."""
        return cls(**{name: requested[name] for name in changed_names(original, requested)})

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(name for name in NAMES if name in self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServiceChanges) and self.to_api() == other.to_api()

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"ServiceChanges({self.to_api()!r})"

    @property
    def ports(self) -> tuple[PortMapping, ...] | None:
        ports: tuple[PortMapping, ...] | None = self._values.get("ports")
        return ports

    def touches(self, names: Iterable[str]) -> bool:
        return any(name in self._values for name in names)

    def to_api(self) -> dict[str, Any]:
        return {name: FIELDS[name].to_api(self._values[name]) for name in self}

    def is_empty(self) -> bool:
        return not self._values


def merge_onto(
    base: Mapping[str, Any], theirs: Mapping[str, Any], yours: Mapping[str, Any]
) -> dict[str, Any]:
    """After a conflict: the current state (``theirs``) with only the fields the operator changed
    from what they loaded (``base``) taken from ``yours`` — a field somebody else changed and the
    operator did not touch keeps its new value."""
    merged = dict(theirs)
    merged.update({name: yours[name] for name in changed_names(base, yours)})
    return merged
