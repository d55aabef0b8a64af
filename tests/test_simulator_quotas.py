"""Quotas and versions over real HTTP (api §7.3, §7.5)."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import RawApi
from tests.seeds import OTHER_PROJECT_ID, PROJECT_ID, VPC_ID, services_path, standard_seed


def quotas(raw_api: RawApi, project_id: str = PROJECT_ID, **params: str) -> dict[str, tuple[int, int]]:
    response = raw_api.get(f"/v1/{project_id}/quotas", query=list(params.items()))
    assert response.status == 200, response.body
    return {item["type"]: (item["used"], item["quota"]) for item in response.json()["quotas"]["resources"]}


def test_it_reports_the_quotas_with_what_is_really_used(simulator, raw_api):
    endpoints = [
        {
            "service_id": simulator.seed["endpoint_services"][0]["id"],
            "project_id": PROJECT_ID,
            "status": "accepted",
        },
        {"service_id": simulator.seed["endpoint_services"][0]["id"], "status": "accepted"},
    ]
    simulator.reset(standard_seed(endpoints=endpoints))
    assert quotas(raw_api) == {"endpoint_service": (3, 20), "endpoint": (1, 50)}
    assert quotas(raw_api, OTHER_PROJECT_ID) == {"endpoint_service": (0, 20), "endpoint": (0, 50)}


def test_it_counts_a_created_service_and_narrows_by_type(raw_api):
    body = {
        "port_id": str(uuid.uuid4()),
        "vpc_id": VPC_ID,
        "server_type": "LB",
        "ports": [{"client_port": 1, "server_port": 1}],
    }
    assert raw_api.post(services_path(), body).status == 200
    assert quotas(raw_api, type="endpoint_service") == {"endpoint_service": (4, 20)}


def test_it_takes_quota_limits_from_the_seed(simulator, raw_api):
    simulator.reset(standard_seed(quotas={"endpoint_service": 3}))
    assert quotas(raw_api)["endpoint_service"] == (3, 3)
    body = {
        "port_id": str(uuid.uuid4()),
        "vpc_id": VPC_ID,
        "server_type": "LB",
        "ports": [{"client_port": 1, "server_port": 1}],
    }
    assert raw_api.post(services_path(), body).json()["error_code"] == "Endpoint.1018"


def test_it_refuses_an_unknown_quota_type(raw_api):
    response = raw_api.get(f"/v1/{PROJECT_ID}/quotas", query=[("type", "vpc")])
    assert (response.status, response.json()["error_code"]) == (400, "EndPoint.0002")


def test_it_lists_the_api_versions_without_authentication(simulator, raw_api):
    response = raw_api.get("/", auth=False)
    assert response.status == 200
    versions = {item["id"]: item for item in response.json()["versions"]}
    assert versions["v1"]["status"] == "CURRENT"
    assert versions["v1"]["links"][0]["href"] == f"{simulator.url}/v1/"


@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_it_shows_one_version(raw_api, path):
    response = raw_api.get(path, auth=False)
    assert response.status == 200
    assert response.json()["version"]["id"] == "v1"
