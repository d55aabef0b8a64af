"""Endpoint services: list, detail, create, modify, delete (vpcep-api.md §1–§6, §13).

Guarantees: responses carry the fields of the matching column of §1 (list items alone have
``domain_id`` and ``connection_count``); state-dependent rules (quota, port clashes with services on
the same ``port_id``, "modify only when available", "no delete while in use") are checked and the
change applied under the store's lock, so concurrent calls can never exceed the quota or clash.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from vpcepadmin.simulator.errors import vpcep_error
from vpcepadmin.simulator.records import Service, World, api_time
from vpcepadmin.simulator.seed import SERVICE_STATUSES
from vpcepadmin.simulator.validation import (
    check_port_conflicts,
    page,
    parse_body,
    status_filter,
    validate_create,
    validate_update,
)
from vpcepadmin.simulator.wsgi import Call, Response

# NOTE: connection_count counts endpoints in these states (§1, §13); delete is refused while any exist.
BUSY_CONNECTION_STATES = ("creating", "accepted")


def find_service(world: World, project_id: str, service_id: str) -> Service:
    """The service, or 404 EndPoint.0005 (unknown, deleted, or another project's)."""
    service = world.services.get(service_id)
    if service is None or service.project_id != project_id:
        raise vpcep_error("EndPoint.0005")
    return service


def service_json(service: Service, world: World, *, list_item: bool = False) -> dict[str, Any]:
    """The service as the API shows it (§1, column D/C/U; ``list_item`` adds column L's extras)."""
    document: dict[str, Any] = {
        "id": service.id,
        "port_id": service.port_id,
        "service_name": service.full_name(world.region),
        "server_type": service.server_type,
        "vpc_id": service.vpc_id,
        "approval_enabled": service.approval_enabled,
        "status": service.status,
        "service_type": service.service_type,
        "created_at": api_time(service.created_at),
        "updated_at": api_time(service.updated_at),
        "project_id": service.project_id,
        "ports": [mapping.to_json() for mapping in service.ports],
        "tcp_proxy": service.tcp_proxy,
        "tags": [dict(tag) for tag in service.tags],
        "description": service.description,
        "enable_policy": service.enable_policy,
    }
    if service.pool_id:
        document["pool_id"] = service.pool_id
    if service.status == "failed":
        document["error"] = [dict(entry) for entry in service.error]
    if list_item:
        project = world.projects.get(service.project_id)
        document["domain_id"] = project.domain_id if project else ""
        document["connection_count"] = sum(
            1 for conn in world.connections_of(service.id) if conn.status in BUSY_CONNECTION_STATES
        )
    return document


def list_services(call: Call) -> Response:
    """§3: filters are ANDed; ``total_count`` counts every match; the page is a window of the order."""
    window = page(call.query("limit", "offset", "sort_key", "sort_dir"))
    status = status_filter(call.request.param("status"), SERVICE_STATUSES)
    name = call.request.param("endpoint_service_name")
    wanted_id = call.request.param("id")
    with call.store.read() as world:
        matches = [
            service
            for service in world.services_of(call.project_id)
            # NOTE: case-insensitive substring match on the stored full name (§3, §13).
            if (name is None or name.lower() in service.full_name(world.region).lower())
            and (wanted_id is None or service.id == wanted_id)
            and (status is None or service.status == status)
        ]
        items = [service_json(service, world, list_item=True) for service in window.apply(matches)]
    return Response.json(200, {"endpoint_services": items, "total_count": len(matches)})


def show_service(call: Call) -> Response:
    with call.store.read() as world:
        service = find_service(world, call.project_id, call.params["service_id"])
        return Response.json(200, service_json(service, world))


def create_service(call: Call) -> Response:
    """§2: 200 (not 201) with the new service in ``creating``; it turns ``available`` by itself."""
    new = validate_create(parse_body(call.request.body))
    with call.store.write() as world:
        siblings = world.services_of(call.project_id)
        if len(siblings) >= world.quotas.get("endpoint_service", 20):
            raise vpcep_error("Endpoint.1018")
        check_port_conflicts(new.ports, new.port_id, siblings)
        now = call.store.now()
        service = Service(
            id=str(uuid.uuid4()),
            project_id=call.project_id,
            name=new.name,
            port_id=new.port_id,
            vpc_id=new.vpc_id,
            server_type=new.server_type,
            ports=new.ports,
            created_at=now,
            updated_at=now,
            approval_enabled=new.approval_enabled,
            description=new.description,
            tcp_proxy=new.tcp_proxy,
            service_type=new.service_type,
            pool_id=new.pool_id,
            enable_policy=new.enable_policy,
            tags=new.tags or [],
            status="creating",
            transition_at=now + timedelta(seconds=world.timings.creating_seconds),
        )
        world.services[service.id] = service
        return Response.json(200, service_json(service, world))


def update_service(call: Call) -> Response:
    """§5: absent fields stay, ``ports`` replaces the whole list, ``updated_at`` moves on every PUT."""
    document = parse_body(call.request.body)
    with call.store.write() as world:
        changes = validate_update(document, world.protocols)
        service = find_service(world, call.project_id, call.params["service_id"])
        if service.status != "available":
            raise vpcep_error("EndPoint.3045")
        if changes.ports is not None or changes.port_id is not None:
            others = [other for other in world.services_of(call.project_id) if other.id != service.id]
            ports = service.ports if changes.ports is None else changes.ports
            check_port_conflicts(ports, changes.port_id or service.port_id, others)
        for field in ("approval_enabled", "name", "ports", "port_id", "tcp_proxy", "description"):
            value = getattr(changes, field)
            if value is not None:
                setattr(service, field, value)
        service.updated_at = call.store.now()
        return Response.json(200, service_json(service, world))


def delete_service(call: Call) -> Response:
    """§6: 204; the service shows ``deleting`` and disappears later; refused while endpoints use it."""
    with call.store.write() as world:
        service = find_service(world, call.project_id, call.params["service_id"])
        if service.status == "deleting":
            return Response.empty(204)
        if any(conn.status in BUSY_CONNECTION_STATES for conn in world.connections_of(service.id)):
            # NOTE: "cannot be deleted while endpoints are accepted/creating"; code mapping inferred (§6).
            raise vpcep_error("EndPoint.3006")
        now = call.store.now()
        service.status = "deleting"
        service.updated_at = now
        service.transition_at = now + timedelta(seconds=world.timings.deleting_seconds)
    return Response.empty(204)
