"""Seed documents: how the simulated cloud is filled, and how its state file is written.

A seed document is JSON; every key is optional (design.md §5 plus the simulator's extensions)::

    {
      "region": "eu-de",
      "projects": [{"id": "<32 hex>", "name": "eu-de", "domain_id": "<32 hex>",
                    "domain_name": "OTC-EU-DE-demo"}],
      "users": [{"name": "operator", "password": "…", "domain_name": "OTC-EU-DE-demo", "id": "<optional>"}],
      "access_keys": [{"access": "AK…", "secret": "SK…", "domain_name": "OTC-EU-DE-demo"}],
      "endpoint_services": [{
          "project_id": "<32 hex; default: the first project>", "id": "<uuid; default uuid4>",
          "service_name": "<short name, default empty>", "port_id": "<uuid>", "vpc_id": "<uuid>",
          "server_type": "LB", "approval_enabled": true, "description": "", "tcp_proxy": "close",
          "service_type": "interface", "pool_id": "", "enable_policy": false,
          "tags": [{"key": "k", "value": "v"}],
          "ports": [{"client_port": 443, "server_port": 8443, "protocol": "TCP"}],
          "status": "available",                     # creating | available | failed | deleting
          "created_at": "2026-01-01T00:00:00Z",      # default: now
          "updated_at": "…",                         # default: created_at
          "transition_after": 2.5,                   # optional: seconds until creating→available or
          "transition_at": "…Z",                     #   deleting→gone; without either it stays put
          "error": [{"error_code": "…", "error_message": "…"}]   # shown when status is failed
      }],
      "endpoints": [{"id": "<uuid>", "service_id": "<uuid, required>",
                     "domain_id": "<consumer account: any text; default a random 32 hex>",
                     "project_id": "<consumer project, optional>",
                     "status": "pendingAcceptance",  # creating|accepted|rejected|failed|deleting
                     "marker_id": 16777216, "description": "", "created_at": "…", "updated_at": "…",
                     "error": [{"error_code": "…", "error_message": "…"}]}],  # when failed
      "permissions": [{"id": "<uuid>", "service_id": "<uuid, required>", "permission": "iam:domain::<id>",
                       "permission_type": "domainId", "description": "", "created_at": "…"}],
      "quotas": {"endpoint_service": 20, "endpoint": 50},
      "timings": {"creating_seconds": 3, "deleting_seconds": 3}
    }

``dump_world`` writes the same format with every field explicit (timestamps with microseconds), so
a state file is itself a seed document.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from vpcepadmin.simulator.records import (
    AccessKey,
    Connection,
    Permission,
    PortMapping,
    Project,
    Service,
    Timings,
    User,
    World,
    exact_time,
    parse_time,
)

SERVICE_STATUSES = ("creating", "available", "failed", "deleting")
CONNECTION_STATUSES = ("pendingAcceptance", "creating", "accepted", "rejected", "failed", "deleting")
FIRST_MARKER_ID = 16777216


class SeedError(ValueError):
    """The seed document is not usable; the message names the offending key."""


def _get(item: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = item.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise SeedError(f"{key!r} has the wrong type: {value!r}")
    return value


def _time(item: Mapping[str, Any], key: str, default: datetime) -> datetime:
    value = _get(item, key, str, None)
    if value is None:
        return default
    try:
        return parse_time(value)
    except ValueError as exc:
        raise SeedError(f"{key!r} is not a timestamp: {value!r}") from exc


def _items(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = _get(document, key, list, [])
    if not all(isinstance(item, Mapping) for item in items):
        raise SeedError(f"every entry of {key!r} must be an object")
    return list(items)


def _domain_id(domains: dict[str, str], name: str) -> str:
    if name not in domains:
        domains[name] = uuid.uuid5(uuid.NAMESPACE_DNS, f"domain.{name}").hex
    return domains[name]


def load_world(document: Mapping[str, Any], *, now: datetime, timings: Timings) -> World:
    """Build a ``World`` from a seed document; raise ``SeedError`` when it is malformed.

    ``timings`` apply unless the document has its own ``timings``.
    """
    if not isinstance(document, Mapping):
        raise SeedError("a seed document must be a JSON object")
    world = World(region=_get(document, "region", str, "eu-de"))
    domains: dict[str, str] = {}
    for item in _items(document, "projects"):
        project = _project(item, domains)
        world.projects[project.id] = project
    default_domain = next((p.domain_name for p in world.projects.values()), "sim-domain")
    for item in _items(document, "users"):
        domain_name = _get(item, "domain_name", str, default_domain)
        name = _get(item, "name", str, "")
        user_id = _get(item, "id", str, None) or uuid.uuid5(uuid.NAMESPACE_DNS, f"user.{name}").hex
        password = _get(item, "password", str, "")
        world.users.append(User(user_id, name, password, _domain_id(domains, domain_name), domain_name))
    for item in _items(document, "access_keys"):
        domain_name = _get(item, "domain_name", str, default_domain)
        access, secret = _get(item, "access", str, ""), _get(item, "secret", str, "")
        world.access_keys[access] = AccessKey(access, secret, _domain_id(domains, domain_name), domain_name)
    for item in _items(document, "endpoint_services"):
        service = _service(item, world, now)
        world.services[service.id] = service
    for index, item in enumerate(_items(document, "endpoints")):
        connection = _connection(item, world, now, index)
        world.connections[connection.id] = connection
    for item in _items(document, "permissions"):
        permission = _permission(item, world, now)
        world.permissions[permission.id] = permission
    world.quotas.update({str(k): int(v) for k, v in _get(document, "quotas", Mapping, {}).items()})
    world.timings = _timings(_get(document, "timings", Mapping, {}), timings)
    protocols = _get(document, "protocols", list, ["TCP"])
    if not protocols or not all(isinstance(p, str) and p for p in protocols):
        raise SeedError("protocols must be a list of protocol names")
    world.protocols = tuple(protocols)
    return world


def _project(item: Mapping[str, Any], domains: dict[str, str]) -> Project:
    project_id = _get(item, "id", str, None)
    if not project_id:
        raise SeedError("every project needs an 'id'")
    domain_name = _get(item, "domain_name", str, "sim-domain")
    domain_id = _get(item, "domain_id", str, None) or _domain_id(domains, domain_name)
    if domains.setdefault(domain_name, domain_id) != domain_id:
        raise SeedError(f"domain {domain_name!r} has two ids")
    return Project(project_id, _get(item, "name", str, project_id), domain_id, domain_name)


def _service(item: Mapping[str, Any], world: World, now: datetime) -> Service:
    default_project = next(iter(world.projects), None)
    project_id = _get(item, "project_id", str, default_project)
    if project_id is None:
        raise SeedError("an endpoint service needs a 'project_id' (or a project in 'projects')")
    status = _get(item, "status", str, "available")
    if status not in SERVICE_STATUSES:
        raise SeedError(f"unknown service status {status!r}")
    created = _time(item, "created_at", now)
    transition = _time(item, "transition_at", now) if item.get("transition_at") else None
    if item.get("transition_after") is not None:
        transition = now + timedelta(seconds=float(_get(item, "transition_after", (int, float), 0)))
    return Service(
        id=_get(item, "id", str, None) or str(uuid.uuid4()),
        project_id=project_id,
        name=_get(item, "service_name", str, ""),
        port_id=_get(item, "port_id", str, None) or str(uuid.uuid4()),
        vpc_id=_get(item, "vpc_id", str, None) or str(uuid.uuid4()),
        server_type=_get(item, "server_type", str, "LB"),
        ports=[_port(port) for port in _items(item, "ports")],
        created_at=created,
        updated_at=_time(item, "updated_at", created),
        approval_enabled=_get(item, "approval_enabled", bool, True),
        description=_get(item, "description", str, ""),
        tcp_proxy=_get(item, "tcp_proxy", str, "close"),
        service_type=_get(item, "service_type", str, "interface"),
        pool_id=_get(item, "pool_id", str, ""),
        enable_policy=_get(item, "enable_policy", bool, False),
        tags=[dict(tag) for tag in _items(item, "tags")],
        status=status,
        transition_at=transition,
        error=[dict(entry) for entry in _items(item, "error")],
    )


def _port(item: Mapping[str, Any]) -> PortMapping:
    return PortMapping(
        _get(item, "client_port", int, 0),
        _get(item, "server_port", int, 0),
        _get(item, "protocol", str, "TCP"),
    )


def _connection(item: Mapping[str, Any], world: World, now: datetime, index: int) -> Connection:
    service_id = _get(item, "service_id", str, "")
    if service_id not in world.services:
        raise SeedError(f"endpoint refers to unknown service {service_id!r}")
    status = _get(item, "status", str, "pendingAcceptance")
    if status not in CONNECTION_STATUSES:
        raise SeedError(f"unknown endpoint status {status!r}")
    created = _time(item, "created_at", now)
    return Connection(
        id=_get(item, "id", str, None) or str(uuid.uuid4()),
        service_id=service_id,
        domain_id=_get(item, "domain_id", str, None) or uuid.uuid4().hex,
        status=status,
        marker_id=_get(item, "marker_id", int, FIRST_MARKER_ID + index),
        created_at=created,
        updated_at=_time(item, "updated_at", created),
        description=_get(item, "description", str, ""),
        project_id=_get(item, "project_id", str, ""),
        error=[dict(entry) for entry in _items(item, "error")],
    )


def _permission(item: Mapping[str, Any], world: World, now: datetime) -> Permission:
    service_id = _get(item, "service_id", str, "")
    if service_id not in world.services:
        raise SeedError(f"permission refers to unknown service {service_id!r}")
    return Permission(
        id=_get(item, "id", str, None) or str(uuid.uuid4()),
        service_id=service_id,
        permission=_get(item, "permission", str, ""),
        created_at=_time(item, "created_at", now),
        permission_type=_get(item, "permission_type", str, "domainId"),
        description=_get(item, "description", str, ""),
    )


def _timings(item: Mapping[str, Any], defaults: Timings) -> Timings:
    return Timings(
        float(_get(item, "creating_seconds", (int, float), defaults.creating_seconds)),
        float(_get(item, "deleting_seconds", (int, float), defaults.deleting_seconds)),
    )


def dump_world(world: World) -> dict[str, Any]:
    """The seed document that recreates ``world`` exactly (every field explicit)."""
    return {
        "region": world.region,
        "projects": [asdict(project) for project in world.projects.values()],
        "users": [asdict(user) for user in world.users],
        "access_keys": [asdict(key) for key in world.access_keys.values()],
        "endpoint_services": [_dump_service(service) for service in world.services.values()],
        "endpoints": [_dump_times(asdict(conn)) for conn in world.connections.values()],
        "permissions": [_dump_times(asdict(perm)) for perm in world.permissions.values()],
        "quotas": dict(world.quotas),
        "timings": asdict(world.timings),
        "protocols": list(world.protocols),
    }


def _dump_service(service: Service) -> dict[str, Any]:
    document = _dump_times(asdict(service))
    document["service_name"] = document.pop("name")
    if document["transition_at"] is None:
        del document["transition_at"]
    return document


def _dump_times(document: dict[str, Any]) -> dict[str, Any]:
    return {
        key: exact_time(value) if isinstance(value, datetime) else value for key, value in document.items()
    }
