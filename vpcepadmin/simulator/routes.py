"""The API's route table, plus the two small read-only resources: versions and quotas.

A path or method outside this table is answered by the gateway with 404 APIGW.0101 (§9.3), before
any authentication — as the real gateway does for an API it does not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from vpcepadmin.simulator import connections, endpoint_services, iam, whitelist
from vpcepadmin.simulator.errors import apigw_error, vpcep_error
from vpcepadmin.simulator.wsgi import Call, Handler, Response

# NOTE: §7.5: v1 is current; OTC lists v2 but it "cannot be used" there.
VERSIONS: dict[str, tuple[str, str]] = {
    "v1": ("CURRENT", "2018-09-30T00:00:00Z"),
    "v2": ("SUPPORTED", "2022-07-20T00:00:00Z"),
}


def _version(version_id: str, base_url: str) -> dict[str, Any]:
    status, updated = VERSIONS[version_id]
    return {
        "id": version_id,
        "status": status,
        "version": "",
        "min_version": "",
        "updated": updated,
        "links": [{"rel": "self", "href": f"{base_url}/{version_id}/", "type": "application/json"}],
    }


def list_versions(call: Call) -> Response:
    return Response.json(200, {"versions": [_version(version, call.base_url) for version in VERSIONS]})


def show_version(call: Call) -> Response:
    return Response.json(200, {"version": _version(call.params["version"], call.base_url)})


def show_quotas(call: Call) -> Response:
    """§7.3: ``used`` is what the project really holds; ``type`` narrows to one resource."""
    kind = call.request.param("type")
    if kind not in (None, "endpoint_service", "endpoint"):
        raise vpcep_error("EndPoint.0002")
    with call.store.read() as world:
        used = {
            "endpoint_service": len(world.services_of(call.project_id)),
            "endpoint": sum(1 for conn in world.connections.values() if conn.project_id == call.project_id),
        }
        resources = [
            {"type": name, "used": count, "quota": world.quotas.get(name, 0)}
            for name, count in used.items()
            if kind is None or name == kind
        ]
    return Response.json(200, {"quotas": {"resources": resources}})


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    authenticated: bool = True


_SERVICES = r"^/v1/(?P<project_id>[^/]+)/vpc-endpoint-services"
_SERVICE = _SERVICES + r"/(?P<service_id>[^/]+)"

ROUTES: tuple[Route, ...] = (
    Route("GET", re.compile(r"^/$"), list_versions, authenticated=False),
    Route("GET", re.compile(r"^/(?P<version>v[12])/?$"), show_version, authenticated=False),
    Route("POST", re.compile(r"^/v3/auth/tokens$"), iam.issue_token, authenticated=False),
    Route("GET", re.compile(_SERVICES + "$"), endpoint_services.list_services),
    Route("POST", re.compile(_SERVICES + "$"), endpoint_services.create_service),
    Route("GET", re.compile(_SERVICE + "$"), endpoint_services.show_service),
    Route("PUT", re.compile(_SERVICE + "$"), endpoint_services.update_service),
    Route("DELETE", re.compile(_SERVICE + "$"), endpoint_services.delete_service),
    Route("GET", re.compile(_SERVICE + "/connections$"), connections.list_connections),
    Route("POST", re.compile(_SERVICE + "/connections/action$"), connections.act_on_connection),
    Route("GET", re.compile(_SERVICE + "/permissions$"), whitelist.list_permissions),
    Route("POST", re.compile(_SERVICE + "/permissions/action$"), whitelist.act_on_permissions),
    Route("GET", re.compile(r"^/v1/(?P<project_id>[^/]+)/quotas$"), show_quotas),
)


def match_route(method: str, raw_path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method`` and the path as received, with its decoded parameters, or 404 APIGW.0101.

    Matching the raw path splits on the slashes that were sent, so an encoded ``%2F`` stays inside
    its segment (``..%2Fquotas`` is a service id, not a way to another resource).
    """
    for route in ROUTES:
        found = route.pattern.match(raw_path)
        if found is not None and route.method == method:
            return route, {name: unquote(value) for name, value in found.groupdict().items()}
    raise apigw_error("APIGW.0101")
