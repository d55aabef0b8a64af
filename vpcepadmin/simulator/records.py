"""The resources the simulated cloud holds: plain dataclasses, no behaviour beyond naming and time.

Timestamps are kept at full precision (so creation order is exact) and shown at second precision,
``YYYY-MM-DDTHH:MM:SSZ`` (vpcep-api.md §0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

API_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> datetime:
    return datetime.now(UTC)


def api_time(moment: datetime) -> str:
    """Second precision, as every VPCEP response shows it."""
    return moment.astimezone(UTC).strftime(API_TIME_FORMAT)


def exact_time(moment: datetime) -> str:
    """Microsecond precision, for the state file (keeps creation order across a save and load)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    """Parse ``...Z`` timestamps with or without fractional seconds; raise ValueError otherwise."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class PortMapping:
    client_port: int
    server_port: int
    protocol: str = "TCP"

    def to_json(self) -> dict[str, object]:
        return {"client_port": self.client_port, "server_port": self.server_port, "protocol": self.protocol}


@dataclass
class Project:
    id: str
    name: str
    domain_id: str
    domain_name: str


@dataclass
class User:
    id: str
    name: str
    password: str
    domain_id: str
    domain_name: str


@dataclass
class AccessKey:
    access: str
    secret: str
    domain_id: str
    domain_name: str


@dataclass
class Token:
    """An IAM token: valid until ``expires_at``, scoped to one project (or none: domain-scoped)."""

    value: str
    user: User
    project: Project | None
    issued_at: datetime
    expires_at: datetime


@dataclass
class Service:
    """An endpoint service. ``status`` is the stored state; ``transition_at`` is when a ``creating``
    service becomes ``available`` or a ``deleting`` one disappears (None: it stays as it is)."""

    id: str
    project_id: str
    name: str
    port_id: str
    vpc_id: str
    server_type: str
    ports: list[PortMapping]
    created_at: datetime
    updated_at: datetime
    approval_enabled: bool = True
    description: str = ""
    tcp_proxy: str = "close"
    service_type: str = "interface"
    pool_id: str = ""
    enable_policy: bool = False
    tags: list[dict[str, str]] = field(default_factory=list)
    status: str = "available"
    transition_at: datetime | None = None
    error: list[dict[str, str]] = field(default_factory=list)

    def full_name(self, region: str) -> str:
        # NOTE: the stored name is "{region}.{name}.{id}", or "{region}.{id}" without a name (§1).
        return f"{region}.{self.name}.{self.id}" if self.name else f"{region}.{self.id}"


@dataclass
class Connection:
    """A VPC endpoint (consumer side) connected to a service, as its owner sees it (§7.1)."""

    id: str
    service_id: str
    domain_id: str
    status: str
    marker_id: int
    created_at: datetime
    updated_at: datetime
    description: str = ""
    project_id: str = ""
    error: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Permission:
    """One whitelist record of a service (§7.2)."""

    id: str
    service_id: str
    permission: str
    created_at: datetime
    permission_type: str = "domainId"
    description: str = ""


@dataclass
class Timings:
    """How long the asynchronous transitions take (seconds)."""

    creating_seconds: float = 3.0
    deleting_seconds: float = 3.0


DEFAULT_QUOTAS = {"endpoint_service": 20, "endpoint": 50}


@dataclass
class World:
    """Everything the simulated cloud persists (tokens, the journal and faults are not part of it)."""

    region: str = "eu-de"
    projects: dict[str, Project] = field(default_factory=dict)
    users: list[User] = field(default_factory=list)
    access_keys: dict[str, AccessKey] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    permissions: dict[str, Permission] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    timings: Timings = field(default_factory=Timings)
    # NOTE: the API docs and the SDK allow TCP only; HWC's 2025 product page and OTC also UDP (§2).
    protocols: tuple[str, ...] = ("TCP",)

    def services_of(self, project_id: str) -> list[Service]:
        return [service for service in self.services.values() if service.project_id == project_id]

    def connections_of(self, service_id: str) -> list[Connection]:
        return [conn for conn in self.connections.values() if conn.service_id == service_id]

    def permissions_of(self, service_id: str) -> list[Permission]:
        return [perm for perm in self.permissions.values() if perm.service_id == service_id]
