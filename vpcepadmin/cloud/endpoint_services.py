"""Endpoint-service calls: ``<resource>_<verb>(client, …)`` returning typed results (vpcep-api.md §2–§7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from vpcepadmin.cloud.client import VpcepClient, path_segment
from vpcepadmin.cloud.editable import ServiceChanges
from vpcepadmin.cloud.errors import CloudOutcomeUnknown, CloudUnavailable
from vpcepadmin.cloud.transport import CloudResponse
from vpcepadmin.cloud.types import (
    Connection,
    ConnectionPage,
    EndpointService,
    Permission,
    PermissionPage,
    PortMapping,
    Quota,
    ServicePage,
)
from vpcepadmin.cloud.whitelist import PermissionType

SERVICES = "vpc-endpoint-services"
MAX_PAGE_SIZE = 1000
MAX_PERMISSION_PAGE_SIZE = 500  # NOTE: the whitelist's list call takes limit 1..500 (vpcep-api.md §7.2)
T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)


class ConnectionAction(StrEnum):
    """The verbs of ``connections/action`` (§7.1): the API says ``receive``, not ``accept``."""

    RECEIVE = "receive"
    REJECT = "reject"


class WhitelistAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class CallResult(Generic[T]):
    """A mutation's typed result plus what the audit log keeps of the answer."""

    value: T
    status: int
    body: Any
    cloud_request_id: str
    elapsed: float


@dataclass(frozen=True)
class NewEndpointService:
    """The body of a create call (required: port_id, vpc_id, server_type, ports)."""

    port_id: str
    vpc_id: str
    server_type: str
    ports: tuple[PortMapping, ...]
    service_name: str = ""
    approval_enabled: bool = True
    description: str = ""
    tcp_proxy: str = "close"

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "port_id": self.port_id,
            "vpc_id": self.vpc_id,
            "server_type": self.server_type,
            "ports": [mapping.to_api() for mapping in self.ports],
            "approval_enabled": self.approval_enabled,
            "service_type": "interface",
            "tcp_proxy": self.tcp_proxy,
        }
        if self.service_name:
            body["service_name"] = self.service_name
        if self.description:
            body["description"] = self.description
        return body


