"""Connections and whitelist through the official Huawei SDK (huaweicloudsdkvpcep 3.1.219), unchanged.

The SDK is an independent client: it signs, encodes the query and body, and parses answers and
errors with its own models. When the calls and the documented refusals (api §7.1, §7.2, §9.2) work
here, the simulator speaks the real protocol for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkvpcep.v1 import (
    AcceptOrRejectEndpointRequest,
    AcceptOrRejectEndpointRequestBody,
    AddOrRemoveServicePermissionsRequest,
    AddOrRemoveServicePermissionsRequestBody,
    ListServiceConnectionsRequest,
    ListServicePermissionsDetailsRequest,
    VpcepClient,
)

from tests.conftest import SimulatorHandle
from tests.seeds import ACCESS_KEY, PROJECT_ID, SECRET_KEY, service, stable_uuid, standard_seed

SERVICE_ID = stable_uuid("sdk-connections", "service")
OTHER_SERVICE_ID = stable_uuid("sdk-connections", "other")
ACCOUNTS = (
    "6e9dfd51d1124e8d8498dce894923a0d",
    "1564ec50ef2a47c791ea5536353ed4b9",
    "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
)
PENDING = [stable_uuid("sdk-connections", "pending", n) for n in range(3)]
ACCEPTED = stable_uuid("sdk-connections", "accepted")
REJECTED = stable_uuid("sdk-connections", "rejected")
ELSEWHERE = stable_uuid("sdk-connections", "elsewhere")
ORG_PATH = "organizations:orgPath::o-3j59d1231uprgk9yuvlidra7zbzfi578/r-rldbu1vmxdw5ahdkknxnvd5rgag77m2z/*"
# (connect, read) seconds: a hung simulator fails the test instead of hanging it.
TIMEOUT = (3.05, 10)


def connection(endpoint_id: str, status: str, account: int, day: int) -> dict[str, Any]:
    return {
        "id": endpoint_id,
        "service_id": SERVICE_ID,
        "status": status,
        "domain_id": ACCOUNTS[account],
        "marker_id": 16777600 + day,
        "created_at": f"2025-05-{day:02d}T00:00:00Z",
    }


def seed(**extra: Any) -> dict[str, Any]:
    endpoints = [
        *(connection(pid, "pendingAcceptance", n, n + 1) for n, pid in enumerate(PENDING)),
        connection(ACCEPTED, "accepted", 0, 4),
        connection(REJECTED, "rejected", 1, 5),
        {"id": ELSEWHERE, "service_id": OTHER_SERVICE_ID, "status": "pendingAcceptance"},
    ]
    services = [service(id=SERVICE_ID), service(id=OTHER_SERVICE_ID)]
    return standard_seed(services=0, endpoint_services=services, endpoints=endpoints, **extra)


@pytest.fixture
def sdk(simulator: SimulatorHandle) -> VpcepClient:
    simulator.reset(seed())
    config = HttpConfig.get_default_config()
    config.timeout = TIMEOUT
    credentials = BasicCredentials(ACCESS_KEY, SECRET_KEY, PROJECT_ID)
    builder = VpcepClient.new_builder().with_http_config(config).with_credentials(credentials)
    return builder.with_endpoints([simulator.url]).build()


def list_connections(sdk: VpcepClient, **params: Any) -> Any:
    return sdk.list_service_connections(
        ListServiceConnectionsRequest(vpc_endpoint_service_id=SERVICE_ID, **params)
    )


def act(sdk: VpcepClient, action: str, endpoints: list[str]) -> Any:
    body = AcceptOrRejectEndpointRequestBody(action=action, endpoints=endpoints)
    return sdk.accept_or_reject_endpoint(
        AcceptOrRejectEndpointRequest(vpc_endpoint_service_id=SERVICE_ID, body=body)
    )


def list_permissions(sdk: VpcepClient, **params: Any) -> Any:
    request = ListServicePermissionsDetailsRequest(vpc_endpoint_service_id=SERVICE_ID, **params)
    return sdk.list_service_permissions_details(request)


def change(sdk: VpcepClient, action: str, permissions: list[str], permission_type: str | None = None) -> Any:
    body = AddOrRemoveServicePermissionsRequestBody(
        permissions=permissions, action=action, permission_type=permission_type
    )
    request = AddOrRemoveServicePermissionsRequest(vpc_endpoint_service_id=SERVICE_ID, body=body)
    return sdk.add_or_remove_service_permissions(request)


def test_it_lists_connections_with_the_sdks_models(sdk):
    page = list_connections(sdk)
    assert page.total_count == 5
    assert [c.id for c in page.connections] == [REJECTED, ACCEPTED, *PENDING[::-1]]
    last = page.connections[-1]
    assert (last.marker_id, last.domain_id, last.status) == (16777601, ACCOUNTS[0], "pendingAcceptance")


def test_it_filters_connections_by_status_and_pages_them(sdk):
    pending = list_connections(sdk, status="pendingAcceptance", limit=2, offset=1)
    assert pending.total_count == 3
    assert [(c.id, c.domain_id) for c in pending.connections] == [
        (PENDING[1], ACCOUNTS[1]),
        (PENDING[0], ACCOUNTS[0]),
    ]
    oldest_first = list_connections(sdk, sort_key="create_at", sort_dir="asc", limit=1)
    assert [c.id for c in oldest_first.connections] == [PENDING[0]]


def test_it_reads_one_connection_by_endpoint_id(sdk):
    one = list_connections(sdk, id=PENDING[2])
    assert ([c.id for c in one.connections], one.total_count) == ([PENDING[2]], 1)
    assert list_connections(sdk, id=ELSEWHERE).total_count == 0


def test_it_receives_one_pending_connection(simulator, sdk):
    [answer] = act(sdk, "receive", [PENDING[0]]).connections
    assert (answer.id, answer.status, answer.domain_id) == (PENDING[0], "accepted", ACCOUNTS[0])
    assert [c.status for c in list_connections(sdk, id=PENDING[0]).connections] == ["accepted"]
    assert list_connections(sdk, status="pendingAcceptance").total_count == 2
    [post] = simulator.journal(method="POST", path_contains="/connections/action")
    assert post["body"] == {"action": "receive", "endpoints": [PENDING[0]]}


def test_it_rejects_one_pending_connection(sdk):
    [answer] = act(sdk, "reject", [PENDING[1]]).connections
    assert (answer.id, answer.status) == (PENDING[1], "rejected")
    rejected = list_connections(sdk, status="rejected")
    assert sorted(c.id for c in rejected.connections) == sorted([PENDING[1], REJECTED])


def test_it_lists_the_whitelist_with_a_fuzzy_filter_and_paging(simulator, sdk):
    permissions = [
        {
            "service_id": SERVICE_ID,
            "permission": f"iam:domain::{ACCOUNTS[n]}",
            "created_at": f"2025-06-0{n + 1}T00:00:00Z",
        }
        for n in range(3)
    ]
    simulator.reset(seed(permissions=permissions))
    page = list_permissions(sdk, limit=2, offset=1)
    assert page.total_count == 3
    assert [p.permission for p in page.permissions] == [
        f"iam:domain::{ACCOUNTS[1]}",
        f"iam:domain::{ACCOUNTS[0]}",
    ]
    assert all(p.permission_type == "domainId" and len(p.id) == 36 for p in page.permissions)
    found = list_permissions(sdk, permission="1564EC50")
    assert ([p.permission for p in found.permissions], found.total_count) == (
        [f"iam:domain::{ACCOUNTS[1]}"],
        1,
    )


def test_it_adds_and_removes_whitelist_records(sdk):
    added = change(sdk, "add", [f"iam:domain::{ACCOUNTS[0]}", "*"])
    assert (added.permissions, added.permission_type) == ([f"iam:domain::{ACCOUNTS[0]}", "*"], "domainId")
    org = change(sdk, "add", [ORG_PATH], "orgPath")
    assert (org.permissions, org.permission_type) == ([ORG_PATH], "orgPath")
    listed = {p.permission: p.permission_type for p in list_permissions(sdk).permissions}
    assert listed == {f"iam:domain::{ACCOUNTS[0]}": "domainId", "*": "domainId", ORG_PATH: "orgPath"}
    change(sdk, "remove", ["*", ORG_PATH], "orgPath")
    assert [p.permission for p in list_permissions(sdk).permissions] == [f"iam:domain::{ACCOUNTS[0]}"]


def assert_refused(simulator: SimulatorHandle, call: Callable[[], object], code: str) -> None:
    with pytest.raises(ClientRequestException) as caught:
        call()
    error = caught.value
    assert (error.status_code, error.error_code) == (400, code), error.error_msg
    assert error.request_id == simulator.journal()[-1]["request_id"]


@pytest.mark.parametrize(
    ("action", "endpoints", "code"),
    [
        ("receive", [PENDING[0], PENDING[1]], "EndPoint.2031"),
        ("receive", [], "EndPoint.2031"),
        ("receive", [ELSEWHERE], "EndPoint.2013"),
        ("reject", [stable_uuid("sdk-connections", "nobody")], "EndPoint.2013"),
        ("accept", [PENDING[0]], "EndPoint.2027"),
    ],
    ids=["two-endpoints", "no-endpoint", "other-service", "unknown-endpoint", "accept-is-not-the-verb"],
)
def test_it_surfaces_connection_refusals_as_sdk_exceptions(simulator, sdk, action, endpoints, code):
    assert_refused(simulator, lambda: act(sdk, action, endpoints), code)
    assert list_connections(sdk, status="pendingAcceptance").total_count == 3


@pytest.mark.parametrize(
    ("action", "permissions", "code"),
    [
        ("grant", ["*"], "EndPoint.3035"),
        ("add", [], "EndPoint.3036"),
        ("add", ["iam:domain::not-a-domain"], "EndPoint.3002"),
    ],
    ids=["bad-action", "empty-list", "bad-entry"],
)
def test_it_surfaces_whitelist_refusals_as_sdk_exceptions(simulator, sdk, action, permissions, code):
    assert_refused(simulator, lambda: change(sdk, action, permissions), code)
    assert list_permissions(sdk).total_count == 0


def test_it_surfaces_a_full_whitelist_as_3049(simulator, sdk):
    permissions = [{"service_id": SERVICE_ID, "permission": f"iam:domain::full{n:03d}"} for n in range(500)]
    simulator.reset(seed(permissions=permissions))
    assert_refused(simulator, lambda: change(sdk, "add", [f"iam:domain::{ACCOUNTS[2]}"]), "EndPoint.3049")
    assert list_permissions(sdk, limit=500).total_count == 500


def test_it_surfaces_a_status_filter_outside_the_doc_as_0019(simulator, sdk):
    assert_refused(simulator, lambda: list_connections(sdk, status="creating"), "EndPoint.0019")
