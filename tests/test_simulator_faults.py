"""Injected faults, observed from a raw HTTP client: what arrives, when, and whether the call applied."""

from __future__ import annotations

import http.client
import json
import time

import pytest

from tests.conftest import RawApi, SimulatorHandle
from tests.seeds import service_path, services_path
from vpcepadmin.simulator.control import SimulatorControlError


@pytest.fixture
def target(simulator: SimulatorHandle) -> str:
    return service_path(simulator.seed["endpoint_services"][0]["id"])


def description_of(raw_api: RawApi, target: str) -> str:
    return str(raw_api.get(target).json()["description"])


def test_it_adds_latency_to_matching_calls_only(simulator, raw_api):
    simulator.add_fault(action="latency", seconds=0.4, match={"path": "vpc-endpoint-services$"})
    for _ in range(2):
        started = time.monotonic()
        assert raw_api.get(services_path()).status == 200
        assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    raw_api.get("/", auth=False)
    assert time.monotonic() - started < 0.3


def test_it_fails_the_next_n_matching_calls_with_a_status(simulator, raw_api, target):
    simulator.add_fault(action="status", status=503, count=2, retry_after=7, match={"method": "GET"})
    assert raw_api.put(target, {"description": "writes pass"}).status == 200
    failed = [raw_api.get(target) for _ in range(2)]
    assert [(r.status, r.headers["retry-after"]) for r in failed] == [(503, "7"), (503, "7")]
    assert failed[0].json()["error_code"] == "APIGW.0201"
    assert raw_api.get(target).status == 200
    assert simulator.control.faults() == []


def test_it_lets_the_first_n_matching_calls_through_when_asked_to_skip(simulator, raw_api, target):
    simulator.add_fault(action="status", status=500, skip=2, count=1, match={"method": "GET"})
    assert [raw_api.get(target).status for _ in range(4)] == [200, 200, 500, 200]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ("flat", {"error_code": "EndPoint.0022", "error_msg": "slow down"}),
        ("nested", {"error": {"code": "EndPoint.0022", "message": "slow down"}}),
        ("apigw", {"error_code": "EndPoint.0022", "error_msg": "slow down", "request_id": "<id>"}),
    ],
)
def test_it_answers_in_each_error_shape(simulator, raw_api, shape, expected):
    simulator.add_fault(
        action="status", status=400, error_code="EndPoint.0022", error_msg="slow down", shape=shape
    )
    response = raw_api.get(services_path())
    body = response.json()
    if "request_id" in expected:
        expected = {**expected, "request_id": response.request_id}
    assert (response.status, body) == (400, expected)


def test_it_answers_an_html_error_page(simulator, raw_api):
    simulator.add_fault(action="status", status=502, shape="html")
    response = raw_api.get(services_path())
    assert (response.status, response.headers["content-type"]) == (502, "text/html")
    assert response.body.startswith(b"<html>")


def test_it_fires_by_rate_instead_of_count(simulator, raw_api):
    simulator.add_fault(action="status", status=500, rate=0.0)
    assert {raw_api.get(services_path()).status for _ in range(5)} == {200}
    simulator.control.clear_faults()
    simulator.add_fault(action="status", status=500, rate=1.0)
    assert {raw_api.get(services_path()).status for _ in range(3)} == {500}
    simulator.control.clear_faults()
    simulator.add_fault(action="status", status=500, rate=1.0, count=2)
    assert [raw_api.get(services_path()).status for _ in range(3)] == [500, 500, 200]


def test_it_sends_truncated_json_or_an_html_page_with_200(simulator, raw_api, target):
    simulator.add_fault(action="malformed")
    truncated = raw_api.get(target)
    assert truncated.status == 200
    with pytest.raises(ValueError, match=r"Unterminated|Expecting"):
        json.loads(truncated.body)
    simulator.add_fault(action="malformed", html=True)
    page = raw_api.get(target)
    assert (page.status, page.headers["content-type"]) == (200, "text/html")


def test_it_cuts_a_body_short_of_its_content_length(simulator, raw_api, target):
    simulator.add_fault(action="malformed", short=True)
    with pytest.raises(http.client.IncompleteRead):
        raw_api.get(target)


