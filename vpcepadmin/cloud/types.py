"""Typed, frozen views of the API's JSON (vpcep-api.md §1, §7).

Parsers are tolerant: fields that vary by cloud and doc version are optional, unknown fields are
ignored, and a malformed item raises ``ValueError`` (the transport turns that into a cloud error).

``EndpointService.from_api`` and ``port_mappings`` take a fast path for well-formed JSON (plain
dicts, lists and values of the documented types): the objects are made without their dataclass
``__init__`` (``_made``) from values checked once. Anything odd takes the careful path (``checked``),
which gives the same object or raises the same error; tests compare the two paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from vpcepadmin.cloud.whitelist import permission_type_of

DEFAULT_PROTOCOL = "TCP"
T = TypeVar("T")


# Recently parsed timestamps (a datetime is immutable, so one may be shared); cleared when full.
_TIMESTAMPS: dict[str, datetime | None] = {}
_TIMESTAMPS_MAX = 4096


def parse_timestamp(value: object) -> datetime | None:
    """``2018-01-30T07:42:01Z`` (second precision; IAM adds microseconds) → aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return _TIMESTAMPS[value]
    except KeyError:
        pass
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None and not parsed.tzinfo:
        parsed = parsed.replace(tzinfo=UTC)
    if len(_TIMESTAMPS) >= _TIMESTAMPS_MAX:
        _TIMESTAMPS.clear()
    _TIMESTAMPS[value] = parsed
    return parsed


