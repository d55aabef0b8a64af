"""The list call's semantics over real HTTP: filters, order, paging, parameter errors (api §3, §13)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RawApi, RawResponse
from tests.seeds import (
    DOMAIN_ID,
    OTHER_PROJECT_ID,
    REGION,
    service,
    services_path,
    stable_uuid,
    standard_seed,
)


def listing(raw_api: RawApi, **params: object) -> dict[str, Any]:
    response = raw_api.get(services_path(), query=[(key, str(value)) for key, value in params.items()])
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def names(body: dict[str, Any]) -> list[str]:
    return [item["service_name"].split(".")[1] for item in body["endpoint_services"]]


def assert_error(response: RawResponse, code: str) -> None:
    assert (response.status, response.json()["error_code"]) == (400, code), response.body


def test_it_lists_newest_first_with_the_list_only_fields(raw_api):
    body = listing(raw_api)
    assert names(body) == ["service-02", "service-01", "service-00"]
    assert body["total_count"] == 3
    item = body["endpoint_services"][0]
    assert item["domain_id"] == DOMAIN_ID
    assert item["connection_count"] == 0


def test_it_counts_creating_and_accepted_endpoints_as_connections(simulator, raw_api):
    target = simulator.seed["endpoint_services"][0]["id"]
    endpoints = [
        {"service_id": target, "status": status}
        for status in ("creating", "accepted", "accepted", "pendingAcceptance", "rejected", "failed")
    ]
    simulator.reset(standard_seed(endpoints=endpoints))
    counts = {item["id"]: item["connection_count"] for item in listing(raw_api)["endpoint_services"]}
    assert counts[target] == 3


def test_it_defaults_the_limit_to_ten_and_counts_every_match(simulator, raw_api):
    simulator.reset(standard_seed(services=12))
    body = listing(raw_api)
    assert len(body["endpoint_services"]) == 10
    assert body["total_count"] == 12


def test_it_pages_with_limit_and_offset(simulator, raw_api):
    simulator.reset(standard_seed(services=7))
    pages = [names(listing(raw_api, limit=3, offset=offset)) for offset in (0, 3, 6)]
    assert pages == [
        ["service-06", "service-05", "service-04"],
        ["service-03", "service-02", "service-01"],
        ["service-00"],
    ]


def test_it_answers_an_empty_page_past_the_end_with_the_same_total(raw_api):
    body = listing(raw_api, offset=50)
    assert body == {"endpoint_services": [], "total_count": 3}


@pytest.mark.parametrize("limit", ["1", "1000"])
def test_it_accepts_the_limit_range(raw_api, limit):
    assert len(listing(raw_api, limit=limit)["endpoint_services"]) == min(int(limit), 3)


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5"])
def test_it_refuses_a_limit_outside_1_to_1000(raw_api, limit):
    assert_error(raw_api.get(services_path(), query=[("limit", limit)]), "EndPoint.0006")


@pytest.mark.parametrize("offset", ["-1", "x", "2.0"])
def test_it_refuses_a_bad_offset(raw_api, offset):
    assert_error(raw_api.get(services_path(), query=[("offset", offset)]), "EndPoint.0010")


@pytest.mark.parametrize(
    ("sort_key", "sort_dir", "expected"),
    [
        ("create_at", "asc", ["service-00", "service-01", "service-02"]),
        ("created_at", "asc", ["service-00", "service-01", "service-02"]),
        ("created_at", "desc", ["service-02", "service-01", "service-00"]),
        ("update_at", "desc", ["service-00", "service-02", "service-01"]),
        ("updated_at", "desc", ["service-00", "service-02", "service-01"]),
        ("updated_at", "asc", ["service-01", "service-02", "service-00"]),
    ],
)
def test_it_sorts_by_either_spelling_of_the_sort_key(simulator, raw_api, sort_key, sort_dir, expected):
    seeded = simulator.seed["endpoint_services"]
    seeded[0]["updated_at"] = "2026-06-01T00:00:00Z"
    seeded[1]["updated_at"] = "2026-02-01T00:00:00Z"
    seeded[2]["updated_at"] = "2026-03-01T00:00:00Z"
    simulator.reset(simulator.seed)
    assert names(listing(raw_api, sort_key=sort_key, sort_dir=sort_dir)) == expected


def test_it_breaks_creation_time_ties_by_id_in_both_directions(simulator, raw_api):
    ids = sorted(stable_uuid("tie", n) for n in range(4))
    services = [
        service(id=i, service_name=f"tie-{n}", created_at="2026-05-05T05:05:05Z") for n, i in enumerate(ids)
    ]
    simulator.reset(standard_seed(services=0, endpoint_services=list(reversed(services))))
    for direction in ("asc", "desc"):
        assert [item["id"] for item in listing(raw_api, sort_dir=direction)["endpoint_services"]] == ids


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        ("sort_key", "name", "EndPoint.0017"),
        ("sort_dir", "ascending", "EndPoint.0018"),
        ("status", "deleted", "EndPoint.0019"),
    ],
)
def test_it_refuses_unknown_sort_and_status_values(raw_api, param, value, code):
    assert_error(raw_api.get(services_path(), query=[(param, value)]), code)


def test_it_filters_by_name_as_a_case_insensitive_substring_of_the_full_name(simulator, raw_api):
    assert names(listing(raw_api, endpoint_service_name="SERVICE-01")) == ["service-01"]
    assert listing(raw_api, endpoint_service_name=f"{REGION}.")["total_count"] == 3
    an_id = simulator.seed["endpoint_services"][2]["id"]
    assert names(listing(raw_api, endpoint_service_name=an_id[-12:].upper())) == ["service-02"]
    assert listing(raw_api, endpoint_service_name="no-such")["total_count"] == 0


def test_it_filters_by_id_exactly(simulator, raw_api):
    an_id = simulator.seed["endpoint_services"][1]["id"]
    assert names(listing(raw_api, id=an_id)) == ["service-01"]
    assert listing(raw_api, id=an_id[:-1])["total_count"] == 0


def test_it_filters_by_status_and_combines_filters(simulator, raw_api):
    extra = [
        service(service_name="pending-a", status="creating"),
        service(service_name="pending-b", status="creating"),
        service(service_name="broken", status="failed"),
    ]
    simulator.reset(standard_seed(endpoint_services=simulator.seed["endpoint_services"] + extra))
    assert sorted(names(listing(raw_api, status="creating"))) == ["pending-a", "pending-b"]
    assert names(listing(raw_api, status="creating", endpoint_service_name="ING-B")) == ["pending-b"]
    assert listing(raw_api, status="available")["total_count"] == 3
    assert listing(raw_api, status="deleting")["total_count"] == 0


def test_it_lists_only_the_services_of_the_project(simulator, raw_api):
    other = service(project_id=OTHER_PROJECT_ID, service_name="elsewhere")
    simulator.reset(standard_seed(endpoint_services=[*simulator.seed["endpoint_services"], other]))
    assert "elsewhere" not in names(listing(raw_api))
    response = raw_api.get(services_path(OTHER_PROJECT_ID))
    assert names(response.json()) == ["elsewhere"]
