"""Connections of an endpoint service: list them, accept (``receive``) or reject one (vpcep-api.md §7.1).

Guarantees: the list pages (``limit`` 1..1000, default 10; ``offset``) and filters by ``id`` (exact),
``marker_id`` and ``status`` (the four documented filter values), AND-combined; exactly one endpoint
per action (EndPoint.2031 otherwise); an endpoint that is not connected to this service is refused
with EndPoint.2013; a bad verb with EndPoint.2027; only the acted-on connection changes (its
``updated_at`` moves), the service itself is untouched.
"""

from __future__ import annotations

import re
from typing import Any

from vpcepadmin.simulator.endpoint_services import find_service
from vpcepadmin.simulator.errors import vpcep_error
from vpcepadmin.simulator.records import Connection, api_time
from vpcepadmin.simulator.validation import page, parse_body, status_filter, validate_connection_action
from vpcepadmin.simulator.wsgi import Call, Response

MARKER_RE = re.compile(r"^[0-9]{1,18}$")
# NOTE: a connection can be in any of six states, but the list's ``status`` filter documents only
# these four (§7.1 query; the SDK's ListServiceConnectionsRequest says the same); others → EndPoint.0019.
FILTER_STATUSES = ("pendingAcceptance", "accepted", "rejected", "failed")
# States an action cannot leave, with the error each one answers (§9.2 2018/2019/2047).
FROZEN_STATES = {"creating": "EndPoint.2019", "deleting": "EndPoint.2018", "failed": "EndPoint.2047"}


def connection_json(conn: Connection) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": conn.id,
        "marker_id": conn.marker_id,
        "created_at": api_time(conn.created_at),
        "updated_at": api_time(conn.updated_at),
        "domain_id": conn.domain_id,
        "status": conn.status,
        "description": conn.description,
    }
    if conn.status == "failed":
        document["error"] = [dict(entry) for entry in conn.error]
    return document


def list_connections(call: Call) -> Response:
    window = page(call.query("limit", "offset", "sort_key", "sort_dir"))
    status = status_filter(call.request.param("status"), FILTER_STATUSES)
    wanted_id = call.request.param("id")
    marker = call.request.param("marker_id")
    if marker is not None and not MARKER_RE.fullmatch(marker):
        raise vpcep_error("EndPoint.0021")
    with call.store.read() as world:
        service = find_service(world, call.project_id, call.params["service_id"])
        matches = [
            conn
            for conn in world.connections_of(service.id)
            if (wanted_id is None or conn.id == wanted_id)
            and (marker is None or conn.marker_id == int(marker))
            and (status is None or conn.status == status)
        ]
        items = [connection_json(conn) for conn in window.apply(matches)]
    return Response.json(200, {"connections": items, "total_count": len(matches)})


def act_on_connection(call: Call) -> Response:
    """``receive`` → accepted, ``reject`` → rejected; the verb is ``receive``, not ``accept`` (§7.1)."""
    action, endpoint_id = validate_connection_action(parse_body(call.request.body))
    with call.store.write() as world:
        service = find_service(world, call.project_id, call.params["service_id"])
        conn = world.connections.get(endpoint_id)
        if conn is None or conn.service_id != service.id:
            # NOTE: OTC's example spells this code "Endpoint.2013"; the error table says EndPoint.2013.
            raise vpcep_error("EndPoint.2013")
        if conn.status in FROZEN_STATES:
            raise vpcep_error(FROZEN_STATES[conn.status])
        conn.status = "accepted" if action == "receive" else "rejected"
        conn.updated_at = call.store.now()
        return Response.json(200, {"connections": [connection_json(conn)]})
