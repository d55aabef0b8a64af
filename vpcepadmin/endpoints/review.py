"""The review step: what would change, and the cross-service rule that needs the cloud's state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vpcepadmin.audit.diff import FieldChange, service_diff
from vpcepadmin.cloud.editable import EDITABLE_FIELDS, Kind, ServiceChanges, port_list, port_set
from vpcepadmin.cloud.endpoint_services import endpoint_service_list_all
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure
from vpcepadmin.endpoints.services import ReadProblem
from vpcepadmin.endpoints.versioning import Version
from vpcepadmin.policies.rules import Finding, refusals, service_findings, settings_for


@dataclass(frozen=True)
class Clash:
    """A requested mapping whose server port is already used by another service on the backend port."""

    row: int
    server_port: int
    protocol: str
    other_name: str
    other_id: str

    @property
    def message(self) -> str:
        return (
            f"Server port {self.server_port}/{self.protocol} is already used on this backend port by "
            f"the service “{self.other_name or self.other_id}”."
        )


@dataclass(frozen=True)
class Review:
    changes: ServiceChanges
    diff: list[FieldChange] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)
    problem: ReadProblem | None = None
    findings: list[Finding] = field(default_factory=list)  # what the policies say of it

    @property
    def nothing_changed(self) -> bool:
        return self.changes.is_empty()

    @property
    def forbidden(self) -> list[Finding]:
        return refusals(self.findings)

    @property
    def can_apply(self) -> bool:
        return not self.nothing_changed and not self.clashes and self.problem is None and not self.forbidden


def policy_findings(credential: CloudCredential, version: Version, values: dict[str, Any]) -> list[Finding]:
    """What the policies of the account's environment say of changing the service as loaded to
    ``values`` (the pipeline asks the same again before anything is sent)."""
    return service_findings(settings_for(credential), version.original, values, version.server_type)


def describe_change(version: Version, values: dict[str, Any]) -> Review:
    """The change from the service as loaded to ``values``, without asking the cloud anything."""
    changes = ServiceChanges.between(version.original, values)
    return Review(changes, service_diff(version.original, changes.to_api()) if not changes.is_empty() else [])


def review_change(
    credential: CloudCredential, service_id: str, version: Version, values: dict[str, Any]
) -> Review:
    """``describe_change``, plus — when the backend or the mappings change — the account's other
    services on the same backend port are checked (one list call)."""
    described = describe_change(version, values)
    changes, diff = described.changes, described.diff
    findings = policy_findings(credential, version, values) if not changes.is_empty() else []
    if changes.is_empty() or not changes.touches(("ports", "port_id")):
        return Review(changes, diff, findings=findings)
    try:
        clashes = check_port_clashes(credential, service_id, values["port_id"], values["ports"])
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return Review(changes, diff, problem=ReadProblem.from_error(exc), findings=findings)
    return Review(changes, diff, clashes, findings=findings)


def check_port_clashes(
    credential: CloudCredential, service_id: str, port_id: str, ports: list[dict[str, Any]]
) -> list[Clash]:
    """Services sharing ``port_id`` must not repeat a (server_port, protocol) pair (vpcep-api.md §5)."""
    used: dict[tuple[int, str], tuple[str, str]] = {}
    for other in endpoint_service_list_all(client_for(credential)):
        if other.id == service_id or other.port_id.lower() != port_id.lower():
            continue
        for mapping in other.ports:
            used.setdefault((mapping.server_port, mapping.protocol), (other.name, other.id))
    clashes = []
    for row, requested in enumerate(port_list(ports)):
        key = (requested.server_port, requested.protocol)
        if key in used:
            clashes.append(Clash(row, key[0], key[1], *used[key]))
    return clashes


@dataclass(frozen=True)
class ThreeWayRow:
    label: str
    base: str
    theirs: str
    yours: str

    @property
    def theirs_changed(self) -> bool:
        return self.base != self.theirs


def three_way(base: dict[str, Any], theirs: dict[str, Any], yours: dict[str, Any]) -> list[ThreeWayRow]:
    """Every editable field as loaded, as it is now, and as requested — for the conflict page."""
    return [
        ThreeWayRow(
            field.label,
            _shown(field.kind, base.get(field.name)),
            _shown(field.kind, theirs.get(field.name)),
            _shown(field.kind, yours.get(field.name, base.get(field.name))),
        )
        for field in EDITABLE_FIELDS
    ]


def _shown(kind: Kind, value: Any) -> str:
    if kind is Kind.FLAG:
        return "on" if value else "off"
    if kind is Kind.PORTS:
        return ", ".join(str(mapping) for mapping in port_set(value)) or "(none)"
    return str(value) if value not in (None, "") else "(empty)"
