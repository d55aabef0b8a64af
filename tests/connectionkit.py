"""One service with connections from three accounts and a whitelist, for the connection and whitelist
tests (pages through the test client, and Chromium)."""

from __future__ import annotations

from typing import Any

from tests.seeds import service, stable_uuid, standard_seed

SERVICE_ID = stable_uuid("connections", "service")
OTHER_SERVICE_ID = stable_uuid("connections", "other-service")
SERVICE_NAME = "orders"
ACCOUNTS = [f"{n:x}" * 32 for n in (10, 11, 12)]
PENDING = [stable_uuid("connections", "pending", n) for n in range(3)]  # of ACCOUNTS[n]
ACCEPTED = stable_uuid("connections", "accepted")  # of ACCOUNTS[0]
ACCEPTED_B = stable_uuid("connections", "accepted-b")  # of ACCOUNTS[1]
ELSEWHERE = stable_uuid("connections", "elsewhere")  # of ACCOUNTS[1], to the other service
ACTION_PATH = "connections/action"
WHITELIST_PATH = "permissions/action"


def connection(endpoint_id: str, status: str, account: int, day: int, service_id: str = SERVICE_ID) -> dict:
    return {
        "id": endpoint_id, "service_id": service_id, "status": status, "domain_id": ACCOUNTS[account],
        "marker_id": 16777600 + day, "created_at": f"2026-05-{day:02d}T00:00:00Z",
    }  # fmt: skip


def seed() -> dict[str, Any]:
    """Three pending connections (one per account), two accepted ones, one to another service, and
    ACCOUNTS[0] on the whitelist."""
    endpoints = [
        *(connection(pid, "pendingAcceptance", n, n + 1) for n, pid in enumerate(PENDING)),
        connection(ACCEPTED, "accepted", 0, 9),
        connection(ACCEPTED_B, "accepted", 1, 11),
        connection(ELSEWHERE, "pendingAcceptance", 1, 10, OTHER_SERVICE_ID),
    ]
    permissions = [
        {"service_id": SERVICE_ID, "permission": f"iam:domain::{ACCOUNTS[0]}", "permission_type": "domainId"}
    ]
    services = [
        service(id=SERVICE_ID, service_name=SERVICE_NAME),
        service(id=OTHER_SERVICE_ID, service_name="other"),
    ]
    return standard_seed(services=0, endpoint_services=services, endpoints=endpoints, permissions=permissions)