def format_timestamp(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _require_int(data: Mapping[str, Any], key: str) -> int:
    value = _opt_int(data, key)
    if value is None:
        raise ValueError(f"{key} is not an integer")
    return value


def _port_number(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


_new = object.__new__
_set = object.__setattr__


def _made(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of the frozen dataclass ``cls`` whose attributes are ``values`` (a new dict, which
    it keeps), made without its ``__init__``.

    Only for values that are exactly what ``__init__`` would store, with every field given (in field
    order) and for classes without ``__post_init__``; equal, hashing and printing alike as one
    made by ``__init__`` (tests compare the two).
    """
    made = _new(cls)
    _set(made, "__dict__", values)
    return made


@dataclass(frozen=True, order=True)
class PortMapping:
    """One port mapping: the endpoint's ``client_port`` forwards to the backend's ``server_port``."""

    client_port: int
    server_port: int
    protocol: str = DEFAULT_PROTOCOL

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PortMapping:
        protocol = data.get("protocol") or DEFAULT_PROTOCOL
        return cls(_require_int(data, "client_port"), _require_int(data, "server_port"), str(protocol))

    @classmethod
    def parse(cls, item: object) -> PortMapping | None:
        """A mapping from a stored snapshot (API JSON or a form's strings), or None when it is not one."""
        if type(item) is dict:  # the fast path of port_mappings: the same mapping, shared
            client, server, protocol = item.get("client_port"), item.get("server_port"), item.get("protocol")
            if type(client) is int and type(server) is int and type(protocol) is str and protocol:
                return _known_mapping(client, server, protocol)
        if not isinstance(item, Mapping):
            return None
        ports = [_port_number(item.get(key)) for key in ("client_port", "server_port")]
        if ports[0] is None or ports[1] is None:
            return None
        return cls(ports[0], ports[1], str(item.get("protocol") or DEFAULT_PROTOCOL))

    def to_api(self) -> dict[str, Any]:
        return {"client_port": self.client_port, "server_port": self.server_port, "protocol": self.protocol}

    def __str__(self) -> str:
        return f"{self.client_port}→{self.server_port}/{self.protocol}"


# Port mappings already made, by (client_port, server_port, protocol): immutable, so shared by every
# service that has one; the same mappings come back with every read of a service. Cleared when full.
_MAPPINGS: dict[tuple[int, int, str], PortMapping] = {}
_MAPPINGS_MAX = 16384


def _known_mapping(client: int, server: int, protocol: str) -> PortMapping:
    """The shared ``PortMapping(client, server, protocol)`` (made once, without ``__init__``)."""
    key = (client, server, protocol)
    mapping = _MAPPINGS.get(key)
    if mapping is None:
        mapping = _made(PortMapping, {"client_port": client, "server_port": server, "protocol": protocol})
        if len(_MAPPINGS) >= _MAPPINGS_MAX:
            _MAPPINGS.clear()
        _MAPPINGS[key] = mapping
    return mapping


def port_mappings(items: list[Any]) -> tuple[PortMapping, ...]:
    """``tuple(PortMapping.from_api(item) for item in items)``, with a fast path for each item that
    is a plain dict with integer ports and a non-empty protocol text."""
    made = []
    known = _MAPPINGS
    for item in items:
        if type(item) is dict:
            client, server = item.get("client_port"), item.get("server_port")
            protocol = item.get("protocol")
            if type(client) is int and type(server) is int and type(protocol) is str and protocol:
                mapping = known.get((client, server, protocol))
                made.append(mapping if mapping is not None else _known_mapping(client, server, protocol))
                continue
        made.append(PortMapping.from_api(item))
    return tuple(made)


@dataclass(frozen=True)
class Tag:
    key: str
    value: str = ""


@dataclass(frozen=True)
class ResourceError:
    """Why a service is ``failed``: both documented shapes are accepted (vpcep-api.md §1)."""

    code: str
    message: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ResourceError:
        code = _str(data, "error_code") or _str(data, "code")
        return cls(code, _str(data, "error_message") or _str(data, "message"))


def short_name(full_name: str, service_id: str) -> str:
    """The operator's name inside the stored ``{region}.{name}.{id}`` (or ``{region}.{id}``)."""
    if service_id and full_name.endswith("." + service_id):
        prefix = full_name[: -len(service_id) - 1]
        _region, _, name = prefix.partition(".")
        return name
    parts = full_name.split(".")
    # NOTE: like the Terraform providers, take the middle part of a three-part name (vpcep-api.md §1).
    return parts[1] if len(parts) == 3 else full_name


@dataclass(frozen=True)
class EndpointService:
    """A VPC endpoint service as the cloud reports it.

    ``name`` is the operator's short name; ``full_name`` the stored ``{region}.{name}.{id}``.
    """

    id: str
    full_name: str
    name: str
    status: str
    server_type: str
    port_id: str
    vpc_id: str
    approval_enabled: bool
    ports: tuple[PortMapping, ...]
    service_type: str = "interface"
    project_id: str = ""
    description: str | None = None
    tcp_proxy: str | None = None
    vip_port_id: str | None = None
    pool_id: str | None = None
    domain_id: str | None = None
    connection_count: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    tags: tuple[Tag, ...] = ()
    errors: tuple[ResourceError, ...] = ()
    cidr_type: str | None = None
    ip: str | None = None
    enable_policy: bool | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> EndpointService:
        """The service in ``data``: the fast path for a well-formed answer, else ``checked``."""
        if type(data) is dict:
            made = _service_made(data)
            if made is not None:
                return made
        return cls.checked(data)

    @classmethod
    def checked(cls, data: Mapping[str, Any]) -> EndpointService:
        """The careful path: every field checked on its own (the reference for ``from_api``)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise ValueError("an endpoint service needs an id")
        raw_ports = data.get("ports") or []
        raw_tags = data.get("tags") or []
        raw_errors = data.get("error") or []
        if not all(isinstance(item, list) for item in (raw_ports, raw_tags, raw_errors)):
            raise ValueError("ports, tags and error must be lists")
        service_id = data["id"]
        full_name = _str(data, "service_name")
        return cls(
            id=service_id,
            full_name=full_name,
            name=short_name(full_name, service_id),
            status=_str(data, "status"),
            server_type=_str(data, "server_type"),
            port_id=_str(data, "port_id"),
            vpc_id=_str(data, "vpc_id"),
            approval_enabled=bool(data.get("approval_enabled", True)),
            ports=tuple(PortMapping.from_api(item) for item in raw_ports),
            service_type=_str(data, "service_type") or "interface",
            project_id=_str(data, "project_id"),
            description=_opt_str(data, "description"),
            tcp_proxy=_opt_str(data, "tcp_proxy"),
            vip_port_id=_opt_str(data, "vip_port_id"),
            pool_id=_opt_str(data, "pool_id"),
            domain_id=_opt_str(data, "domain_id"),
            connection_count=_opt_int(data, "connection_count"),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
            tags=tuple(
                Tag(str(t.get("key", "")), str(t.get("value", ""))) for t in raw_tags if isinstance(t, dict)
            ),
            errors=tuple(ResourceError.from_api(e) for e in raw_errors if isinstance(e, dict)),
            cidr_type=_opt_str(data, "cidr_type"),
            ip=_opt_str(data, "ip"),
            enable_policy=_opt_bool(data, "enable_policy"),
        )

    def to_api(self) -> dict[str, Any]:
        """The service as the API spells it (optional fields only when known)."""
        body: dict[str, Any] = {
            "id": self.id,
            "service_name": self.full_name,
            "status": self.status,
            "server_type": self.server_type,
            "service_type": self.service_type,
            "port_id": self.port_id,
            "vpc_id": self.vpc_id,
            "approval_enabled": self.approval_enabled,
            "ports": [mapping.to_api() for mapping in self.ports],
            "project_id": self.project_id,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "tags": [{"key": tag.key, "value": tag.value} for tag in self.tags],
        }
        optional = {
            "description": self.description,
            "tcp_proxy": self.tcp_proxy,
            "vip_port_id": self.vip_port_id,
            "pool_id": self.pool_id,
            "domain_id": self.domain_id,
            "connection_count": self.connection_count,
            "cidr_type": self.cidr_type,
            "ip": self.ip,
            "enable_policy": self.enable_policy,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        if self.errors:
            body["error"] = [{"error_code": e.code, "error_message": e.message} for e in self.errors]
        return body


def _service_made(data: dict[str, Any]) -> EndpointService | None:
    """``EndpointService.checked(data)`` for a well-formed ``data``, or None when anything is odd:
    an id that is not text, ports, tags or errors that are not lists, a tag that is not a dict
    of texts, or any error at all (a failed service is rare: the careful path reads it)."""
    get = data.get
    service_id = get("id")
    raw_ports, raw_tags = get("ports"), get("tags")
    if (
        type(service_id) is not str
        or get("error")
        or (raw_ports and type(raw_ports) is not list)
        or (raw_tags and type(raw_tags) is not list)
    ):
        return None
    tags = []
    for tag in raw_tags or ():
        if type(tag) is not dict:
            return None
        key, value = tag.get("key", ""), tag.get("value", "")
        if type(key) is not str or type(value) is not str:
            return None
        tags.append(_made(Tag, {"key": key, "value": value}))
    full_name = get("service_name")
    if not isinstance(full_name, str):
        full_name = ""
    status, server_type, port_id = get("status"), get("server_type"), get("port_id")
    vpc_id, service_type, project_id = get("vpc_id"), get("service_type"), get("project_id")
    description, tcp_proxy, vip_port_id = get("description"), get("tcp_proxy"), get("vip_port_id")
    pool_id, domain_id, cidr_type, ip = get("pool_id"), get("domain_id"), get("cidr_type"), get("ip")
    connection_count, enable_policy = get("connection_count"), get("enable_policy")
    return _made(
        EndpointService,
        {
            "id": service_id,
            "full_name": full_name,
            "name": short_name(full_name, service_id),
            "status": status if isinstance(status, str) else "",
            "server_type": server_type if isinstance(server_type, str) else "",
            "port_id": port_id if isinstance(port_id, str) else "",
            "vpc_id": vpc_id if isinstance(vpc_id, str) else "",
            "approval_enabled": bool(get("approval_enabled", True)),
            "ports": port_mappings(raw_ports) if raw_ports else (),
            "service_type": (service_type if isinstance(service_type, str) else "") or "interface",
            "project_id": project_id if isinstance(project_id, str) else "",
            "description": description if isinstance(description, str) else None,
            "tcp_proxy": tcp_proxy if isinstance(tcp_proxy, str) else None,
            "vip_port_id": vip_port_id if isinstance(vip_port_id, str) else None,
            "pool_id": pool_id if isinstance(pool_id, str) else None,
            "domain_id": domain_id if isinstance(domain_id, str) else None,
            "connection_count": (
                connection_count
                if isinstance(connection_count, int) and not isinstance(connection_count, bool)
                else None
            ),
            "created_at": parse_timestamp(get("created_at")),
            "updated_at": parse_timestamp(get("updated_at")),
            "tags": tuple(tags),
            "errors": (),
            "cidr_type": cidr_type if isinstance(cidr_type, str) else None,
            "ip": ip if isinstance(ip, str) else None,
            "enable_policy": enable_policy if isinstance(enable_policy, bool) else None,
        },
    )


@dataclass(frozen=True)
class ServicePage:
    """One page of the list call; ``total_count`` counts every match regardless of paging."""

    services: tuple[EndpointService, ...]
    total_count: int


@dataclass(frozen=True)
class Connection:
    """An endpoint (consumer) connected to a service (vpcep-api.md §7.1)."""

    id: str
    status: str
    marker_id: int | None = None
    domain_id: str = ""
    description: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Connection:
        if not isinstance(data.get("id"), str):
            raise ValueError("a connection needs an id")
        return cls(
            id=data["id"],
            status=_str(data, "status"),
            marker_id=_opt_int(data, "marker_id"),
            domain_id=_str(data, "domain_id"),
            description=_str(data, "description"),
            created_at=parse_timestamp(data.get("created_at")),
            updated_at=parse_timestamp(data.get("updated_at")),
        )

    def to_api(self) -> dict[str, Any]:
        """The connection as the API spells it (``marker_id`` only when known)."""
        body: dict[str, Any] = {"id": self.id}
        if self.marker_id is not None:
            body["marker_id"] = self.marker_id
        body.update(
            created_at=format_timestamp(self.created_at),
            updated_at=format_timestamp(self.updated_at),
            domain_id=self.domain_id,
            status=self.status,
            description=self.description,
        )
        return body


@dataclass(frozen=True)
class ConnectionPage:
    connections: tuple[Connection, ...]
    total_count: int


@dataclass(frozen=True)
class Permission:
    """One whitelist entry of a service (vpcep-api.md §7.2); ``whitelist.describe`` names it.

    ``permission`` is as the API stores it: ``iam:domain::<id>``, ``organizations:orgPath::<path>``
    or ``*``. One careful path only: a whitelist is read a page of at most 500 at a time.
    """

    id: str
    permission: str
    permission_type: str  # "domainId" | "orgPath"
    description: str = ""
    created_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Permission:
        if not isinstance(data, Mapping):
            raise ValueError("a whitelist entry must be an object")
        entry_id, permission = data.get("id"), data.get("permission")
        if not isinstance(entry_id, str) or not isinstance(permission, str):
            raise ValueError("a whitelist entry needs an id and a permission")
        return cls(
            id=entry_id,
            permission=permission,
            permission_type=_str(data, "permission_type") or permission_type_of(permission),
            description=_str(data, "description"),
            created_at=parse_timestamp(data.get("created_at")),
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "permission": self.permission,
            "permission_type": self.permission_type,
            "description": self.description,
            "created_at": format_timestamp(self.created_at),
        }


@dataclass(frozen=True)
class PermissionPage:
    """One page of a whitelist; ``total_count`` counts every match regardless of paging."""

    permissions: tuple[Permission, ...]
    total_count: int


@dataclass(frozen=True)
class Quota:
    """Used and allowed count of one resource type (``endpoint_service`` or ``endpoint``)."""

    type: str
    used: int
    quota: int

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Quota:
        return cls(_str(data, "type"), _require_int(data, "used"), _require_int(data, "quota"))
