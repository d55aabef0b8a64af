"""Named test data for the simulated cloud: one account with two projects, and a foreign account.

``standard_seed()`` is what the ``simulator`` fixture loads before every test; ``service()`` builds one
seed service in ``PROJECT_ID`` for tests that need a particular one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

REGION = "eu-de"
DOMAIN_NAME = "OTC-EU-DE-test"
DOMAIN_ID = "d0d0c0c0b0b0a0a0d0d0c0c0b0b0a0a0"
PROJECT_ID = "0123456789abcdef0123456789abcdef"
PROJECT_NAME = "eu-de"
OTHER_PROJECT_ID = "fedcba9876543210fedcba9876543210"
OTHER_PROJECT_NAME = "eu-de_other"
FOREIGN_DOMAIN_NAME = "OTC-EU-DE-foreign"
FOREIGN_DOMAIN_ID = "f0f0e0e0d0d0c0c0f0f0e0e0d0d0c0c0"
FOREIGN_PROJECT_ID = "99999999999999999999999999999999"
USERNAME = "operator"
PASSWORD = "correct-horse-battery-staple"
FOREIGN_USERNAME = "intruder"
FOREIGN_PASSWORD = "another-battery-staple"
# The access key of the signing vectors in vpcep-api.md §10.4.
ACCESS_KEY = "AKTESTEXAMPLE0000001"
SECRET_KEY = "SKtestExampleSecretKey0000000000000000001"
FOREIGN_ACCESS_KEY = "AKFOREIGNEXAMPLE0001"
FOREIGN_SECRET_KEY = "SKforeignExampleSecretKey000000000000001"
VPC_ID = "2d0e4f6a-8b1c-4d3e-9f5a-7b6c8d9e0f1a"
FIRST_CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def stable_uuid(*parts: object) -> str:
    """A UUID that is the same every run, for ids tests want to name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "vpcepadmin-tests/" + "/".join(map(str, parts))))


def service(**overrides: Any) -> dict[str, Any]:
    """A seed endpoint service in ``PROJECT_ID``: available, LB, one 443→8443 mapping, fresh ids."""
    document: dict[str, Any] = {
        "project_id": PROJECT_ID,
        "id": str(uuid.uuid4()),
        "service_name": "test-svc",
        "port_id": str(uuid.uuid4()),
        "vpc_id": VPC_ID,
        "server_type": "LB",
        "approval_enabled": True,
        "ports": [{"client_port": 443, "server_port": 8443, "protocol": "TCP"}],
        "description": "",
        "tcp_proxy": "close",
        "status": "available",
        "created_at": "2026-01-01T00:00:00Z",
    }
    document.update(overrides)
    return document


def numbered_services(count: int, project_id: str = PROJECT_ID) -> list[dict[str, Any]]:
    """``count`` services ``service-00``…, created one day apart (service-00 first), stable ids."""
    return [
        service(
            project_id=project_id,
            id=stable_uuid(project_id, "service", index),
            service_name=f"service-{index:02d}",
            port_id=stable_uuid(project_id, "port", index),
            created_at=(FIRST_CREATED + timedelta(days=index)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        for index in range(count)
    ]


def standard_seed(services: int = 3, **extra: Any) -> dict[str, Any]:
    """The account (two projects, a user, an access key), a foreign account, and ``services``
    numbered services in ``PROJECT_ID``. Keys of ``extra`` replace the top-level keys."""
    document: dict[str, Any] = {
        "region": REGION,
        "projects": [
            {"id": PROJECT_ID, "name": PROJECT_NAME, "domain_id": DOMAIN_ID, "domain_name": DOMAIN_NAME},
            {
                "id": OTHER_PROJECT_ID,
                "name": OTHER_PROJECT_NAME,
                "domain_id": DOMAIN_ID,
                "domain_name": DOMAIN_NAME,
            },
            {
                "id": FOREIGN_PROJECT_ID,
                "name": REGION,
                "domain_id": FOREIGN_DOMAIN_ID,
                "domain_name": FOREIGN_DOMAIN_NAME,
            },
        ],
        "users": [
            {"name": USERNAME, "password": PASSWORD, "domain_name": DOMAIN_NAME},
            {"name": FOREIGN_USERNAME, "password": FOREIGN_PASSWORD, "domain_name": FOREIGN_DOMAIN_NAME},
        ],
        "access_keys": [
            {"access": ACCESS_KEY, "secret": SECRET_KEY, "domain_name": DOMAIN_NAME},
            {"access": FOREIGN_ACCESS_KEY, "secret": FOREIGN_SECRET_KEY, "domain_name": FOREIGN_DOMAIN_NAME},
        ],
        "endpoint_services": numbered_services(services),
    }
    document.update(extra)
    return document


def token_request(
    username: str,
    password: str,
    domain_name: str,
    project_id: str | None = None,
    project_name: str | None = None,
) -> dict[str, Any]:
    """The IAM password-method body of vpcep-api.md §10.1."""
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {"user": {"name": username, "password": password, "domain": {"name": domain_name}}},
        }
    }
    if project_id is not None:
        auth["scope"] = {"project": {"id": project_id}}
    elif project_name is not None:
        auth["scope"] = {"project": {"name": project_name}}
    return {"auth": auth}


def services_path(project_id: str = PROJECT_ID) -> str:
    return f"/v1/{project_id}/vpc-endpoint-services"


def service_path(service_id: str, project_id: str = PROJECT_ID) -> str:
    return f"{services_path(project_id)}/{service_id}"