def _parse(response: CloudResponse, parser: Callable[[Any], T], *, mutating: bool = False) -> T:
    try:
        return parser(response.body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        error_class = CloudOutcomeUnknown if mutating else CloudUnavailable
        raise error_class(
            f"The cloud's answer could not be read ({exc}).",
            status=response.status,
            cloud_request_id=response.cloud_request_id,
        ) from exc


def _service_page(body: Any) -> ServicePage:
    items = body["endpoint_services"]
    if not isinstance(items, list):
        raise ValueError("endpoint_services is not a list")
    services = tuple(EndpointService.from_api(item) for item in items)
    total = body.get("total_count", len(services))
    return ServicePage(services, int(total))


def _result(response: CloudResponse, value: T) -> CallResult[T]:
    return CallResult(value, response.status, response.body, response.cloud_request_id, response.elapsed)


def endpoint_service_list(
    client: VpcepClient,
    *,
    name: str | None = None,
    service_id: str | None = None,
    status: str | None = None,
    sort_key: str | None = None,
    sort_dir: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> ServicePage:
    """One page of services. ``name`` is a case-insensitive substring of the stored full name."""
    query = {
        "endpoint_service_name": name or None,
        "id": service_id,
        "status": status,
        "sort_key": sort_key,
        "sort_dir": sort_dir,
        "limit": limit,
        "offset": offset,
    }
    return _parse(client.call("GET", SERVICES, query=query), _service_page)


def endpoint_service_list_all(
    client: VpcepClient, *, name: str | None = None, status: str | None = None, page_size: int = MAX_PAGE_SIZE
) -> list[EndpointService]:
    """Every matching service, paging with ``limit``/``offset`` until ``total_count`` is reached."""
    services: list[EndpointService] = []
    while True:
        page = endpoint_service_list(
            client, name=name, status=status, sort_dir="asc", limit=page_size, offset=len(services)
        )
        services.extend(page.services)
        if not page.services or len(services) >= page.total_count:
            return services


def endpoint_service_get(client: VpcepClient, service_id: str) -> EndpointService:
    response = client.call("GET", f"{SERVICES}/{path_segment(service_id)}")
    return _parse(response, EndpointService.from_api)


def endpoint_service_update(
    client: VpcepClient, service_id: str, changes: ServiceChanges
) -> CallResult[EndpointService]:
    """One PUT with only the given fields (``ports`` complete). Never retried automatically."""
    body = changes.to_api()
    if not body:
        raise ValueError("an update needs at least one changed field")
    response = client.call("PUT", f"{SERVICES}/{path_segment(service_id)}", body=body)
    return _result(response, _parse(response, EndpointService.from_api, mutating=True))


def endpoint_service_create(client: VpcepClient, spec: NewEndpointService) -> CallResult[EndpointService]:
    response = client.call("POST", SERVICES, body=spec.to_api())
    return _result(response, _parse(response, EndpointService.from_api, mutating=True))


def endpoint_service_delete(client: VpcepClient, service_id: str) -> CallResult[None]:
    response = client.call("DELETE", f"{SERVICES}/{path_segment(service_id)}")
    return _result(response, None)


def _connection_page(body: Any) -> ConnectionPage:
    items = body["connections"]
    if not isinstance(items, list):
        raise ValueError("connections is not a list")
    connections = tuple(Connection.from_api(item) for item in items)
    return ConnectionPage(connections, int(body.get("total_count", len(connections))))


def _of_service(service_id: str, resource: str) -> str:
    return f"{SERVICES}/{path_segment(service_id)}/{resource}"


def _choice(kind: type[E], value: str) -> str:
    """``value`` as one of ``kind``'s values, or ``ValueError`` (before anything is sent)."""
    try:
        return str(kind(value))
    except ValueError:
        raise ValueError(f"{value!r} is not one of: {', '.join(kind)}") from None


def connection_list(
    client: VpcepClient,
    service_id: str,
    *,
    status: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> ConnectionPage:
    query = {"status": status, "limit": limit, "offset": offset}
    response = client.call("GET", _of_service(service_id, "connections"), query=query)
    return _parse(response, _connection_page)


def connection_list_all(
    client: VpcepClient, service_id: str, *, status: str | None = None
) -> list[Connection]:
    """Every connection of a service (with ``status``), paging by the API's largest page."""
    found: list[Connection] = []
    while True:
        page = connection_list(
            client, service_id, status=status, limit=MAX_PAGE_SIZE, offset=len(found) or None
        )
        found += page.connections
        if not page.connections or len(found) >= page.total_count:
            return found


def connection_get(client: VpcepClient, service_id: str, endpoint_id: str) -> Connection | None:
    """One GET .../connections?id=<endpoint_id>: the connection, or None when the service has none
    with that id (an unknown service is ``CloudNotFound``)."""
    response = client.call("GET", _of_service(service_id, "connections"), query={"id": endpoint_id})
    page = _parse(response, _connection_page)
    # The id must match exactly: an API that ignored an empty or odd filter would list them all.
    return next((conn for conn in page.connections if conn.id == endpoint_id), None)


def _acted_on(endpoint_id: str) -> Callable[[Any], Connection]:
    def parse(body: Any) -> Connection:
        items = body["connections"]
        if not isinstance(items, list):
            raise ValueError("connections is not a list")
        for conn in (Connection.from_api(item) for item in items):
            if conn.id == endpoint_id:
                return conn
        raise ValueError("the answer does not show the connection acted on")

    return parse


def connection_action_body(action: str, endpoint_id: str) -> dict[str, Any]:
    """The exact body of ``connection_action`` (one endpoint per call); ``ValueError`` for another verb."""
    return {"action": _choice(ConnectionAction, action), "endpoints": [endpoint_id]}


def connection_action(
    client: VpcepClient, service_id: str, action: str, endpoint_id: str
) -> CallResult[Connection]:
    """One POST .../connections/action accepting (``receive``) or rejecting one endpoint; never
    retried automatically. ``action`` is checked before anything is sent (``ValueError``)."""
    body = connection_action_body(action, endpoint_id)
    response = client.call("POST", _of_service(service_id, "connections/action"), body=body)
    return _result(response, _parse(response, _acted_on(endpoint_id), mutating=True))


def _permission_page(body: Any) -> PermissionPage:
    items = body["permissions"]
    if not isinstance(items, list):
        raise ValueError("permissions is not a list")
    permissions = tuple(Permission.from_api(item) for item in items)
    return PermissionPage(permissions, int(body.get("total_count", len(permissions))))


def permission_list(
    client: VpcepClient,
    service_id: str,
    *,
    permission: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
) -> PermissionPage:
    """One page of a service's whitelist. ``permission`` is the API's fuzzy filter (a substring);
    ``limit`` is 1..500. The owner's own account is whitelisted implicitly and never listed."""
    query = {"permission": permission or None, "limit": limit, "offset": offset}
    response = client.call("GET", _of_service(service_id, "permissions"), query=query)
    return _parse(response, _permission_page)


def permission_list_all(client: VpcepClient, service_id: str) -> list[Permission]:
    """Every whitelist entry of a service, paging by the API's largest page (500)."""
    found: list[Permission] = []
    while True:
        page = permission_list(client, service_id, limit=MAX_PERMISSION_PAGE_SIZE, offset=len(found) or None)
        found += page.permissions
        if not page.permissions or len(found) >= page.total_count:
            return found


def permission_find(client: VpcepClient, service_id: str, entry: str) -> Permission | None:
    """One GET .../permissions?permission=<entry>&limit=500 (the filter is fuzzy): the entry that
    equals ``entry`` exactly, or None.

    Only when more than 500 entries match the filter and none of them is ``entry`` are the next
    pages read, so that None always means "not on the whitelist".
    """
    if not entry:
        raise ValueError("a whitelist entry is needed")
    seen = 0
    while True:
        page = permission_list(
            client, service_id, permission=entry, limit=MAX_PERMISSION_PAGE_SIZE, offset=seen or None
        )
        found = next((item for item in page.permissions if item.permission == entry), None)
        seen += len(page.permissions)
        if found is not None or not page.permissions or seen >= page.total_count:
            return found


def _changed_entries(body: Any) -> tuple[str, ...]:
    items = body["permissions"]
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError("permissions is not a list of entries")
    return tuple(items)


def permission_action_body(action: str, entries: list[str], permission_type: str) -> dict[str, Any]:
    """The exact body of ``permission_action``; ``ValueError`` for an empty list, another verb or type."""
    if not entries:
        raise ValueError("a whitelist change needs at least one entry")
    return {
        "permissions": list(entries),
        "action": _choice(WhitelistAction, action),
        "permission_type": _choice(PermissionType, permission_type),
    }


def permission_action(
    client: VpcepClient, service_id: str, action: str, entries: list[str], permission_type: str
) -> CallResult[tuple[str, ...]]:
    """One POST .../permissions/action adding or removing ``entries`` (as ``whitelist.entry_for``
    spells them); never retried automatically. The value is the entries the cloud names.

    ``action``, ``permission_type`` and a non-empty ``entries`` are checked before anything is
    sent (``ValueError``); the entries themselves are the cloud's to judge (``CloudRejected``).
    """
    body = permission_action_body(action, entries, permission_type)
    response = client.call("POST", _of_service(service_id, "permissions/action"), body=body)
    return _result(response, _parse(response, _changed_entries, mutating=True))


def _quotas(body: Any) -> tuple[Quota, ...]:
    resources = body["quotas"]["resources"]
    if not isinstance(resources, list):
        raise ValueError("quotas.resources is not a list")
    return tuple(Quota.from_api(item) for item in resources)


def quota_list(client: VpcepClient, resource_type: str | None = None) -> tuple[Quota, ...]:
    return _parse(client.call("GET", "quotas", query={"type": resource_type}), _quotas)
