"""The official Huawei SDK (huaweicloudsdkvpcep 3.1.219) against the simulator, unchanged.

The SDK signs every request itself (``user-agent`` included, JSON with ", " separators) and parses
every answer with its own models and exception handler: when it works here, the simulator speaks
the real wire protocol and verifies real signatures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkvpcep.v1 import (
    AcceptOrRejectEndpointRequest,
    AcceptOrRejectEndpointRequestBody,
    AddOrRemoveServicePermissionsRequest,
    AddOrRemoveServicePermissionsRequestBody,
    CreateEndpointServiceRequest,
    CreateEndpointServiceRequestBody,
    DeleteEndpointServiceRequest,
    ListEndpointServiceRequest,
    ListQuotaDetailsRequest,
    ListServiceConnectionsRequest,
    ListServiceDetailsRequest,
    ListServicePermissionsDetailsRequest,
    ListVersionDetailsRequest,
    PortList,
    UpdateEndpointServiceRequest,
    UpdateEndpointServiceRequestBody,
    VpcepClient,
)

from tests.conftest import SimulatorHandle
from tests.seeds import ACCESS_KEY, PROJECT_ID, REGION, SECRET_KEY, VPC_ID, stable_uuid, standard_seed


def sdk_client(url: str, secret_key: str = SECRET_KEY) -> VpcepClient:
    credentials = BasicCredentials(ACCESS_KEY, secret_key, PROJECT_ID)
    return VpcepClient.new_builder().with_credentials(credentials).with_endpoints([url]).build()


@pytest.fixture
def sdk(simulator: SimulatorHandle) -> VpcepClient:
    return sdk_client(simulator.url)


@pytest.fixture
def service_ids(simulator: SimulatorHandle) -> list[str]:
    return [item["id"] for item in simulator.seed["endpoint_services"]]


def update(sdk: VpcepClient, service_id: str, **fields: Any) -> Any:
    body = UpdateEndpointServiceRequestBody(**fields)
    return sdk.update_endpoint_service(
        UpdateEndpointServiceRequest(vpc_endpoint_service_id=service_id, body=body)
    )


def show(sdk: VpcepClient, service_id: str) -> Any:
    return sdk.list_service_details(ListServiceDetailsRequest(vpc_endpoint_service_id=service_id))


def test_it_lists_with_a_name_filter_limit_and_offset(simulator, sdk):
    simulator.reset(standard_seed(services=6))
    page = sdk.list_endpoint_service(
        ListEndpointServiceRequest(endpoint_service_name="SERVICE", limit=2, offset=1)
    )
    assert page.total_count == 6
    assert [s.service_name.split(".")[1] for s in page.endpoint_services] == ["service-04", "service-03"]
    assert page.endpoint_services[0].connection_count == 0
    one = sdk.list_endpoint_service(ListEndpointServiceRequest(endpoint_service_name="service 01"))
    assert one.total_count == 0  # the space is signed and sent as %20, and matched literally


def test_it_shows_a_service(sdk, service_ids):
    detail = show(sdk, service_ids[0])
    assert detail.id == service_ids[0]
    assert detail.service_name == f"{REGION}.service-00.{service_ids[0]}"
    assert [(p.client_port, p.server_port, p.protocol) for p in detail.ports] == [(443, 8443, "TCP")]
    # The SDK parses timestamps when python-dateutil is installed, and keeps the text otherwise.
    assert str(detail.created_at).startswith("2026-01-01")


def test_it_updates_the_name_and_the_ports(simulator, sdk, service_ids):
    ports = [
        PortList(client_port=80, server_port=8080, protocol="TCP"),
        PortList(client_port=22, server_port=2222),
    ]
    updated = update(sdk, service_ids[0], service_name="renamed", ports=ports, approval_enabled=False)
    assert updated.service_name == f"{REGION}.renamed.{service_ids[0]}"
    assert [(p.client_port, p.server_port, p.protocol) for p in updated.ports] == [
        (80, 8080, "TCP"),
        (22, 2222, "TCP"),
    ]
    assert show(sdk, service_ids[0]).approval_enabled is False
    [put] = simulator.journal(method="PUT")
    assert put["body"]["service_name"] == "renamed"


def test_it_creates_and_deletes_a_service(simulator, sdk):
    body = CreateEndpointServiceRequestBody(
        port_id=stable_uuid("sdk", "port"),
        vpc_id=VPC_ID,
        server_type="VM",
        service_name="from-sdk",
        ports=[PortList(client_port=443, server_port=443, protocol="TCP")],
    )
    created = sdk.create_endpoint_service(CreateEndpointServiceRequest(body=body))
    assert (created.status, created.service_name) == ("creating", f"{REGION}.from-sdk.{created.id}")
    service_id = simulator.seed["endpoint_services"][0]["id"]
    sdk.delete_endpoint_service(DeleteEndpointServiceRequest(vpc_endpoint_service_id=service_id))
    assert show(sdk, service_id).status == "deleting"
    deadline = time.monotonic() + 3
    while (
        sdk.list_endpoint_service(ListEndpointServiceRequest(id=service_id)).total_count
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    with pytest.raises(ClientRequestException) as caught:
        show(sdk, service_id)
    assert (caught.value.status_code, caught.value.error_code) == (404, "EndPoint.0005")


def assert_refused(simulator: SimulatorHandle, call: Callable[[], object], status: int, code: str) -> None:
    with pytest.raises(ClientRequestException) as caught:
        call()
    error = caught.value
    assert (error.status_code, error.error_code) == (status, code), error.error_msg
    assert error.request_id == simulator.journal()[-1]["request_id"]
    assert len(error.request_id) == 32


def test_it_answers_404_endpoint_0005_for_an_unknown_service(simulator, sdk):
    assert_refused(simulator, lambda: show(sdk, stable_uuid("missing")), 404, "EndPoint.0005")


MAPPING = {"client_port": 80, "server_port": 8080, "protocol": "TCP"}


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"service_name": "no spaces allowed"}, "EndPoint.3076"),
        ({"ports": [PortList(client_port=80, server_port=70000, protocol="TCP")]}, "EndPoint.3043"),
        ({"ports": [PortList(**MAPPING), PortList(**MAPPING)]}, "EndPoint.3044"),
        ({"ports": [PortList(**{**MAPPING, "client_port": p}) for p in range(1, 202)]}, "EndPoint.3074"),
    ],
    ids=["name", "port-range", "duplicates", "201-mappings"],
)
def test_it_answers_the_documented_400s(simulator, sdk, service_ids, fields, code):
    assert_refused(simulator, lambda: update(sdk, service_ids[0], **fields), 400, code)


def test_it_refuses_a_wrong_secret_key_with_apigw_0301(simulator):
    wrong = sdk_client(simulator.url, secret_key="SKnotTheRightOne")
    assert_refused(
        simulator, lambda: wrong.list_endpoint_service(ListEndpointServiceRequest()), 401, "APIGW.0301"
    )


def test_it_serves_connections_whitelist_quotas_and_versions(simulator, sdk, service_ids):
    endpoint_id = stable_uuid("sdk", "endpoint")
    endpoints = [
        {"id": endpoint_id, "service_id": service_ids[0], "status": "pendingAcceptance", "marker_id": 42}
    ]
    simulator.reset(standard_seed(endpoints=endpoints))
    listed = sdk.list_service_connections(
        ListServiceConnectionsRequest(vpc_endpoint_service_id=service_ids[0])
    )
    assert (listed.total_count, listed.connections[0].marker_id) == (1, 42)
    action = AcceptOrRejectEndpointRequestBody(action="receive", endpoints=[endpoint_id])
    accepted = sdk.accept_or_reject_endpoint(
        AcceptOrRejectEndpointRequest(vpc_endpoint_service_id=service_ids[0], body=action)
    )
    assert accepted.connections[0].status == "accepted"
    change = AddOrRemoveServicePermissionsRequestBody(permissions=["iam:domain::abc123"], action="add")
    sdk.add_or_remove_service_permissions(
        AddOrRemoveServicePermissionsRequest(vpc_endpoint_service_id=service_ids[0], body=change)
    )
    whitelist = sdk.list_service_permissions_details(
        ListServicePermissionsDetailsRequest(vpc_endpoint_service_id=service_ids[0])
    )
    assert [p.permission for p in whitelist.permissions] == ["iam:domain::abc123"]
    quotas = sdk.list_quota_details(ListQuotaDetailsRequest(type="endpoint_service")).quotas.resources
    assert [(q.type, q.used, q.quota) for q in quotas] == [("endpoint_service", 3, 20)]
    versions = sdk.list_version_details(ListVersionDetailsRequest()).versions
    assert "v1" in [v.id for v in versions]
