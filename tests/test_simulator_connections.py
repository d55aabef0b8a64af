"""Connections of a service over real HTTP: list, filters, receive/reject one at a time (api §7.1)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RawApi, RawResponse, SimulatorHandle
from tests.seeds import service, service_path, stable_uuid, standard_seed

SERVICE_ID = stable_uuid("connections", "service")
OTHER_SERVICE_ID = stable_uuid("connections", "other")
PENDING, ACCEPTED, REJECTED, CREATING, ELSEWHERE = (stable_uuid("endpoint", n) for n in range(5))


@pytest.fixture
def connected(simulator: SimulatorHandle) -> SimulatorHandle:
    endpoints = [
        {
            "id": PENDING,
            "service_id": SERVICE_ID,
            "status": "pendingAcceptance",
            "marker_id": 16777301,
            "created_at": "2026-02-01T00:00:00Z",
        },
        {
            "id": ACCEPTED,
            "service_id": SERVICE_ID,
            "status": "accepted",
            "marker_id": 16777302,
            "created_at": "2026-02-02T00:00:00Z",
        },
        {
            "id": REJECTED,
            "service_id": SERVICE_ID,
            "status": "rejected",
            "marker_id": 16777303,
            "created_at": "2026-02-03T00:00:00Z",
        },
        {
            "id": CREATING,
            "service_id": SERVICE_ID,
            "status": "creating",
            "marker_id": 16777304,
            "created_at": "2026-02-04T00:00:00Z",
        },
        {"id": ELSEWHERE, "service_id": OTHER_SERVICE_ID, "status": "pendingAcceptance"},
    ]
    services = [service(id=SERVICE_ID), service(id=OTHER_SERVICE_ID)]
    simulator.reset(standard_seed(services=0, endpoint_services=services, endpoints=endpoints))
    return simulator


def connections(raw_api: RawApi, **params: object) -> dict[str, Any]:
    path = service_path(SERVICE_ID) + "/connections"
    response = raw_api.get(path, query=[(key, str(value)) for key, value in params.items()])
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def act(raw_api: RawApi, action: str, endpoints: list[str], service_id: str = SERVICE_ID) -> RawResponse:
    return raw_api.post(
        service_path(service_id) + "/connections/action", {"action": action, "endpoints": endpoints}
    )


def assert_error(response: RawResponse, status: int, code: str) -> None:
    assert (response.status, response.json()["error_code"]) == (status, code), response.body


def test_it_lists_the_connections_of_the_service_newest_first(connected, raw_api):
    body = connections(raw_api)
    assert [item["id"] for item in body["connections"]] == [CREATING, REJECTED, ACCEPTED, PENDING]
    assert body["total_count"] == 4
    first = body["connections"][-1]
    assert set(first) == {"id", "marker_id", "created_at", "updated_at", "domain_id", "status", "description"}
    assert first["marker_id"] == 16777301


def test_it_filters_and_pages_connections(connected, raw_api):
    assert [c["id"] for c in connections(raw_api, status="accepted")["connections"]] == [ACCEPTED]
    assert [c["id"] for c in connections(raw_api, marker_id=16777303)["connections"]] == [REJECTED]
    assert [c["id"] for c in connections(raw_api, id=PENDING)["connections"]] == [PENDING]
    paged = connections(raw_api, limit=2, offset=1, sort_dir="asc")
    assert ([c["id"] for c in paged["connections"]], paged["total_count"]) == ([ACCEPTED, REJECTED], 4)


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        ("status", "approved", "EndPoint.0019"),
        ("marker_id", "x1", "EndPoint.0021"),
        ("limit", "0", "EndPoint.0006"),
    ],
)
def test_it_refuses_bad_connection_filters(connected, raw_api, param, value, code):
    response = raw_api.get(service_path(SERVICE_ID) + "/connections", query=[(param, value)])
    assert_error(response, 400, code)


def test_it_accepts_a_pending_endpoint_with_receive(connected, raw_api):
    response = act(raw_api, "receive", [PENDING])
    assert response.status == 200
    [connection] = response.json()["connections"]
    assert (connection["id"], connection["status"]) == (PENDING, "accepted")
    assert [c["status"] for c in connections(raw_api, id=PENDING)["connections"]] == ["accepted"]


def test_it_rejects_an_accepted_endpoint_and_accepts_a_rejected_one(connected, raw_api):
    assert act(raw_api, "reject", [ACCEPTED]).json()["connections"][0]["status"] == "rejected"
    assert act(raw_api, "receive", [REJECTED]).json()["connections"][0]["status"] == "accepted"


@pytest.mark.parametrize("endpoints", [[], [PENDING, ACCEPTED]], ids=["none", "two"])
def test_it_takes_exactly_one_endpoint_per_call(connected, raw_api, endpoints):
    assert_error(act(raw_api, "receive", endpoints), 400, "EndPoint.2031")


def test_it_refuses_an_endpoint_of_another_service(connected, raw_api):
    assert_error(act(raw_api, "receive", [ELSEWHERE]), 400, "EndPoint.2013")
    assert_error(act(raw_api, "receive", [stable_uuid("nobody")]), 400, "EndPoint.2013")


def test_it_refuses_accept_as_a_verb_and_an_endpoint_being_created(connected, raw_api):
    assert_error(act(raw_api, "accept", [PENDING]), 400, "EndPoint.2027")
    assert_error(act(raw_api, "receive", [CREATING]), 400, "EndPoint.2019")


def test_it_answers_404_for_connections_of_an_unknown_service(connected, raw_api):
    assert_error(raw_api.get(service_path(stable_uuid("gone")) + "/connections"), 404, "EndPoint.0005")
    assert_error(act(raw_api, "receive", [PENDING], service_id=stable_uuid("gone")), 404, "EndPoint.0005")


def test_it_leaves_the_service_untouched_by_a_connection_action(connected, raw_api):
    before = raw_api.get(service_path(SERVICE_ID)).json()
    act(raw_api, "receive", [PENDING])
    assert raw_api.get(service_path(SERVICE_ID)).json() == before
