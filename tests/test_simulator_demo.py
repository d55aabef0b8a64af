"""The demo seed: lived-in data in every state, fresh credentials, and a simulator that serves it."""

from __future__ import annotations

import collections

from tests.conftest import RawApi
from vpcepadmin.simulator.demo import DOMAIN_NAME, PRODUCTION_ID, STAGING_ID, demo_seed
from vpcepadmin.simulator.server import SimulatorServer


def test_it_spreads_about_thirty_varied_services_over_two_projects():
    seed = demo_seed()
    services = seed["endpoint_services"]
    assert [p["name"] for p in seed["projects"]] == ["eu-de_production", "eu-de_staging"]
    assert {p["domain_name"] for p in seed["projects"]} == {DOMAIN_NAME}
    assert 25 <= len(services) <= 35
    per_project = collections.Counter(s["project_id"] for s in services)
    assert set(per_project) == {PRODUCTION_ID, STAGING_ID}
    assert max(per_project.values()) < 20  # room to create one in the demo
    assert {"available", "creating", "failed", "deleting"} <= {s["status"] for s in services}
    assert max(len(s["ports"]) for s in services) >= 150
    assert {s["server_type"] for s in services} == {"LB", "VM"}
    assert {s["approval_enabled"] for s in services} == {True, False}
    assert "" in {s["service_name"] for s in services}
    assert all(len(s["service_name"]) <= 16 and len(s["description"]) <= 128 for s in services)
    assert {e["status"] for e in seed["endpoints"]} >= {"accepted", "pendingAcceptance", "rejected"}
    assert seed["permissions"]


def test_it_makes_fresh_credentials_unless_given():
    first, second = demo_seed(), demo_seed()
    assert first["access_keys"][0]["secret"] != second["access_keys"][0]["secret"]
    assert first["users"][0]["password"] != second["users"][0]["password"]
    assert len(first["access_keys"][0]["access"]) == 20
    given = demo_seed(access_key="AK1", secret_key="SK1", password="pw")
    assert (given["access_keys"][0]["access"], given["access_keys"][0]["secret"]) == ("AK1", "SK1")
    assert given["endpoint_services"] == first["endpoint_services"]


def test_it_serves_the_demo_and_keeps_its_transitional_states():
    with SimulatorServer(
        seed=demo_seed(access_key="AKDEMO", secret_key="SKDEMO"), creating_seconds=0
    ) as server:
        api = RawApi(server.url)
        path = f"/v1/{PRODUCTION_ID}/vpc-endpoint-services"
        response = api.get(
            path, query=[("limit", "1000"), ("status", "creating")], access_key="AKDEMO", secret_key="SKDEMO"
        )
        assert response.json()["total_count"] == 1
        assert "demo-operator" in server.describe()
        assert "SKDEMO" in server.describe()
