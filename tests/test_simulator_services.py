"""Endpoint services over real HTTP: detail, create, modify, delete and every input rule (api §2, §4–§6)."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import RawResponse, SimulatorHandle
from tests.seeds import (
    FOREIGN_PROJECT_ID,
    OTHER_PROJECT_ID,
    PROJECT_ID,
    REGION,
    VPC_ID,
    service,
    service_path,
    services_path,
    stable_uuid,
    standard_seed,
)

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def create_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "port_id": str(uuid.uuid4()),
        "vpc_id": VPC_ID,
        "server_type": "LB",
        "service_name": "fresh",
        "ports": [{"client_port": 80, "server_port": 8080, "protocol": "TCP"}],
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def first_id(simulator: SimulatorHandle) -> str:
    return str(simulator.seed["endpoint_services"][0]["id"])


def assert_error(response: RawResponse, status: int, code: str) -> None:
    assert (response.status, response.json()["error_code"]) == (status, code), response.body


def test_it_shows_a_service_with_the_detail_fields(simulator, raw_api):
    seeded = simulator.seed["endpoint_services"][0]
    response = raw_api.get(service_path(seeded["id"]))
    assert response.status == 200
    body = response.json()
    assert body["service_name"] == f"{REGION}.service-00.{seeded['id']}"
    assert body["ports"] == [{"client_port": 443, "server_port": 8443, "protocol": "TCP"}]
    assert (body["created_at"], body["updated_at"]) == ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert body["project_id"] == PROJECT_ID
    assert body["status"] == "available"
    assert "connection_count" not in body
    assert "domain_id" not in body


def test_it_answers_404_endpoint_0005_for_an_unknown_service(raw_api):
    assert_error(raw_api.get(service_path(UNKNOWN_ID)), 404, "EndPoint.0005")
    assert_error(raw_api.put(service_path(UNKNOWN_ID), {"description": "x"}), 404, "EndPoint.0005")
    assert_error(raw_api.delete(service_path(UNKNOWN_ID)), 404, "EndPoint.0005")


def test_it_hides_a_service_of_another_project_of_the_same_account(simulator, raw_api):
    assert_error(raw_api.get(service_path(first_id(simulator), OTHER_PROJECT_ID)), 404, "EndPoint.0005")


def test_it_creates_a_service_in_creating_with_the_documented_defaults(raw_api):
    response = raw_api.post(services_path(), create_body())
    assert response.status == 200
    body = response.json()
    assert body["status"] == "creating"
    assert body["service_name"] == f"{REGION}.fresh.{body['id']}"
    assert body["approval_enabled"] is True
    assert body["tcp_proxy"] == "close"
    assert body["service_type"] == "interface"
    assert body["created_at"] == body["updated_at"]
    assert raw_api.get(service_path(body["id"])).json()["port_id"] == body["port_id"]


def test_it_defaults_the_protocol_to_tcp_and_names_an_unnamed_service_by_region_and_id(raw_api):
    body = raw_api.post(
        services_path(), create_body(service_name=..., ports=[{"client_port": 1, "server_port": 65535}])
    ).json()
    assert body["service_name"] == f"{REGION}.{body['id']}"
    assert body["ports"] == [{"client_port": 1, "server_port": 65535, "protocol": "TCP"}]


MAPPING = {"client_port": 80, "server_port": 8080, "protocol": "TCP"}

CREATE_RULES = [
    ("name too long", {"service_name": "a" * 17}, 400, "EndPoint.3076"),
    ("name with a dot", {"service_name": "bad.name"}, 400, "EndPoint.3076"),
    ("name with a space", {"service_name": "bad name"}, 400, "EndPoint.3076"),
    ("name not a string", {"service_name": 7}, 400, "EndPoint.0002"),
    ("description with <", {"description": "a <b>"}, 400, "EndPoint.0002"),
    ("description of 129", {"description": "d" * 129}, 400, "EndPoint.0002"),
    ("approval not a bool", {"approval_enabled": "true"}, 400, "EndPoint.0002"),
    ("unknown tcp_proxy", {"tcp_proxy": "on"}, 400, "EndPoint.0002"),
    ("gateway service type", {"service_type": "gateway"}, 400, "EndPoint.0002"),
    ("no port_id", {"port_id": ...}, 400, "EndPoint.0002"),
    ("no server_type", {"server_type": ...}, 400, "EndPoint.0002"),
    ("no vpc_id", {"vpc_id": ...}, 400, "EndPoint.2011"),
    ("empty vpc_id", {"vpc_id": ""}, 400, "EndPoint.2011"),
    ("vpc_id not a uuid", {"vpc_id": "vpc-1"}, 400, "EndPoint.0020"),
    ("unknown server_type", {"server_type": "ELB"}, 400, "EndPoint.3021"),
    ("port_id not a uuid", {"port_id": "port-1"}, 400, "EndPoint.3003"),
    ("no ports", {"ports": ...}, 400, "EndPoint.2028"),
    ("empty ports", {"ports": []}, 400, "EndPoint.2028"),
    ("ports not a list", {"ports": MAPPING}, 400, "EndPoint.0002"),
    ("mapping without server_port", {"ports": [{"client_port": 80}]}, 400, "EndPoint.2028"),
    ("mapping with null protocol", {"ports": [{**MAPPING, "protocol": None}]}, 400, "EndPoint.2028"),
    ("port as text", {"ports": [{**MAPPING, "client_port": "80"}]}, 400, "EndPoint.0002"),
    ("port 0", {"ports": [{**MAPPING, "client_port": 0}]}, 400, "EndPoint.3043"),
    ("port 65536", {"ports": [{**MAPPING, "server_port": 65536}]}, 400, "EndPoint.3043"),
    ("udp", {"ports": [{**MAPPING, "protocol": "UDP"}]}, 400, "EndPoint.3075"),
    ("identical rows", {"ports": [MAPPING, MAPPING]}, 400, "EndPoint.3044"),
    ("same client port", {"ports": [MAPPING, {**MAPPING, "server_port": 9090}]}, 400, "EndPoint.3044"),
    ("201 mappings", {"ports": [{**MAPPING, "client_port": p} for p in range(1, 202)]}, 400, "EndPoint.3074"),
    ("21 tags", {"tags": [{"key": f"k{i}", "value": "v"} for i in range(21)]}, 400, "EndPoint.3069"),
    ("empty tag key", {"tags": [{"key": "", "value": "v"}]}, 400, "EndPoint.3066"),
    (
        "duplicate tag key",
        {"tags": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]},
        400,
        "EndPoint.3067",
    ),
    ("tag key charset", {"tags": [{"key": "a#b", "value": "v"}]}, 400, "EndPoint.3068"),
]


@pytest.mark.parametrize(
    ("body", "status", "code"), [rule[1:] for rule in CREATE_RULES], ids=[r[0] for r in CREATE_RULES]
)
def test_it_refuses_an_invalid_create(simulator, raw_api, body, status, code):
    assert_error(raw_api.post(services_path(), create_body(**body)), status, code)
    assert raw_api.get(services_path()).json()["total_count"] == len(simulator.seed["endpoint_services"])


def test_it_accepts_the_limits_of_the_rules(raw_api):
    body = create_body(
        service_name="A-z_0123456789ab",
        description="d" * 128,
        ports=[{**MAPPING, "client_port": p, "server_port": p} for p in range(1, 201)],
        tags=[{"key": f"k{i}", "value": "v"} for i in range(20)],
        approval_enabled=False,
        tcp_proxy="proxy_open",
    )
    response = raw_api.post(services_path(), body)
    assert response.status == 200, response.body
    assert len(response.json()["ports"]) == 200


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_it_answers_an_empty_body_with_504_endpoint_0011(simulator, raw_api, method):
    path = services_path() if method == "POST" else service_path(first_id(simulator))
    assert_error(raw_api.request(method, path, body=b""), 504, "EndPoint.0011")


@pytest.mark.parametrize("body", [b"{", b"[1, 2]", b"\xff\xfe", b"null"])
def test_it_refuses_a_body_that_is_not_a_json_object(simulator, raw_api, body):
    assert_error(raw_api.request("PUT", service_path(first_id(simulator)), body=body), 400, "EndPoint.0002")


def test_it_refuses_the_21st_service_of_a_project_with_endpoint_1018(simulator, raw_api):
    simulator.reset(standard_seed(services=20))
    assert_error(raw_api.post(services_path(), create_body()), 400, "Endpoint.1018")
    assert raw_api.post(services_path(OTHER_PROJECT_ID), create_body()).status == 200


def test_it_never_exceeds_the_quota_under_concurrent_creates(simulator, raw_api):
    simulator.reset(standard_seed(services=15))
    statuses = []

    def create() -> None:
        statuses.append(raw_api.post(services_path(), create_body()).status)

    threads = [threading.Thread(target=create) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [400] * 7
    assert raw_api.get(services_path()).json()["total_count"] == 20


def test_it_refuses_a_server_port_already_used_on_the_same_port_id(simulator, raw_api):
    shared_port = simulator.seed["endpoint_services"][0]["port_id"]
    clash = [{"client_port": 1443, "server_port": 8443, "protocol": "TCP"}]
    assert_error(
        raw_api.post(services_path(), create_body(port_id=shared_port, ports=clash)), 400, "EndPoint.3044"
    )
    assert raw_api.post(services_path(), create_body(port_id=shared_port, ports=[MAPPING])).status == 200
    assert raw_api.post(services_path(), create_body(ports=clash)).status == 200


def test_it_updates_only_the_given_fields(simulator, raw_api):
    service_id = first_id(simulator)
    before = raw_api.get(service_path(service_id)).json()
    response = raw_api.put(service_path(service_id), {"approval_enabled": False, "nonsense": 1})
    assert response.status == 200
    after = response.json()
    assert after["approval_enabled"] is False
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {"approval_enabled", "updated_at"}
    assert raw_api.get(service_path(service_id)).json() == after


def test_it_moves_updated_at_on_every_modification_and_keeps_created_at(simulator, raw_api):
    service_id = first_id(simulator)
    started = datetime.now(UTC).replace(microsecond=0)
    body = raw_api.put(service_path(service_id), {}).json()
    updated = datetime.strptime(body["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (updated - started).total_seconds() >= 0
    assert body["created_at"] == "2026-01-01T00:00:00Z"


def test_it_replaces_the_whole_port_list(simulator, raw_api):
    service_id = first_id(simulator)
    new_ports = [{"client_port": 22, "server_port": 2222, "protocol": "TCP"}, MAPPING]
    assert raw_api.put(service_path(service_id), {"ports": new_ports}).json()["ports"] == new_ports
    assert raw_api.get(service_path(service_id)).json()["ports"] == new_ports


def test_it_rederives_the_full_name_and_clears_it_with_an_empty_name(simulator, raw_api):
    service_id = first_id(simulator)
    renamed = raw_api.put(service_path(service_id), {"service_name": "renamed"}).json()
    assert renamed["service_name"] == f"{REGION}.renamed.{service_id}"
    cleared = raw_api.put(service_path(service_id), {"service_name": ""}).json()
    assert cleared["service_name"] == f"{REGION}.{service_id}"


def test_it_clears_the_description_with_an_empty_string(simulator, raw_api):
    simulator.reset(standard_seed(services=0, endpoint_services=[service(id=UNKNOWN_ID, description="old")]))
    assert raw_api.put(service_path(UNKNOWN_ID), {"tcp_proxy": "open"}).json()["description"] == "old"
    assert raw_api.put(service_path(UNKNOWN_ID), {"description": ""}).json()["description"] == ""


UPDATE_RULES = [
    ("name", {"service_name": "x" * 17}, "EndPoint.3076"),
    ("description", {"description": ">"}, "EndPoint.0002"),
    ("approval", {"approval_enabled": 1}, "EndPoint.0002"),
    ("tcp_proxy", {"tcp_proxy": "OPEN"}, "EndPoint.0002"),
    ("port_id", {"port_id": "not-a-uuid"}, "EndPoint.3003"),
    ("port_id with ip", {"port_id": UNKNOWN_ID, "ip": "10.0.0.1"}, "EndPoint.3052"),
    ("ports out of range", {"ports": [{**MAPPING, "server_port": -1}]}, "EndPoint.3043"),
    ("ports duplicated", {"ports": [MAPPING, MAPPING]}, "EndPoint.3044"),
    ("ports empty", {"ports": []}, "EndPoint.2028"),
    ("201 ports", {"ports": [{**MAPPING, "client_port": p} for p in range(1, 202)]}, "EndPoint.3074"),
]


@pytest.mark.parametrize(
    ("body", "code"), [rule[1:] for rule in UPDATE_RULES], ids=[r[0] for r in UPDATE_RULES]
)
def test_it_refuses_an_invalid_modification_and_changes_nothing(simulator, raw_api, body, code):
    service_id = first_id(simulator)
    before = raw_api.get(service_path(service_id)).json()
    assert_error(raw_api.put(service_path(service_id), body), 400, code)
    assert raw_api.get(service_path(service_id)).json() == before


def test_it_checks_port_clashes_against_the_other_services_only(simulator, raw_api):
    services = simulator.seed["endpoint_services"]
    own = services[1]["id"]
    assert raw_api.put(service_path(own), {"ports": services[1]["ports"]}).status == 200
    # Moving service-01 onto service-00's backend port makes their 8443 mappings clash.
    assert_error(raw_api.put(service_path(own), {"port_id": services[0]["port_id"]}), 400, "EndPoint.3044")
    moved = {"port_id": services[0]["port_id"], "ports": [{**MAPPING, "server_port": 9443}]}
    assert raw_api.put(service_path(own), moved).status == 200


@pytest.mark.parametrize("status", ["creating", "failed", "deleting"])
def test_it_refuses_to_modify_a_service_that_is_not_available(simulator, raw_api, status):
    simulator.reset(standard_seed(services=0, endpoint_services=[service(id=UNKNOWN_ID, status=status)]))
    assert_error(raw_api.put(service_path(UNKNOWN_ID), {"description": "x"}), 400, "EndPoint.3045")


def test_it_shows_the_error_of_a_failed_service(simulator, raw_api):
    error = [{"error_code": "EndPoint.4010", "error_message": "Failed to create a port."}]
    simulator.reset(
        standard_seed(services=0, endpoint_services=[service(id=UNKNOWN_ID, status="failed", error=error)])
    )
    assert raw_api.get(service_path(UNKNOWN_ID)).json()["error"] == error


def test_it_deletes_with_204_and_an_empty_body(simulator, raw_api):
    response = raw_api.delete(service_path(first_id(simulator)))
    assert (response.status, response.body) == (204, b"")
    assert raw_api.get(service_path(first_id(simulator))).json()["status"] == "deleting"


def test_it_refuses_to_delete_a_service_with_accepted_or_creating_endpoints(simulator, raw_api):
    ids = [stable_uuid("svc", n) for n in range(3)]
    endpoints = [
        {"service_id": ids[0], "status": "accepted"},
        {"service_id": ids[1], "status": "creating"},
        {"service_id": ids[2], "status": "pendingAcceptance"},
        {"service_id": ids[2], "status": "rejected"},
    ]
    seed = standard_seed(services=0, endpoint_services=[service(id=i) for i in ids], endpoints=endpoints)
    simulator.reset(seed)
    assert_error(raw_api.delete(service_path(ids[0])), 400, "EndPoint.3006")
    assert_error(raw_api.delete(service_path(ids[1])), 400, "EndPoint.3006")
    assert raw_api.delete(service_path(ids[2])).status == 204


def test_it_refuses_services_of_a_project_of_another_account(simulator, raw_api):
    assert_error(raw_api.get(services_path(FOREIGN_PROJECT_ID)), 403, "EndPoint.0004")


def test_it_keeps_an_encoded_slash_inside_the_service_id(raw_api):
    response = raw_api.get(services_path() + "/..%2Fquotas")
    assert_error(response, 404, "EndPoint.0005")


NAME_RULE = re.compile(r"[A-Za-z0-9_-]{0,16}")


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
    | st.from_regex(NAME_RULE, fullmatch=True)
)
def test_it_accepts_exactly_the_documented_names(simulator, raw_api, name):
    response = raw_api.put(service_path(first_id(simulator)), {"service_name": name})
    if NAME_RULE.fullmatch(name):
        assert response.status == 200, response.body
    else:
        assert_error(response, 400, "EndPoint.3076")


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(client=st.integers(-2, 70000), server=st.integers(-2, 70000))
def test_it_accepts_exactly_the_ports_1_to_65535(simulator, raw_api, client, server):
    ports = [{"client_port": client, "server_port": server, "protocol": "TCP"}]
    response = raw_api.put(service_path(first_id(simulator)), {"ports": ports})
    if 1 <= client <= 65535 and 1 <= server <= 65535:
        assert response.status == 200, response.body
    else:
        assert_error(response, 400, "EndPoint.3043")
