"""Browsing: overview, the service list (search, filter, sort, pages), the service page, failures."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import seeds


def _list(client, account, query: str = "", **headers):
    return client.get(f"/credentials/{account.pk}/services/{query}", **headers)


def _text(response) -> str:
    """What a reader sees: the page without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_the_overview_lists_accounts_and_loads_each_summary_by_itself(
    viewer_client, account, simulator
) -> None:
    page = viewer_client.get("/").content.decode()
    assert "Test account" in page
    assert f'hx-get="/credentials/{account.pk}/services/summary/"' in page
    assert simulator.journal() == []  # the page itself calls no cloud
    summary = viewer_client.get(f"/credentials/{account.pk}/services/summary/", HTTP_HX_REQUEST="true")
    assert "3 endpoint services" in _text(summary)
    assert "3 available" in _text(summary)


def test_a_failing_account_summary_says_so_without_failing_the_page(
    viewer_client, account, simulator
) -> None:
    simulator.add_fault(match={"path": "vpc-endpoint-services"}, action="status", status=500, count=5)
    summary = viewer_client.get(f"/credentials/{account.pk}/services/summary/")
    assert summary.status_code == 200
    assert "Could not load" in summary.content.decode()


def test_the_list_shows_every_column(viewer_client, account, simulator) -> None:
    seed = seeds.standard_seed(services=0)
    seed["endpoint_services"] = [
        seeds.service(
            service_name="web",
            ports=[
                {"client_port": 443, "server_port": 8443, "protocol": "TCP"},
                {"client_port": 80, "server_port": 8080, "protocol": "TCP"},
                {"client_port": 81, "server_port": 8081, "protocol": "TCP"},
            ],
        ),
    ]
    simulator.reset(seed)
    page = _list(viewer_client, account).content.decode()
    service_id = seed["endpoint_services"][0]["id"]
    for text in ("web", "available", "required", "LB", "443→8443 +2", f'data-copy="{service_id}"', "<time"):
        assert text in page


def test_search_status_and_sort_reach_the_api(viewer_client, account, simulator) -> None:
    response = _list(viewer_client, account, "?q=Service-01&status=available&sort=updated")
    assert response.status_code == 200
    [call] = simulator.journal(method="GET")
    query = call["query"]
    for part in (
        "endpoint_service_name=Service-01",
        "status=available",
        "sort_key=updated_at",
        "sort_dir=asc",
    ):
        assert part in query
    assert "service-01" in response.content.decode()
    assert "service-00" not in response.content.decode()


def test_invalid_filters_fall_back_to_defaults(viewer_client, account, simulator) -> None:
    response = _list(viewer_client, account, "?status=bogus&sort=drop&page=-3")
    assert response.status_code == 200
    [call] = simulator.journal(method="GET")
    assert "offset=0" in call["query"]
    assert "status=" not in call["query"]


def test_it_pages_by_25_with_limit_and_offset(viewer_client, account, simulator) -> None:
    simulator.reset(seeds.standard_seed(services=60))
    page = _list(viewer_client, account, "?page=3").content.decode()
    [call] = simulator.journal(method="GET")
    assert "limit=25" in call["query"]
    assert "offset=50" in call["query"]
    assert "60 services" in page
    assert "page 3 of 3" in page


def test_an_htmx_filter_gets_the_table_partial(viewer_client, account) -> None:
    response = _list(viewer_client, account, "?q=service", HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert "<html" not in content
    assert "<table" in content
    assert response["Vary"].count("HX-Request") == 1


def test_a_failing_list_renders_a_banner_with_code_and_request_id(viewer_client, account, simulator) -> None:
    simulator.add_fault(
        match={"path": "vpc-endpoint-services"},
        action="status",
        status=400,
        error_code="EndPoint.0017",
        error_msg="Invalid sort_key.",
        count=1,
    )
    response = _list(viewer_client, account)
    assert response.status_code == 200
    content = response.content.decode()
    [call] = simulator.journal(method="GET")
    assert "EndPoint.0017" in content
    assert call["request_id"] in content


def test_the_service_page_shows_every_field(viewer_client, account, simulator) -> None:
    service = simulator.seed["endpoint_services"][0]
    content = viewer_client.get(f"/credentials/{account.pk}/services/{service['id']}/").content.decode()
    for text in (
        f"eu-de.{service['service_name']}.{service['id']}",
        service["port_id"],
        service["vpc_id"],
        "Client port",
        "Server port",
        "UTC",
        "History",
    ):
        assert text in content


def test_the_edit_button_is_disabled_with_the_reason_unless_available(
    operator_client, account, simulator
) -> None:
    seed = seeds.standard_seed(services=0)
    seed["endpoint_services"] = [seeds.service(status="creating")]
    simulator.reset(seed)
    content = operator_client.get(f"/credentials/{account.pk}/services/{seed['endpoint_services'][0]['id']}/")
    text = content.content.decode()
    assert "disabled" in text
    assert "This service is creating; it can be edited when it is available." in text


def test_an_unknown_service_says_it_does_not_exist(viewer_client, account) -> None:
    response = viewer_client.get(f"/credentials/{account.pk}/services/00000000-0000-4000-8000-000000000000/")
    assert response.status_code == 404
    assert "does not exist" in response.content.decode()


def test_a_service_id_that_is_not_id_shaped_never_reaches_the_cloud(
    viewer_client, account, simulator
) -> None:
    assert viewer_client.get(f"/credentials/{account.pk}/services/..%2F..%2Fquotas/").status_code == 404
    assert simulator.journal() == []


@pytest.mark.parametrize("total", [1, 25, 1000])
def test_a_list_page_makes_one_call_and_a_fixed_number_of_queries(
    viewer_client, account, simulator, total
) -> None:
    simulator.reset(seeds.standard_seed(services=total))
    viewer_client.get("/")  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = _list(viewer_client, account)
    assert response.status_code == 200
    assert len(simulator.journal(path_contains="vpc-endpoint-services")) == 1
    assert len(queries) <= 8, [q["sql"] for q in queries]


def test_a_token_account_list_makes_one_call_plus_one_token_call_when_cold(
    viewer_client, token_account, simulator
):
    _list(viewer_client, token_account)
    _list(viewer_client, token_account)
    assert len(simulator.journal(path_contains="/v3/auth/tokens")) == 1
    assert len(simulator.journal(path_contains="vpc-endpoint-services")) == 2
