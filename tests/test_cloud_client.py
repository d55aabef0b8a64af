"""The API client against the simulator over real HTTP: every call, both auth modes, every error class."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests import seeds
from tests.cloudkit import aksk_client, token_client
from vpcepadmin.cloud.editable import ServiceChanges
from vpcepadmin.cloud.endpoint_services import (
    NewEndpointService,
    connection_list,
    endpoint_service_create,
    endpoint_service_delete,
    endpoint_service_get,
    endpoint_service_list,
    endpoint_service_list_all,
    endpoint_service_update,
    quota_list,
)
from vpcepadmin.cloud.errors import CloudAuthError, CloudNotFound, CloudRejected
from vpcepadmin.cloud.types import PortMapping

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def client(simulator):
    return aksk_client(simulator.url)


def _service_ids(simulator) -> list[str]:
    return [service["id"] for service in simulator.seed["endpoint_services"]]


def test_it_lists_services_with_total_count(simulator, client) -> None:
    page = endpoint_service_list(client, limit=2)
    assert len(page.services) == 2
    assert page.total_count == len(simulator.seed["endpoint_services"])


def test_it_pages_with_offset_and_pages_through_all(simulator) -> None:
    simulator.reset(seeds.standard_seed(services=7))
    client = aksk_client(simulator.url)
    first = endpoint_service_list(client, limit=3, offset=0, sort_dir="asc")
    second = endpoint_service_list(client, limit=3, offset=3, sort_dir="asc")
    assert {s.id for s in first.services}.isdisjoint({s.id for s in second.services})
    everything = endpoint_service_list_all(client, page_size=3)
    assert len(everything) == 7 == len({s.id for s in everything})
    assert len(simulator.journal(method="GET", path_contains="vpc-endpoint-services")) == 2 + 3


def test_it_filters_by_name_and_status(simulator, client) -> None:
    target = simulator.seed["endpoint_services"][0]
    page = endpoint_service_list(client, name=target["service_name"].upper())
    assert [s.id for s in page.services] == [target["id"]]
    assert endpoint_service_list(client, status="failed").total_count == 0


def test_it_reads_one_service_with_short_and_full_name(simulator, client) -> None:
    target = simulator.seed["endpoint_services"][0]
    service = endpoint_service_get(client, target["id"])
    assert service.name == target["service_name"]
    assert service.full_name == f"{seeds.REGION}.{target['service_name']}.{target['id']}"
    assert service.ports == tuple(PortMapping.from_api(p) for p in target["ports"])
    assert service.updated_at is not None


def test_it_updates_only_the_given_fields_with_the_complete_port_list(simulator, client) -> None:
    service_id = _service_ids(simulator)[0]
    ports = (PortMapping(80, 8080), PortMapping(443, 8443))
    result = endpoint_service_update(client, service_id, ServiceChanges(service_name="renamed", ports=ports))
    assert result.value.name == "renamed"
    assert result.value.ports == ports
    assert result.cloud_request_id
    [put] = simulator.journal(method="PUT")
    assert put["body"] == {"service_name": "renamed", "ports": [m.to_api() for m in ports]}


def test_it_refuses_an_empty_update_without_sending(simulator, client) -> None:
    with pytest.raises(ValueError, match="at least one"):
        endpoint_service_update(client, _service_ids(simulator)[0], ServiceChanges())
    assert simulator.journal(method="PUT") == []


def test_it_creates_and_deletes_a_service(simulator, client) -> None:
    spec = NewEndpointService(
        port_id="4f6c8d2a-1b3e-4c5d-9e7f-0a1b2c3d4e5f",
        vpc_id="7d1e2f3a-4b5c-4d6e-8f9a-0b1c2d3e4f5a",
        server_type="VM",
        ports=(PortMapping(22, 2222),),
        service_name="fresh",
    )
    created = endpoint_service_create(client, spec).value
    assert created.name == "fresh"
    assert created.status == "creating"
    endpoint_service_delete(client, _service_ids(simulator)[0])
    assert endpoint_service_get(client, _service_ids(simulator)[0]).status == "deleting"


def test_it_lists_connections_and_quotas(simulator, client) -> None:
    page = connection_list(client, _service_ids(simulator)[0])
    assert page.total_count == len(page.connections)
    quotas = {quota.type: quota for quota in quota_list(client)}
    assert quotas["endpoint_service"].used == len(simulator.seed["endpoint_services"])
    assert quotas["endpoint_service"].quota == 20


def test_it_maps_404_to_not_found_with_the_cloud_request_id(client) -> None:
    with pytest.raises(CloudNotFound) as caught:
        endpoint_service_get(client, UNKNOWN_ID)
    assert caught.value.error_code == "EndPoint.0005"
    assert len(caught.value.cloud_request_id) == 32


def test_it_maps_a_validation_error_to_rejected_with_code_and_message(simulator, client) -> None:
    with pytest.raises(CloudRejected) as caught:
        endpoint_service_update(client, _service_ids(simulator)[0], ServiceChanges(service_name="bad name!"))
    assert caught.value.status == 400
    assert caught.value.error_code == "EndPoint.3076"
    assert caught.value.message


def test_it_quotes_ids_so_they_cannot_leave_the_resource_path(simulator, client) -> None:
    with pytest.raises(CloudNotFound):
        endpoint_service_get(client, "../quotas")
    [entry] = simulator.journal()
    assert entry["path"] != f"/v1/{seeds.PROJECT_ID}/quotas"
    assert entry["status"] == 404


def test_it_reports_a_wrong_secret_key_as_an_auth_error(simulator) -> None:
    with pytest.raises(CloudAuthError) as caught:
        endpoint_service_list(aksk_client(simulator.url, secret_key="wrong"))
    assert caught.value.error_code == "APIGW.0301"
    assert caught.value.status == 401


def test_it_signs_with_the_clock_and_the_gateway_refuses_a_skew_over_15_minutes(simulator) -> None:
    from datetime import timedelta

    assert endpoint_service_list(aksk_client(simulator.url, skew=timedelta(minutes=14))).total_count >= 0
    with pytest.raises(CloudAuthError, match="signature expired"):
        endpoint_service_list(aksk_client(simulator.url, skew=timedelta(minutes=16)))


def test_it_is_refused_a_project_of_another_account(simulator) -> None:
    with pytest.raises(CloudAuthError):
        endpoint_service_list(aksk_client(simulator.url, project_id=seeds.FOREIGN_PROJECT_ID))


def test_it_works_with_a_token_and_caches_it(simulator) -> None:
    client = token_client(simulator.url)
    endpoint_service_list(client)
    endpoint_service_list(client)
    endpoint_service_get(client, _service_ids(simulator)[0])
    assert len(simulator.journal(method="POST", path_contains="/v3/auth/tokens")) == 1


def test_it_shares_the_cached_token_between_clients_of_the_same_key(simulator) -> None:
    endpoint_service_list(token_client(simulator.url, cache_key="shared-key"))
    endpoint_service_list(token_client(simulator.url, cache_key="shared-key"))
    assert len(simulator.journal(method="POST", path_contains="/v3/auth/tokens")) == 1


def test_it_refreshes_an_expired_token_once(simulator) -> None:
    client = token_client(simulator.url)
    endpoint_service_list(client)
    simulator.control.expire_tokens()
    endpoint_service_list(client)
    assert len(simulator.journal(method="POST", path_contains="/v3/auth/tokens")) == 2
    lists = simulator.journal(method="GET", path_contains="vpc-endpoint-services")
    assert [entry["status"] for entry in lists] == [200, 401, 200]


def test_it_refreshes_only_once_when_the_gateway_keeps_refusing(simulator) -> None:
    client = token_client(simulator.url)
    simulator.add_fault(
        match={"method": "GET", "path": "vpc-endpoint-services"},
        action="status",
        status=401,
        error_code="APIGW.0307",
        error_msg="The token must be updated.",
        count=5,
    )
    with pytest.raises(CloudAuthError):
        endpoint_service_list(client)
    assert len(simulator.journal(method="GET", path_contains="vpc-endpoint-services")) == 2


def test_it_reports_a_wrong_password_as_an_auth_error_without_calling_vpcep(simulator) -> None:
    with pytest.raises(CloudAuthError):
        endpoint_service_list(token_client(simulator.url, password="wrong-password"))
    assert simulator.journal(path_contains="vpc-endpoint-services") == []


def test_it_logs_no_secret_signature_or_token(simulator, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    token_client_ = token_client(simulator.url)
    endpoint_service_list(token_client_)
    endpoint_service_update(
        aksk_client(simulator.url), _service_ids(simulator)[0], ServiceChanges(description="logged?")
    )
    token = token_client_.auth.token(token_client_.transport)  # type: ignore[attr-defined]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "cloud GET" in text
    for secret in (seeds.SECRET_KEY, seeds.PASSWORD, token, "Signature=", "X-Auth-Token"):
        assert secret not in text


@pytest.mark.parametrize(
    ("age", "token_calls"), [(timedelta(hours=23, minutes=54), 1), (timedelta(hours=23, minutes=56), 2)]
)
def test_a_token_is_cached_only_until_five_minutes_before_it_expires(simulator, age, token_calls) -> None:
    """The simulator's tokens live 24 h; seen from a clock that late, the margin decides."""
    client = token_client(simulator.url)
    client.auth.clock = lambda: datetime.now(UTC) + age  # type: ignore[attr-defined]
    endpoint_service_list(client)
    endpoint_service_list(client)
    assert len(simulator.journal(method="POST", path_contains="/v3/auth/tokens")) == token_calls
