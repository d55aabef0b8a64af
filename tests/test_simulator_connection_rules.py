"""Connections and whitelist rules over real HTTP, beyond the basics (api §7.1, §7.2, §9.2, §12, §13).

Covers what a dashboard relies on: re-reading one connection by ``id``, the documented status filter,
paging limits of both lists, the whitelist entry formats, the error codes of each refusal, seeds with
pending connections from several accounts, and a demo cloud that has some waiting for approval.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest

from tests.conftest import RawApi, RawResponse, SimulatorHandle
from tests.seeds import FOREIGN_DOMAIN_ID, service, service_path, stable_uuid, standard_seed
from vpcepadmin.simulator import demo
from vpcepadmin.simulator.server import SimulatorServer

SERVICE_ID = stable_uuid("rules", "service")
OTHER_SERVICE_ID = stable_uuid("rules", "other")
# Consumer accounts: a real-looking 32-hex id, the foreign test account, and an id of another form.
ACCOUNTS = ("6e9dfd51d1124e8d8498dce894923a0d", FOREIGN_DOMAIN_ID, "Partner-Account-7")
PENDING = [stable_uuid("rules", "pending", n) for n in range(3)]
ACCEPTED, REJECTED, FAILED, DELETING = (stable_uuid("rules", s) for s in ("acc", "rej", "fail", "del"))
ELSEWHERE = stable_uuid("rules", "elsewhere")
ALL_OF_SERVICE = 7


def endpoint(endpoint_id: str, status: str, domain_id: str, day: int, **extra: Any) -> dict[str, Any]:
    created = f"2025-03-{day:02d}T00:00:00Z"
    return {
        "id": endpoint_id,
        "service_id": SERVICE_ID,
        "status": status,
        "domain_id": domain_id,
        "created_at": created,
        **extra,
    }


def one_service_seed(**extra: Any) -> dict[str, Any]:
    return standard_seed(services=0, endpoint_services=[service(id=SERVICE_ID)], **extra)


@pytest.fixture
def connected(simulator: SimulatorHandle) -> SimulatorHandle:
    endpoints = [
        *(endpoint(pid, "pendingAcceptance", ACCOUNTS[n], n + 1) for n, pid in enumerate(PENDING)),
        endpoint(ACCEPTED, "accepted", ACCOUNTS[0], 4),
        endpoint(REJECTED, "rejected", ACCOUNTS[1], 5),
        endpoint(FAILED, "failed", ACCOUNTS[2], 6, error=[{"error_code": "EndPoint.4010"}]),
        endpoint(DELETING, "deleting", ACCOUNTS[0], 7),
        {"id": ELSEWHERE, "service_id": OTHER_SERVICE_ID, "status": "pendingAcceptance"},
    ]
    services = [service(id=SERVICE_ID), service(id=OTHER_SERVICE_ID)]
    simulator.reset(standard_seed(services=0, endpoint_services=services, endpoints=endpoints))
    return simulator


def get(raw_api: RawApi, path: str, **params: object) -> RawResponse:
    return raw_api.get(path, query=[(key, str(value)) for key, value in params.items()])


def connections(raw_api: RawApi, **params: object) -> dict[str, Any]:
    response = get(raw_api, service_path(SERVICE_ID) + "/connections", **params)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def ids(body: dict[str, Any], key: str = "connections") -> list[str]:
    return [item["id"] for item in body[key]]


def act(raw_api: RawApi, action: object, endpoints: object) -> RawResponse:
    path = service_path(SERVICE_ID) + "/connections/action"
    return raw_api.post(path, {"action": action, "endpoints": endpoints})


def assert_error(response: RawResponse, code: str, status: int = 400) -> None:
    assert (response.status, response.json()["error_code"]) == (status, code), response.body


# --- connections: seeds, reading one, the status filter, paging -------------------------------------


def test_it_seeds_pending_connections_from_several_accounts_with_any_domain_id(connected, raw_api):
    body = connections(raw_api, status="pendingAcceptance", sort_dir="asc")
    assert [(c["id"], c["domain_id"]) for c in body["connections"]] == list(
        zip(PENDING, ACCOUNTS, strict=True)
    )
    assert body["total_count"] == 3


def test_it_reads_one_connection_by_its_endpoint_id(connected, raw_api):
    body = connections(raw_api, id=PENDING[1])
    assert (ids(body), body["total_count"]) == ([PENDING[1]], 1)
    assert body["connections"][0]["domain_id"] == ACCOUNTS[1]


@pytest.mark.parametrize(
    "wanted", [ELSEWHERE, stable_uuid("rules", "nobody")], ids=["other-service", "unknown"]
)
def test_it_answers_an_empty_page_for_an_id_that_is_not_connected_here(connected, raw_api, wanted):
    assert connections(raw_api, id=wanted) == {"connections": [], "total_count": 0}


def test_it_combines_the_id_and_status_filters(connected, raw_api):
    assert connections(raw_api, id=PENDING[0], status="accepted")["total_count"] == 0
    assert ids(connections(raw_api, id=PENDING[0], status="pendingAcceptance")) == [PENDING[0]]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pendingAcceptance", PENDING[::-1]),
        ("accepted", [ACCEPTED]),
        ("rejected", [REJECTED]),
        ("failed", [FAILED]),
    ],
)
def test_it_filters_by_each_documented_status(connected, raw_api, status, expected):
    assert ids(connections(raw_api, status=status)) == expected


@pytest.mark.parametrize("status", ["creating", "deleting", "accept", "PENDINGACCEPTANCE"])
def test_it_refuses_a_status_filter_the_doc_does_not_list(connected, raw_api, status):
    # NOTE: connections can be creating or deleting, but §7.1 lists four filter values only.
    assert_error(get(raw_api, service_path(SERVICE_ID) + "/connections", status=status), "EndPoint.0019")


def test_it_shows_the_error_of_a_failed_connection_only(connected, raw_api):
    listed = {c["id"]: c for c in connections(raw_api)["connections"]}
    assert listed[FAILED]["error"] == [{"error_code": "EndPoint.4010"}]
    assert "error" not in listed[ACCEPTED]


def test_it_pages_connections_ten_by_default_and_counts_every_match(simulator, raw_api):
    endpoints = [
        endpoint(stable_uuid("many", n), "pendingAcceptance", ACCOUNTS[n % 3], n + 1) for n in range(12)
    ]
    simulator.reset(one_service_seed(endpoints=endpoints))
    first = connections(raw_api)
    assert (len(first["connections"]), first["total_count"]) == (10, 12)
    assert ids(first)[0] == stable_uuid("many", 11)
    rest = connections(raw_api, offset=10)
    assert ids(rest) == [stable_uuid("many", 1), stable_uuid("many", 0)]
    assert connections(raw_api, offset=12) == {"connections": [], "total_count": 12}
    assert len(connections(raw_api, limit=1000)["connections"]) == 12


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [
        ("limit", "1001", "EndPoint.0006"),
        ("limit", "0", "EndPoint.0006"),
        ("limit", "ten", "EndPoint.0006"),
        ("offset", "-1", "EndPoint.0010"),
        ("sort_key", "status", "EndPoint.0017"),
        ("sort_dir", "up", "EndPoint.0018"),
    ],
)
def test_it_refuses_connection_paging_out_of_range(connected, raw_api, param, value, code):
    assert_error(get(raw_api, service_path(SERVICE_ID) + "/connections", **{param: value}), code)


# --- connections: the action -----------------------------------------------------------------------


@pytest.mark.parametrize("action", ["accept", "approve", "RECEIVE", ""])
def test_it_refuses_a_connection_verb_other_than_receive_or_reject_with_2027(connected, raw_api, action):
    # NOTE: 2027 "Invalid action.": the endpoint-side code block of 2013/2031 (§9.2); see validation.py.
    assert_error(act(raw_api, action, [PENDING[0]]), "EndPoint.2027")
    assert connections(raw_api, id=PENDING[0])["connections"][0]["status"] == "pendingAcceptance"


@pytest.mark.parametrize(
    ("endpoint_id", "code"),
    [(FAILED, "EndPoint.2047"), (DELETING, "EndPoint.2018")],
    ids=["failed", "deleting"],
)
def test_it_refuses_to_act_on_a_failed_or_deleting_connection(connected, raw_api, endpoint_id, code):
    assert_error(act(raw_api, "receive", [endpoint_id]), code)


def test_it_changes_only_the_connection_acted_on(connected, raw_api):
    before = {c["id"]: c for c in connections(raw_api, limit=100)["connections"]}
    [answer] = act(raw_api, "reject", [PENDING[2]]).json()["connections"]
    assert (answer["status"], answer["domain_id"]) == ("rejected", ACCOUNTS[2])
    after = {c["id"]: c for c in connections(raw_api, limit=100)["connections"]}
    assert {key for key in after if after[key] != before[key]} == {PENDING[2]}
    assert after[PENDING[2]]["created_at"] == before[PENDING[2]]["created_at"]
    assert after[PENDING[2]]["updated_at"] > before[PENDING[2]]["updated_at"]


@pytest.mark.parametrize("endpoints", [PENDING[0], [7], None], ids=["string", "number", "missing"])
def test_it_refuses_endpoints_that_are_not_a_list_of_ids(connected, raw_api, endpoints):
    assert_error(act(raw_api, "receive", endpoints), "EndPoint.0002")


# --- whitelist: entry formats, paging --------------------------------------------------------------

ORG_PATH = "organizations:orgPath::o-3j59d1231uprgk9yuvlidra7zbzfi578/r-rldbu1vmxdw5ahdkknxnvd5rgag77m2z/*"


def whitelist_path() -> str:
    return service_path(SERVICE_ID) + "/permissions"


def change(
    raw_api: RawApi, action: str, permissions: object, permission_type: str | None = None
) -> RawResponse:
    body: dict[str, Any] = {"action": action, "permissions": permissions}
    if permission_type is not None:
        body["permission_type"] = permission_type
    return raw_api.post(whitelist_path() + "/action", body)


def whitelist(raw_api: RawApi, **params: object) -> dict[str, Any]:
    response = get(raw_api, whitelist_path(), **params)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def test_it_adds_an_organization_path_with_its_type(connected, raw_api):
    response = change(raw_api, "add", [ORG_PATH, "*"], "orgPath")
    assert response.json() == {"permissions": [ORG_PATH, "*"], "permission_type": "orgPath"}
    listed = {p["permission"]: p["permission_type"] for p in whitelist(raw_api)["permissions"]}
    assert listed == {ORG_PATH: "orgPath", "*": "orgPath"}
    assert change(raw_api, "remove", [ORG_PATH], "orgPath").status == 200
    assert [p["permission"] for p in whitelist(raw_api)["permissions"]] == ["*"]


def test_it_accepts_an_organization_path_of_1024_characters(connected, raw_api):
    longest = "organizations:orgPath::" + "o-" + "a" * 1022
    assert change(raw_api, "add", [longest], "orgPath").status == 200


@pytest.mark.parametrize(
    ("entry", "permission_type"),
    [
        ("organizations:orgPath::" + "o-" + "a" * 1023, "orgPath"),
        ("organizations:orgPath::", "orgPath"),
        ("organizations:orgPath::o-1/r 2", "orgPath"),
        ("organizations:orgPath::o-1/<script>", "orgPath"),
        ("organizations:orgPath::o-1#r", "orgPath"),
        (ORG_PATH, "domainId"),
        (ORG_PATH, None),
        ("iam:domain::6e9dfd51d1124e8d8498dce894923a0d", "orgPath"),
        ("iam:domain::", "domainId"),
        ("iam:domain::abc.def", "domainId"),
        ("IAM:domain::abc", "domainId"),
        ("**", "domainId"),
    ],
)
def test_it_refuses_a_malformed_whitelist_entry_with_3002(connected, raw_api, entry, permission_type):
    # NOTE: 3002 "Invalid permission." rather than 2044 "Invalid whitelist." (endpoint IP whitelist).
    assert_error(change(raw_api, "add", [entry], permission_type), "EndPoint.3002")
    assert whitelist(raw_api)["total_count"] == 0


def test_it_refuses_an_unknown_permission_type(connected, raw_api):
    assert_error(change(raw_api, "add", ["*"], "projectId"), "EndPoint.0002")


def test_it_refuses_an_empty_list_before_a_bad_action(connected, raw_api):
    assert_error(change(raw_api, "grant", []), "EndPoint.3036")
    assert_error(change(raw_api, "remove", []), "EndPoint.3036")
    assert_error(change(raw_api, "delete", ["*"]), "EndPoint.3035")


def test_it_counts_the_whole_whitelist_against_the_cap(simulator, raw_api):
    permissions = [{"service_id": SERVICE_ID, "permission": f"iam:domain::seeded{n:03d}"} for n in range(499)]
    simulator.reset(one_service_seed(permissions=permissions))
    assert_error(change(raw_api, "add", ["iam:domain::one", "iam:domain::two"]), "EndPoint.3049")
    assert whitelist(raw_api)["total_count"] == 499
    assert change(raw_api, "add", ["iam:domain::one", "iam:domain::seeded000"]).status == 200
    assert whitelist(raw_api)["total_count"] == 500


def test_it_pages_the_whitelist_ten_by_default_and_filters_fuzzily(simulator, raw_api):
    permissions = [
        {
            "service_id": SERVICE_ID,
            "permission": f"iam:domain::{'team' if n % 2 else 'shop'}{n:02d}",
            "created_at": f"2025-04-{n + 1:02d}T00:00:00Z",
        }
        for n in range(13)
    ]
    simulator.reset(one_service_seed(permissions=permissions))
    first = whitelist(raw_api)
    assert (len(first["permissions"]), first["total_count"]) == (10, 13)
    assert first["permissions"][0]["permission"] == "iam:domain::shop12"
    assert [p["permission"] for p in whitelist(raw_api, offset=11)["permissions"]] == [
        "iam:domain::team01",
        "iam:domain::shop00",
    ]
    teams = whitelist(raw_api, permission="TEAM", limit=2, sort_dir="asc")
    assert ([p["permission"] for p in teams["permissions"]], teams["total_count"]) == (
        ["iam:domain::team01", "iam:domain::team03"],
        6,
    )
    assert len(whitelist(raw_api, limit=500)["permissions"]) == 13


@pytest.mark.parametrize(
    ("param", "value", "code"),
    [("limit", "0", "EndPoint.0006"), ("limit", "501", "EndPoint.0006"), ("offset", "x", "EndPoint.0010")],
)
def test_it_refuses_whitelist_paging_out_of_range(connected, raw_api, param, value, code):
    assert_error(get(raw_api, whitelist_path(), **{param: value}), code)


# --- the demo cloud ----------------------------------------------------------------------------------


def test_it_seeds_the_demo_with_pending_connections_from_three_accounts_on_approval_services():
    seed = demo.demo_seed()
    approval = {s["id"]: s["approval_enabled"] for s in seed["endpoint_services"]}
    project = {s["id"]: s["project_id"] for s in seed["endpoint_services"]}
    pending = [e for e in seed["endpoints"] if e["status"] == "pendingAcceptance"]
    assert all(approval[e["service_id"]] for e in pending)
    assert len({e["domain_id"] for e in pending}) >= 3
    assert {project[e["service_id"]] for e in pending} == {demo.PRODUCTION_ID, demo.STAGING_ID}
    assert {e["domain_id"] for e in seed["endpoints"]}.isdisjoint({demo.DOMAIN_ID})
    statuses = collections.Counter(e["status"] for e in seed["endpoints"])
    assert statuses["accepted"] >= 2 and statuses["rejected"] >= 2
    assert len(seed["permissions"]) >= 3
    assert demo.demo_seed()["endpoints"] == seed["endpoints"]


def test_it_serves_the_demos_pending_connections_and_accepts_one():
    seed = demo.demo_seed(access_key="AKDEMO", secret_key="SKDEMO")
    first = next(e for e in seed["endpoints"] if e["status"] == "pendingAcceptance")
    owner = {s["id"]: s["project_id"] for s in seed["endpoint_services"]}[first["service_id"]]
    path = f"/v1/{owner}/vpc-endpoint-services/{first['service_id']}"
    with SimulatorServer(seed=seed, creating_seconds=0) as server:
        api = RawApi(server.url)
        signed: dict[str, Any] = {"access_key": "AKDEMO", "secret_key": "SKDEMO"}
        query = [("status", "pendingAcceptance"), ("limit", "1000")]
        listed = api.get(path + "/connections", query=query, **signed).json()
        assert first["id"] in ids(listed)
        answer = api.post(
            path + "/connections/action", {"action": "receive", "endpoints": [first["id"]]}, **signed
        )
        assert answer.json()["connections"][0]["status"] == "accepted"


def test_it_seeds_demo_whitelist_entries_the_api_itself_accepts():
    seed = demo.demo_seed(access_key="AKDEMO", secret_key="SKDEMO")
    owner = {s["id"]: s["project_id"] for s in seed["endpoint_services"]}
    with SimulatorServer(seed=seed, creating_seconds=0) as server:
        api = RawApi(server.url)
        for entry in seed["permissions"]:
            path = f"/v1/{owner[entry['service_id']]}/vpc-endpoint-services/{entry['service_id']}/permissions"
            body = {
                "action": "add",
                "permissions": [entry["permission"]],
                "permission_type": entry["permission_type"],
            }
            response = api.post(path + "/action", body, access_key="AKDEMO", secret_key="SKDEMO")
            assert response.status == 200, (entry, response.body)
        assert {e["permission_type"] for e in seed["permissions"]} == {"domainId", "orgPath"}
