"""The client's network policy against the simulator's faults, counted in its journal."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest

from tests.cloudkit import FAST, aksk_client
from vpcepadmin.cloud.editable import ServiceChanges
from vpcepadmin.cloud.endpoint_services import (
    endpoint_service_get,
    endpoint_service_list,
    endpoint_service_update,
)
from vpcepadmin.cloud.errors import (
    CloudOutcomeUnknown,
    CloudRejected,
    CloudThrottled,
    CloudUnavailable,
)

LIST = {"method": "GET", "path": "vpc-endpoint-services$"}
PUT = {"method": "PUT", "path": "vpc-endpoint-services/"}


@pytest.fixture
def service_id(simulator):
    return simulator.seed["endpoint_services"][0]["id"]


def _gets(simulator):
    return simulator.journal(method="GET", path_contains="vpc-endpoint-services")


def _puts(simulator):
    return simulator.journal(method="PUT")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_it_retries_a_get_on_transient_statuses_then_succeeds(simulator, status) -> None:
    simulator.add_fault(match=LIST, action="status", status=status, error_code="X.1", count=2)
    assert endpoint_service_list(aksk_client(simulator.url)).total_count > 0
    assert [entry["status"] for entry in _gets(simulator)] == [status, status, 200]


def test_it_gives_up_after_the_retry_budget(simulator) -> None:
    simulator.add_fault(match=LIST, action="status", status=503, error_code="EndPoint.0001", count=10)
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(simulator.url))
    assert caught.value.status == 503
    assert len(_gets(simulator)) == 1 + FAST.get_retries


def test_it_does_not_retry_a_get_on_500(simulator) -> None:
    simulator.add_fault(match=LIST, action="status", status=500, error_code="EndPoint.0001", count=3)
    with pytest.raises(CloudUnavailable):
        endpoint_service_list(aksk_client(simulator.url))
    assert len(_gets(simulator)) == 1


def test_it_caps_retry_after_and_reports_throttling(simulator) -> None:
    simulator.add_fault(
        match=LIST, action="status", status=429, error_code="APIGW.0308", retry_after=3600, count=10
    )
    started = time.monotonic()
    with pytest.raises(CloudThrottled) as caught:
        endpoint_service_list(aksk_client(simulator.url))
    assert time.monotonic() - started < 3 * FAST.retry_after_max + 1
    assert caught.value.error_code == "APIGW.0308"
    assert len(_gets(simulator)) == 1 + FAST.get_retries


def test_it_treats_endpoint_0022_as_throttling(simulator) -> None:
    simulator.add_fault(match=LIST, action="status", status=400, error_code="EndPoint.0022", count=1)
    with pytest.raises(CloudThrottled):
        endpoint_service_list(aksk_client(simulator.url))


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_it_never_retries_a_put(simulator, service_id, status) -> None:
    simulator.add_fault(match=PUT, action="status", status=status, error_code="EndPoint.0001", count=5)
    with pytest.raises((CloudUnavailable, CloudThrottled, CloudOutcomeUnknown)):
        endpoint_service_update(aksk_client(simulator.url), service_id, ServiceChanges(description="x"))
    assert len(_puts(simulator)) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, CloudUnavailable),
        (503, CloudUnavailable),
        (502, CloudOutcomeUnknown),
        (504, CloudOutcomeUnknown),
    ],
)
def test_it_knows_which_5xx_of_a_put_leave_the_outcome_unknown(simulator, service_id, status, error) -> None:
    simulator.add_fault(match=PUT, action="status", status=status, error_code="EndPoint.0001", count=1)
    with pytest.raises(error):
        endpoint_service_update(aksk_client(simulator.url), service_id, ServiceChanges(description="x"))


def test_a_reset_after_apply_is_an_unknown_outcome_and_the_change_happened(simulator, service_id) -> None:
    simulator.add_fault(match=PUT, action="reset_after", count=1)
    client = aksk_client(simulator.url)
    with pytest.raises(CloudOutcomeUnknown):
        endpoint_service_update(client, service_id, ServiceChanges(description="applied anyway"))
    assert len(_puts(simulator)) == 1
    assert endpoint_service_get(client, service_id).description == "applied anyway"


def test_a_reset_before_apply_is_an_unknown_outcome_and_nothing_happened(simulator, service_id) -> None:
    simulator.add_fault(match=PUT, action="reset_before", count=1)
    client = aksk_client(simulator.url)
    with pytest.raises(CloudOutcomeUnknown):
        endpoint_service_update(client, service_id, ServiceChanges(description="never applied"))
    assert len(_puts(simulator)) == 1
    assert endpoint_service_get(client, service_id).description != "never applied"


def test_apply_then_timeout_is_an_unknown_outcome_after_the_read_timeout(simulator, service_id) -> None:
    simulator.add_fault(match=PUT, action="apply_then_timeout", seconds=5, count=1)
    started = time.monotonic()
    with pytest.raises(CloudOutcomeUnknown):
        endpoint_service_update(aksk_client(simulator.url), service_id, ServiceChanges(description="late"))
    assert time.monotonic() - started < FAST.read_timeout + 1
    assert len(_puts(simulator)) == 1


def test_a_get_read_reset_is_retried(simulator) -> None:
    simulator.add_fault(match=LIST, action="reset_before", count=1)
    assert endpoint_service_list(aksk_client(simulator.url)).total_count > 0
    assert len(_gets(simulator)) == 2


def test_the_total_deadline_bounds_a_dripped_body(simulator) -> None:
    """reliability.md §5.2: a read timeout never fires while a byte arrives every 0.3 s."""
    simulator.add_fault(match=LIST, action="drip", interval=0.3, count=10)
    policy = replace(FAST, deadline=2.0, get_retries=0)
    started = time.monotonic()
    with pytest.raises(CloudUnavailable, match="deadline"):
        endpoint_service_list(aksk_client(simulator.url, policy=policy))
    assert time.monotonic() - started < policy.deadline + 0.5


def test_the_deadline_also_bounds_a_dripped_put_which_becomes_unknown(simulator, service_id) -> None:
    simulator.add_fault(match=PUT, action="drip", interval=0.3, count=1)
    policy = replace(FAST, deadline=1.5)
    started = time.monotonic()
    with pytest.raises(CloudOutcomeUnknown):
        endpoint_service_update(
            aksk_client(simulator.url, policy=policy), service_id, ServiceChanges(description="d")
        )
    assert time.monotonic() - started < policy.deadline + 0.5


def test_it_caps_the_body_size(simulator) -> None:
    simulator.add_fault(match=LIST, action="oversize", size=FAST.max_body_bytes * 4, count=10)
    with pytest.raises(CloudUnavailable, match="larger than"):
        endpoint_service_list(aksk_client(simulator.url))
    assert len(_gets(simulator)) == 1


def test_it_never_follows_a_redirect(simulator, service_id) -> None:
    sink = f"{simulator.url}/v1/sink"
    simulator.add_fault(match={"path": "vpc-endpoint-services"}, action="redirect", location=sink, count=10)
    with pytest.raises(CloudUnavailable, match="redirect"):
        endpoint_service_list(aksk_client(simulator.url))
    with pytest.raises(CloudUnavailable, match="redirect"):
        endpoint_service_update(aksk_client(simulator.url), service_id, ServiceChanges(description="r"))
    assert simulator.journal(path_contains="sink") == []


@pytest.mark.parametrize("html", [False, True])
def test_a_malformed_answer_to_a_get_is_unavailable(simulator, html) -> None:
    simulator.add_fault(match=LIST, action="malformed", html=html, count=10)
    with pytest.raises(CloudUnavailable):
        endpoint_service_list(aksk_client(simulator.url))


def test_a_malformed_answer_to_a_put_is_an_unknown_outcome(simulator, service_id) -> None:
    simulator.add_fault(match=PUT, action="malformed", count=1)
    with pytest.raises(CloudOutcomeUnknown):
        endpoint_service_update(aksk_client(simulator.url), service_id, ServiceChanges(description="m"))


@pytest.mark.parametrize("shape", ["flat", "nested", "apigw"])
def test_it_parses_every_error_body_shape(simulator, shape) -> None:
    simulator.add_fault(
        match=LIST,
        action="status",
        status=400,
        error_code="EndPoint.0017",
        error_msg="Invalid sort_key.",
        shape=shape,
        count=1,
    )
    with pytest.raises(CloudRejected) as caught:
        endpoint_service_list(aksk_client(simulator.url))
    assert (caught.value.error_code, caught.value.message) == ("EndPoint.0017", "Invalid sort_key.")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_unavailable_and_a_put_was_not_sent(simulator) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_update(aksk_client(url), "x", ServiceChanges(description="x"))
    assert not isinstance(caught.value, CloudOutcomeUnknown)


def test_it_keeps_the_connection_alive_between_calls(simulator):
    client = aksk_client(simulator.url)
    endpoint_service_list(client)
    endpoint_service_list(client)
    ports = [entry["client_port"] for entry in _gets(simulator)]
    assert len(ports) == 2
    assert ports[0] == ports[1]
