"""Asynchronous lifecycle and persistence: creating → available, deleting → gone, the state file."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.conftest import LIFECYCLE_SECONDS, RawApi
from tests.seeds import VPC_ID, service, service_path, services_path, standard_seed
from vpcepadmin.simulator.server import SimulatorServer


def create(raw_api: RawApi, **overrides: Any) -> dict[str, Any]:
    body = {
        "port_id": str(uuid.uuid4()),
        "vpc_id": VPC_ID,
        "server_type": "VM",
        "ports": [{"client_port": 22, "server_port": 22}],
        **overrides,
    }
    response = raw_api.post(services_path(), body)
    assert response.status == 200, response.body
    created: dict[str, Any] = response.json()
    return created


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_it_turns_a_new_service_available_after_the_delay(raw_api):
    created = create(raw_api)
    assert raw_api.get(service_path(created["id"])).json()["status"] == "creating"
    started = time.monotonic()
    assert wait_for(lambda: raw_api.get(service_path(created["id"])).json()["status"] == "available")
    assert time.monotonic() - started < LIFECYCLE_SECONDS + 1


def test_it_refuses_to_modify_a_service_while_it_is_being_created(raw_api):
    created = create(raw_api)
    response = raw_api.put(service_path(created["id"]), {"description": "too early"})
    assert (response.status, response.json()["error_code"]) == (400, "EndPoint.3045")
    assert wait_for(lambda: raw_api.put(service_path(created["id"]), {"description": "now"}).status == 200)


def test_it_shows_deleting_then_forgets_the_service(simulator, raw_api):
    service_id = simulator.seed["endpoint_services"][0]["id"]
    assert raw_api.delete(service_path(service_id)).status == 204
    assert raw_api.get(service_path(service_id)).json()["status"] == "deleting"
    assert raw_api.delete(service_path(service_id)).status == 204
    assert wait_for(lambda: raw_api.get(service_path(service_id)).status == 404)
    listed = raw_api.get(services_path()).json()
    assert service_id not in [item["id"] for item in listed["endpoint_services"]]
    assert listed["total_count"] == 2
    assert raw_api.get(service_path(service_id)).json()["error_code"] == "EndPoint.0005"


def test_it_forgets_the_endpoints_and_whitelist_of_a_deleted_service(simulator, raw_api):
    target = simulator.seed["endpoint_services"][0]["id"]
    seed = standard_seed(
        endpoints=[{"service_id": target, "status": "rejected"}],
        permissions=[{"service_id": target, "permission": "*"}],
    )
    simulator.reset(seed)
    raw_api.delete(service_path(target))
    assert wait_for(lambda: raw_api.get(service_path(target)).status == 404)
    state = simulator.control.state()
    assert (state["endpoints"], state["permissions"]) == ([], [])


def test_it_keeps_seeded_transitional_states_without_a_transition_time(simulator, raw_api):
    seeded = [service(status="creating"), service(status="deleting")]
    simulator.reset(standard_seed(services=0, endpoint_services=seeded))
    time.sleep(LIFECYCLE_SECONDS + 0.1)
    statuses = sorted(item["status"] for item in raw_api.get(services_path()).json()["endpoint_services"])
    assert statuses == ["creating", "deleting"]


def test_it_honours_a_seeded_transition_time(simulator, raw_api):
    pending = service(status="creating", transition_after=0.1, updated_at="2026-01-01T00:00:00Z")
    simulator.reset(standard_seed(services=0, endpoint_services=[pending]))
    assert wait_for(lambda: raw_api.get(service_path(pending["id"])).json()["status"] == "available")
    assert raw_api.get(service_path(pending["id"])).json()["updated_at"] > "2026-01-01T00:00:00Z"


def test_it_uses_the_configured_timings_until_the_next_reset(simulator, raw_api):
    assert simulator.control.configure(creating_seconds=30)["creating_seconds"] == 30
    created = create(raw_api)
    time.sleep(LIFECYCLE_SECONDS + 0.1)
    assert raw_api.get(service_path(created["id"])).json()["status"] == "creating"
    simulator.reset(standard_seed())
    assert simulator.control.state()["timings"]["creating_seconds"] == LIFECYCLE_SECONDS


def test_it_saves_every_change_to_the_state_file_and_loads_it_at_start(tmp_path):
    state_file = tmp_path / "state.json"
    with SimulatorServer(seed=standard_seed(services=1), state_file=state_file, creating_seconds=0) as first:
        api = RawApi(first.url)
        created = create(api, service_name="persisted")
        api.put(service_path(created["id"]), {"description": "kept"})
        saved = json.loads(state_file.read_text())
        assert [s["service_name"] for s in saved["endpoint_services"]] == ["service-00", "persisted"]
        before = api.get(service_path(created["id"])).json()
    with SimulatorServer(seed=standard_seed(services=3), state_file=state_file) as second:
        api = RawApi(second.url)
        after = api.get(service_path(created["id"])).json()
        assert after == before
        assert api.get(services_path()).json()["total_count"] == 2
    assert not list(tmp_path.glob(".state.json.*"))


def test_it_writes_a_state_file_that_is_itself_a_seed(simulator, raw_api):
    create(raw_api, service_name="roundtrip")
    state = simulator.control.state()
    simulator.reset(state)
    assert simulator.control.state() == state