def test_it_sends_an_oversized_valid_body(simulator, raw_api):
    simulator.add_fault(action="oversize", size=300_000)
    response = raw_api.get(services_path())
    assert len(response.body) == 300_000
    assert response.json()["total_count"] == 0


def test_it_resets_before_applying(simulator, raw_api, target):
    simulator.add_fault(action="reset_before", match={"method": "PUT"})
    with pytest.raises(ConnectionError):
        raw_api.put(target, {"description": "lost"})
    assert description_of(raw_api, target) == ""
    [put] = simulator.journal(method="PUT")
    assert (put["status"], put["body"]) == (0, {"description": "lost"})


def test_it_resets_after_applying(simulator, raw_api, target):
    simulator.add_fault(action="reset_after", match={"method": "PUT"})
    with pytest.raises(ConnectionError):
        raw_api.put(target, {"description": "applied"})
    assert description_of(raw_api, target) == "applied"
    assert [entry["status"] for entry in simulator.journal(method="PUT")] == [0]


def test_it_applies_then_holds_the_answer_past_the_client_timeout(simulator, raw_api, target):
    simulator.add_fault(action="apply_then_timeout", seconds=1.0, match={"method": "PUT"})
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        raw_api.put(target, {"description": "applied late"}, timeout=0.3)
    assert time.monotonic() - started < 0.9
    assert description_of(raw_api, target) == "applied late"
    assert [entry["status"] for entry in simulator.journal(method="PUT")] == [200]


def test_it_drips_the_body_with_a_correct_content_length(simulator, raw_api):
    simulator.add_fault(action="drip", interval=0.02, chunk=8, match={"path": "^/v1$"})
    connection = http.client.HTTPConnection(raw_api.host, raw_api.port, timeout=5)
    started = time.monotonic()
    connection.request("GET", "/v1")
    response = connection.getresponse()
    first = response.read(1)
    first_at = time.monotonic() - started
    rest = response.read()
    total = time.monotonic() - started
    connection.close()
    body = first + rest
    assert int(response.getheader("Content-Length", "-1")) == len(body)
    assert json.loads(body)["version"]["id"] == "v1"
    chunks = -(-len(body) // 8)
    assert first_at < 0.2
    assert total >= (chunks - 1) * 0.02 * 0.9


def test_it_redirects_without_applying(simulator, raw_api, target):
    simulator.add_fault(action="redirect", location="http://169.254.169.254/", match={"method": "PUT"})
    response = raw_api.put(target, {"description": "elsewhere"})
    assert (response.status, response.headers["location"]) == (307, "http://169.254.169.254/")
    assert description_of(raw_api, target) == ""


def test_it_can_apply_a_call_and_still_answer_an_error(simulator, raw_api, target):
    simulator.add_fault(action="status", status=502, apply=True, match={"method": "PUT"})
    assert raw_api.put(target, {"description": "applied anyway"}).status == 502
    assert description_of(raw_api, target) == "applied anyway"


def test_it_journals_faulted_calls_and_forgets_faults_on_reset(simulator, raw_api):
    simulator.add_fault(action="status", status=429, match={"path": "/quotas$"}, count=5)
    assert [fault["remaining"] for fault in simulator.control.faults()] == [5]
    raw_api.get(services_path().replace("vpc-endpoint-services", "quotas"))
    assert [entry["status"] for entry in simulator.journal(path_contains="/quotas")] == [429]
    simulator.reset(simulator.seed)
    assert simulator.control.faults() == []
    assert simulator.journal() == []


@pytest.mark.parametrize(
    "spec",
    [
        {"action": "explode"},
        {"action": "status", "status": 99},
        {"action": "status", "shape": "xml"},
        {"action": "latency", "seconds": -1},
        {"action": "status", "count": 0},
        {"action": "status", "rate": 1.5},
        {"action": "status", "match": {"host": "x"}},
        {"action": "status", "colour": "red"},
    ],
)
def test_it_refuses_a_malformed_fault(simulator, spec):
    with pytest.raises(SimulatorControlError, match="400"):
        simulator.add_fault(**spec)
    assert simulator.control.faults() == []
