"""The control API under /_sim/: reset, journal, state, config, and how it refuses bad input."""

from __future__ import annotations

import http.client
import re

import pytest

from tests.seeds import PROJECT_ID, service_path, services_path, standard_seed
from vpcepadmin.simulator.control import SimulatorControl, SimulatorControlError


def test_it_replaces_the_whole_state_on_reset(simulator, raw_api):
    raw_api.put(service_path(simulator.seed["endpoint_services"][0]["id"]), {"description": "changed"})
    token = raw_api.token()
    summary = simulator.control.reset(standard_seed(services=5))
    assert summary == {"projects": 3, "endpoint_services": 5}
    assert raw_api.get(services_path()).json()["total_count"] == 5
    assert raw_api.get(services_path(), token=token).status == 401
    assert raw_api.get(service_path(simulator.seed["endpoint_services"][0]["id"])).json()["description"] == ""
    assert [entry["status"] for entry in simulator.journal()] == [200, 401, 200]  # nothing from before


def test_it_journals_each_call_with_what_was_sent_and_answered(simulator, raw_api):
    target = service_path(simulator.seed["endpoint_services"][0]["id"])
    listed = raw_api.get(services_path(), query=[("limit", "2"), ("endpoint_service_name", "a b")])
    raw_api.request("PUT", target, body=b"not json")
    put = raw_api.put(target, {"description": "x"})
    entries = simulator.journal()
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", services_path(), 200),
        ("PUT", target, 400),
        ("PUT", target, 200),
    ]
    assert entries[0]["query"] == "endpoint_service_name=a%20b&limit=2"
    assert (entries[0]["body"], entries[1]["body"], entries[2]["body"]) == (
        None,
        "not json",
        {"description": "x"},
    )
    assert (entries[0]["request_id"], entries[2]["request_id"]) == (listed.request_id, put.request_id)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", entries[0]["time"])
    assert simulator.journal(method="put", path_contains=PROJECT_ID) == entries[1:]
    simulator.control.clear_journal()
    assert simulator.journal() == []


def test_it_dumps_the_state_as_a_seed_document(simulator):
    state = simulator.control.state()
    assert [s["id"] for s in state["endpoint_services"]] == [
        s["id"] for s in simulator.seed["endpoint_services"]
    ]
    assert state["endpoint_services"][0]["created_at"] == "2026-01-01T00:00:00.000000Z"
    assert state["quotas"] == {"endpoint_service": 20, "endpoint": 50}


@pytest.mark.parametrize(
    "seed",
    [
        {"projects": [{"name": "no id"}]},
        {"endpoint_services": [{"status": "available"}]},
        {"projects": [{"id": "a" * 32}], "endpoint_services": [{"status": "gone"}]},
        {"projects": [{"id": "a" * 32}], "endpoints": [{"service_id": "missing"}]},
        {"region": 5},
        [],
    ],
)
def test_it_refuses_a_malformed_seed_and_keeps_the_state(simulator, raw_api, seed):
    with pytest.raises(SimulatorControlError, match="400"):
        simulator.control.reset(seed)
    assert raw_api.get(services_path()).json()["total_count"] == 3


def test_it_refuses_bad_timings(simulator):
    for timings in ({"creating_seconds": -1}, {"creating_seconds": "soon"}, {"brewing_seconds": 1}):
        with pytest.raises(SimulatorControlError, match="400"):
            simulator.control.configure(**timings)
    assert simulator.control.configure(deleting_seconds=0.5) == {
        "creating_seconds": 0.2,
        "deleting_seconds": 0.5,
    }


def test_it_answers_404_for_an_unknown_control_route(simulator):
    connection = http.client.HTTPConnection(simulator.url.removeprefix("http://"), timeout=2)
    connection.request("GET", "/_sim/nothing")
    assert connection.getresponse().status == 404
    connection.close()


def test_it_takes_only_http_urls():
    with pytest.raises(ValueError, match="http"):
        SimulatorControl("file:///etc/passwd")
