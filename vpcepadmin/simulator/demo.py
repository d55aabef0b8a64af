"""The demo cloud: one account, two projects, about thirty endpoint services that look lived-in.

Everything but the credentials is deterministic (ids are UUIDv5 of fixed names), so screenshots and
browser tests see the same data every run. Services seeded ``creating``/``deleting`` have no
transition time and keep that status, so the demo always shows every state. Connections come from
five consumer accounts; seven wait in ``pendingAcceptance`` on approval-enabled services of both
projects, beside accepted, rejected and failed ones, and a few services have whitelist records.
"""

from __future__ import annotations

import secrets
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "eu-de"
DOMAIN_NAME = "OTC-EU-DE-demo"


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "vpcep-demo/" + "/".join(map(str, parts))))


DOMAIN_ID = uuid.UUID(_uuid("domain")).hex
PRODUCTION_ID = uuid.UUID(_uuid("project", "production")).hex
STAGING_ID = uuid.UUID(_uuid("project", "staging")).hex
EPOCH = datetime(2025, 3, 3, 8, 0, 0, tzinfo=UTC)

# (project, short name, backend, approval, status, ports as (client, server) pairs, description)
SERVICES: list[tuple[str, str, str, bool, str, list[tuple[int, int]], str]] = [
    (PRODUCTION_ID, "billing-api", "LB", True, "available", [(443, 8443)], "Invoices and payment runs"),
    (PRODUCTION_ID, "auth-gateway", "LB", True, "available", [(443, 9443), (80, 9080)], "OIDC for partners"),
    (PRODUCTION_ID, "orders-db", "VM", True, "available", [(5432, 5432)], "PostgreSQL primary, read-write"),
    (PRODUCTION_ID, "kafka-broker", "LB", True, "available", [(9092 + i, 19092 + i) for i in range(6)], ""),
    (PRODUCTION_ID, "", "LB", False, "available", [(8080, 8080)], "Unnamed legacy export"),
    (PRODUCTION_ID, "search", "LB", False, "available", [(9200, 9200), (9300, 9300)], "OpenSearch cluster"),
    (PRODUCTION_ID, "metrics", "VM", False, "available", [(9090, 9090), (9093, 9093), (3000, 3000)], ""),
    (
        PRODUCTION_ID,
        "ldap",
        "VM",
        True,
        "available",
        [(389, 389), (636, 636)],
        "Directory for branch offices",
    ),
    (PRODUCTION_ID, "smtp-relay", "VM", True, "available", [(25, 2525), (587, 2587)], "Outbound mail only"),
    (PRODUCTION_ID, "registry", "LB", True, "available", [(443, 5000)], "Container images"),
    (PRODUCTION_ID, "vault", "LB", True, "available", [(8200, 8200), (8201, 8201)], "Secrets for CI"),
    (PRODUCTION_ID, "legacy_erp", "VM", True, "available", [(3300 + i, 3300 + i) for i in range(12)], "SAP"),
    (PRODUCTION_ID, "port-range", "LB", True, "available", [(30000 + i, 30000 + i) for i in range(160)], ""),
    (PRODUCTION_ID, "sftp-drop", "VM", True, "creating", [(22, 2222)], "Partner file drop (new)"),
    (PRODUCTION_ID, "redis-cache", "LB", False, "failed", [(6379, 6379)], "Quota of the LB reached"),
    (PRODUCTION_ID, "old-ftp", "VM", True, "deleting", [(21, 21)], "Retired"),
    (PRODUCTION_ID, "grafana", "LB", False, "available", [(443, 3000)], "Dashboards, read-only"),
    (PRODUCTION_ID, "", "VM", True, "available", [(1521, 1521)], ""),
    (STAGING_ID, "billing-api", "LB", False, "available", [(443, 8443)], "Staging copy of billing"),
    (STAGING_ID, "auth-gateway", "LB", False, "available", [(443, 9443), (80, 9080)], ""),
    (STAGING_ID, "orders-db", "VM", False, "available", [(5432, 5432)], "Nightly restore from production"),
    (STAGING_ID, "kafka-broker", "LB", False, "available", [(9092, 19092)], ""),
    (STAGING_ID, "search", "LB", False, "available", [(9200, 9200)], ""),
    (
        STAGING_ID,
        "load-test",
        "LB",
        False,
        "available",
        [(80 + i, 8000 + i) for i in range(8)],
        "Locust target",
    ),
    (STAGING_ID, "feature-x", "LB", True, "creating", [(443, 8443)], "Preview environment"),
    (STAGING_ID, "", "VM", True, "available", [(22, 22)], "Jump host"),
    (STAGING_ID, "mq", "VM", True, "available", [(5672, 5672), (15672, 15672)], "RabbitMQ"),
    (STAGING_ID, "ci-cache", "LB", False, "available", [(8081, 8081)], ""),
    (STAGING_ID, "tmp_svc_01", "VM", False, "available", [(10000, 10000)], "Delete after sprint 42"),
    (STAGING_ID, "ldap", "VM", True, "available", [(389, 389)], ""),
]


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _services() -> list[dict[str, Any]]:
    services = []
    for index, (project, name, backend, approval, status, ports, description) in enumerate(SERVICES):
        created = EPOCH + timedelta(days=9 * index, hours=index % 7, minutes=7 * index)
        service: dict[str, Any] = {
            "project_id": project,
            "id": _uuid("service", index),
            "service_name": name,
            "port_id": _uuid("port", index),
            "vpc_id": _uuid("vpc", project),
            "server_type": backend,
            "approval_enabled": approval,
            "ports": [{"client_port": c, "server_port": s, "protocol": "TCP"} for c, s in ports],
            "description": description,
            "tcp_proxy": "toa_open" if index % 5 == 0 else "close",
            "status": status,
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": (created + timedelta(days=index % 4, hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if status == "failed":
            service["error"] = [{"error_code": "EndPoint.4010", "error_message": "Failed to create a port."}]
        services.append(service)
    # Two production services share one load balancer port (the cross-service port rule applies).
    services[1]["port_id"] = services[0]["port_id"]
    return services


def _consumer(number: int) -> str:
    """The domain id (32 hex) of consumer account ``number``, an account other than the demo's."""
    return uuid.UUID(_uuid("consumer", number)).hex


# (service index in SERVICES, status, consumer account). Pending connections sit only on services
# with approval enabled (without approval an endpoint goes straight to accepted, §8, §13).
ENDPOINTS: list[tuple[int, str, int]] = [
    (0, "accepted", 0), (0, "pendingAcceptance", 1), (1, "accepted", 2), (2, "rejected", 3),
    (7, "pendingAcceptance", 0), (7, "failed", 1), (9, "accepted", 2), (18, "accepted", 3),
    (26, "accepted", 0), (0, "pendingAcceptance", 2), (7, "pendingAcceptance", 3),
    (8, "pendingAcceptance", 4), (10, "rejected", 1), (26, "pendingAcceptance", 1),
    (29, "pendingAcceptance", 2), (29, "rejected", 4),
]  # fmt: skip

ORG_PATH = "organizations:orgPath::o-demo0partners/r-root/ou-branch-offices/*"


def _allowed(consumer: int) -> str:
    """The whitelist entry that lets consumer account ``consumer`` connect (§7.2)."""
    return f"iam:domain::{_consumer(consumer)}"


# (service index in SERVICES, whitelist entry): consumer accounts, everyone (``*``), an organization path.
PERMISSIONS: list[tuple[int, str]] = [
    (0, _allowed(0)), (0, _allowed(1)), (2, "*"), (7, _allowed(2)), (18, _allowed(3)), (0, _allowed(2)),
    (7, _allowed(0)), (7, _allowed(3)), (8, _allowed(4)), (26, "*"), (29, _allowed(2)), (29, ORG_PATH),
]  # fmt: skip


def _endpoints() -> list[dict[str, Any]]:
    return [
        {
            "id": _uuid("endpoint", n),
            "service_id": _uuid("service", service_index),
            "domain_id": _consumer(consumer),
            "status": status,
            "marker_id": 16777510 + n,
            "description": f"consumer {consumer + 1}",
            "created_at": (EPOCH + timedelta(days=200 + n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for n, (service_index, status, consumer) in enumerate(ENDPOINTS)
    ]


def _permissions() -> list[dict[str, Any]]:
    return [
        {
            "id": _uuid("permission", n),
            "service_id": _uuid("service", service_index),
            "permission": entry,
            "permission_type": "orgPath" if entry == ORG_PATH else "domainId",
            "description": "",
            "created_at": (EPOCH + timedelta(days=150 + n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for n, (service_index, entry) in enumerate(PERMISSIONS)
    ]


def demo_seed(
    access_key: str | None = None, secret_key: str | None = None, password: str | None = None
) -> dict[str, Any]:
    """The demo seed document; credentials not given are random (``secrets``), printed by the command."""
    access_key = access_key or _random(string.ascii_uppercase + string.digits, 20)
    secret_key = secret_key or _random(string.ascii_letters + string.digits, 40)
    password = password or secrets.token_urlsafe(12)
    projects = [("eu-de_production", PRODUCTION_ID), ("eu-de_staging", STAGING_ID)]
    return {
        "region": REGION,
        "projects": [
            {"id": pid, "name": name, "domain_id": DOMAIN_ID, "domain_name": DOMAIN_NAME}
            for name, pid in projects
        ],
        "users": [{"name": "demo-operator", "password": password, "domain_name": DOMAIN_NAME}],
        "access_keys": [{"access": access_key, "secret": secret_key, "domain_name": DOMAIN_NAME}],
        "endpoint_services": _services(),
        "endpoints": _endpoints(),
        "permissions": _permissions(),
        "quotas": {"endpoint_service": 20, "endpoint": 50},
    }
