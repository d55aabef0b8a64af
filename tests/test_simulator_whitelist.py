"""The whitelist (permissions) of a service over real HTTP: list, add, remove (api §7.2)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RawApi, RawResponse, SimulatorHandle
from tests.seeds import FOREIGN_DOMAIN_ID, service_path

ENTRY = f"iam:domain::{FOREIGN_DOMAIN_ID}"


def whitelist_path(simulator: SimulatorHandle) -> str:
    return service_path(simulator.seed["endpoint_services"][0]["id"]) + "/permissions"


def change(
    raw_api: RawApi, simulator: SimulatorHandle, action: str, permissions: object, **extra: object
) -> RawResponse:
    return raw_api.post(
        whitelist_path(simulator) + "/action", {"action": action, "permissions": permissions, **extra}
    )


def listed(raw_api: RawApi, simulator: SimulatorHandle, **params: object) -> dict[str, Any]:
    response = raw_api.get(whitelist_path(simulator), query=[(k, str(v)) for k, v in params.items()])
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def assert_error(response: RawResponse, code: str) -> None:
    assert (response.status, response.json()["error_code"]) == (400, code), response.body


def test_it_starts_empty_because_the_owner_is_implicit(simulator, raw_api):
    assert listed(raw_api, simulator) == {"permissions": [], "total_count": 0}


def test_it_adds_and_lists_whitelist_records(simulator, raw_api):
    response = change(raw_api, simulator, "add", [ENTRY, "*"])
    assert response.status == 200
    assert response.json() == {"permissions": [ENTRY, "*"], "permission_type": "domainId"}
    body = listed(raw_api, simulator)
    assert sorted(item["permission"] for item in body["permissions"]) == sorted([ENTRY, "*"])
    assert body["total_count"] == 2
    assert set(body["permissions"][0]) == {"id", "permission", "permission_type", "description", "created_at"}


def test_it_adds_idempotently_and_removes(simulator, raw_api):
    change(raw_api, simulator, "add", [ENTRY])
    change(raw_api, simulator, "add", [ENTRY])
    assert listed(raw_api, simulator)["total_count"] == 1
    assert change(raw_api, simulator, "remove", [ENTRY, "iam:domain::absent"]).status == 200
    assert listed(raw_api, simulator)["total_count"] == 0


def test_it_filters_whitelist_records_by_substring(simulator, raw_api):
    change(raw_api, simulator, "add", [ENTRY, "iam:domain::abc123"])
    assert [p["permission"] for p in listed(raw_api, simulator, permission="ABC")["permissions"]] == [
        "iam:domain::abc123"
    ]


@pytest.mark.parametrize(
    ("action", "permissions", "code"),
    [
        ("add", [], "EndPoint.3036"),
        ("grant", [ENTRY], "EndPoint.3035"),
        ("add", ["domain::abc"], "EndPoint.3002"),
        ("add", ["iam:domain::" + "a" * 65], "EndPoint.3002"),
        ("add", ["iam:domain::a-b"], "EndPoint.3002"),
        ("add", "iam:domain::abc", "EndPoint.0002"),
    ],
)
def test_it_refuses_bad_whitelist_changes(simulator, raw_api, action, permissions, code):
    assert_error(change(raw_api, simulator, action, permissions), code)
    assert listed(raw_api, simulator)["total_count"] == 0


def test_it_accepts_64_characters_and_asterisks_in_a_domain_entry(simulator, raw_api):
    assert change(raw_api, simulator, "add", ["iam:domain::" + "a*" * 32]).status == 200


def test_it_refuses_more_than_500_records(simulator, raw_api):
    entries = [f"iam:domain::d{n:04d}" for n in range(500)]
    assert change(raw_api, simulator, "add", entries).status == 200
    assert_error(change(raw_api, simulator, "add", ["iam:domain::onemore"]), "EndPoint.3049")


def test_it_limits_the_whitelist_page_to_500(simulator, raw_api):
    assert_error(raw_api.get(whitelist_path(simulator), query=[("limit", "501")]), "EndPoint.0006")
    assert_error(raw_api.get(whitelist_path(simulator), query=[("sort_key", "updated_at")]), "EndPoint.0017")
