"""The whitelist (permissions) of an endpoint service: list, add, remove (vpcep-api.md §7.2).

Guarantees: adding an entry that is already there and removing one that is not are no-ops (the call
still succeeds); the owner's own domain is implicitly allowed and never listed; at most
``MAX_PERMISSIONS`` entries per service (EndPoint.3049).
"""

from __future__ import annotations

import uuid
from typing import Any

from vpcepadmin.simulator.endpoint_services import find_service
from vpcepadmin.simulator.errors import vpcep_error
from vpcepadmin.simulator.records import Permission, api_time
from vpcepadmin.simulator.validation import page, parse_body, validate_permission_action
from vpcepadmin.simulator.wsgi import Call, Response

# NOTE: the documented cap of whitelist records is not given (§7.2 names only the code 3049);
# 500 mirrors the list call's maximum page size and is an inferred value.
MAX_PERMISSIONS = 500


def permission_json(permission: Permission) -> dict[str, Any]:
    return {
        "id": permission.id,
        "permission": permission.permission,
        "permission_type": permission.permission_type,
        "description": permission.description,
        "created_at": api_time(permission.created_at),
    }


def list_permissions(call: Call) -> Response:
    """``permission`` is a case-insensitive substring filter; limit 1..500; sort by creation only."""
    window = page(
        call.query("limit", "offset", "sort_key", "sort_dir"),
        max_limit=500,
        sort_keys=("create_at", "created_at"),
    )
    wanted = call.request.param("permission")
    with call.store.read() as world:
        service = find_service(world, call.project_id, call.params["service_id"])
        matches = [
            perm
            for perm in world.permissions_of(service.id)
            if wanted is None or wanted.lower() in perm.permission.lower()
        ]
        items = [permission_json(perm) for perm in window.apply(matches)]
    return Response.json(200, {"permissions": items, "total_count": len(matches)})


def act_on_permissions(call: Call) -> Response:
    action, permission_type, permissions = validate_permission_action(parse_body(call.request.body))
    with call.store.write() as world:
        service = find_service(world, call.project_id, call.params["service_id"])
        existing = {perm.permission: perm for perm in world.permissions_of(service.id)}
        if action == "remove":
            for permission in permissions:
                if permission in existing:
                    del world.permissions[existing[permission].id]
        else:
            added = [permission for permission in permissions if permission not in existing]
            if len(existing) + len(added) > MAX_PERMISSIONS:
                raise vpcep_error("EndPoint.3049")
            now = call.store.now()
            for permission in added:
                record = Permission(str(uuid.uuid4()), service.id, permission, now, permission_type)
                world.permissions[record.id] = record
    return Response.json(200, {"permissions": permissions, "permission_type": permission_type})
