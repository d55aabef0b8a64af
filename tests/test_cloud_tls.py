"""TLS and connection failures over real sockets: a plain reason, the right class, never a 500.

The simulator's TLS listener presents a certificate from a CA made at its start; the client trusts
that CA only when told to (``NetworkPolicy.ca_bundle``, ``VPCEPADMIN_CLOUD_CA_BUNDLE``).
"""

from __future__ import annotations

import html
import logging
import re
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests import seeds
from tests.cloudkit import FAST, aksk_client, token_client
from tests.dashboard import make_account
from vpcepadmin.cloud.editable import ServiceChanges
from vpcepadmin.cloud.endpoint_services import endpoint_service_list, endpoint_service_update
from vpcepadmin.cloud.errors import CloudError, CloudOutcomeUnknown, CloudUnavailable
from vpcepadmin.credentials.models import AuthMethod
from vpcepadmin.simulator.control import SimulatorControl
from vpcepadmin.simulator.server import SimulatorServer

NOT_TRUSTED = "The endpoint's TLS certificate is not trusted."
OTHER_NAME = "The endpoint's TLS certificate is for another host name."
NOT_TLS = "The endpoint does not speak TLS (wrong protocol, e.g. plain HTTP)."
REFUSED = "The endpoint refused the connection."
RESET = "The connection was reset."
LIST = {"method": "GET", "path": "vpc-endpoint-services$"}
PUT = {"method": "PUT", "path": "vpc-endpoint-services/"}


@pytest.fixture(scope="module")
def tls_server() -> Iterator[SimulatorServer]:
    """A simulator with a TLS listener whose certificate is for localhost and 127.0.0.1."""
    server = SimulatorServer(seed=seeds.standard_seed(), tls_port=0).start()
    yield server
    server.stop()


@pytest.fixture
def tls(tls_server: SimulatorServer) -> SimulatorServer:
    SimulatorControl(tls_server.url).reset(seeds.standard_seed())
    return tls_server


@pytest.fixture(scope="module")
def misnamed_server() -> Iterator[SimulatorServer]:
    """A TLS listener on 127.0.0.1 whose (trustable) certificate names another host only."""
    server = SimulatorServer(seed=seeds.standard_seed(), tls_port=0, tls_names=["vpcep.simulator.invalid"])
    server.start()
    yield server
    server.stop()


def _trusting(server: SimulatorServer) -> Any:
    return replace(FAST, ca_bundle=str(server.tls_ca_file))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _https_on_plain_port(server: SimulatorServer) -> str:
    return server.url.replace("http://", "https://")


def _attempts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "vpcepadmin.cloud"]


def _service_id(server: SimulatorServer) -> str:
    return str(SimulatorControl(server.url).state()["endpoint_services"][0]["id"])


# --- the listener itself ----------------------------------------------------------------------------
def test_it_serves_the_same_cloud_over_tls_to_a_client_that_trusts_its_ca(tls) -> None:
    page = endpoint_service_list(aksk_client(tls.tls_url, policy=_trusting(tls)))
    assert page.total_count == len(seeds.standard_seed()["endpoint_services"])
    assert tls.tls_url.startswith("https://127.0.0.1:")
    assert [entry["method"] for entry in SimulatorControl(tls.url).journal()] == ["GET"]


def test_it_describes_the_tls_listener_and_its_ca(tls) -> None:
    assert tls.tls_url in tls.describe()
    assert str(tls.tls_ca_file) in tls.describe()
    assert tls.tls_ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_it_has_no_tls_listener_unless_asked(simulator) -> None:
    with pytest.raises(ValueError, match="no TLS listener"):
        _ = simulator.server.tls_url


def test_it_drops_the_ca_file_when_it_stops() -> None:
    server = SimulatorServer(tls_port=0).start()
    ca_file = server.tls_ca_file
    assert ca_file.exists()
    server.stop()
    assert not ca_file.exists()


# --- (a) a certificate nobody trusts ----------------------------------------------------------------
def test_it_reports_an_untrusted_certificate_and_does_not_retry(tls, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vpcepadmin.cloud")
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(tls.tls_url))
    assert caught.value.message == NOT_TRUSTED
    assert caught.value.status == 0
    attempts = _attempts(caplog)
    assert len(attempts) == 1, attempts  # a bad certificate does not fix itself: no retry
    assert NOT_TRUSTED in attempts[0]
    assert seeds.SECRET_KEY not in caplog.text


# --- (b) a trusted certificate for another name -----------------------------------------------------
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_it_reports_a_certificate_for_another_host_name(misnamed_server, host, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vpcepadmin.cloud")
    url = misnamed_server.tls_url.replace("127.0.0.1", host)
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(url, policy=_trusting(misnamed_server)))
    assert caught.value.message == OTHER_NAME
    assert len(_attempts(caplog)) == 1


def test_an_untrusted_certificate_is_reported_before_its_name(misnamed_server) -> None:
    """OpenSSL checks the chain first: an untrusted certificate is 'not trusted', whatever its name."""
    with pytest.raises(CloudUnavailable, match=re.escape(NOT_TRUSTED)):
        endpoint_service_list(aksk_client(misnamed_server.tls_url))


# --- (c) https:// to a port that speaks plain HTTP --------------------------------------------------
def test_it_reports_an_endpoint_that_does_not_speak_tls(simulator, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vpcepadmin.cloud")
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(_https_on_plain_port(simulator.server)))
    assert caught.value.message == NOT_TLS
    assert len(_attempts(caplog)) == 1
    assert simulator.journal() == []


# --- (d) nothing listens ----------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_it_reports_a_refused_connection_and_retries_a_get(scheme, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vpcepadmin.cloud")
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(f"{scheme}://127.0.0.1:{_closed_port()}"))
    assert caught.value.message == REFUSED
    assert len(_attempts(caplog)) == 1 + FAST.get_retries


# --- (e) a server that resets -----------------------------------------------------------------------
def test_it_reports_a_reset_after_the_get_retries(simulator) -> None:
    simulator.add_fault(match=LIST, action="reset_before", count=10)
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(simulator.url))
    assert caught.value.message == RESET
    assert len(simulator.journal(method="GET")) == 1 + FAST.get_retries


def test_a_reset_over_tls_is_a_reset_too(tls) -> None:
    control = SimulatorControl(tls.url)
    control.add_fault(match=LIST, action="reset_before", count=10)
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(tls.tls_url, policy=_trusting(tls)))
    assert caught.value.message == RESET


def test_a_reset_put_was_sent_so_its_outcome_is_unknown(simulator) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    simulator.add_fault(match=PUT, action="reset_before", count=1)
    with pytest.raises(CloudOutcomeUnknown) as caught:
        endpoint_service_update(aksk_client(simulator.url), service_id, ServiceChanges(description="x"))
    assert RESET in caught.value.message
    assert len(simulator.journal(method="PUT")) == 1


@pytest.fixture
def hang_up_url() -> Iterator[str]:
    """https:// to a peer that resets every connection as soon as the client's hello arrives."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # the listener was shut down: the test is over
            connection.recv(16)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
    listener.close()
    thread.join(timeout=5)


def test_a_reset_during_the_handshake_is_retried_for_a_get(hang_up_url, caplog) -> None:
    caplog.set_level(logging.INFO, logger="vpcepadmin.cloud")
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(hang_up_url))
    assert caught.value.message == RESET
    assert len(_attempts(caplog)) == 1 + FAST.get_retries


def test_a_put_reset_during_the_handshake_was_not_sent(hang_up_url) -> None:
    with pytest.raises(CloudError) as caught:
        endpoint_service_update(aksk_client(hang_up_url), "x", ServiceChanges(description="x"))
    assert type(caught.value) is CloudUnavailable
    assert caught.value.message == RESET


# --- a PUT whose handshake failed was never sent ----------------------------------------------------
def _put_targets(tls: SimulatorServer, misnamed: SimulatorServer, plain: SimulatorServer) -> dict[str, Any]:
    return {
        NOT_TRUSTED: (tls.tls_url, FAST, tls),
        OTHER_NAME: (misnamed.tls_url, _trusting(misnamed), misnamed),
        NOT_TLS: (_https_on_plain_port(plain), FAST, plain),
        REFUSED: (f"https://127.0.0.1:{_closed_port()}", FAST, None),
    }


@pytest.mark.parametrize("reason", [NOT_TRUSTED, OTHER_NAME, NOT_TLS, REFUSED])
def test_a_put_that_never_got_through_the_handshake_is_unavailable_not_unknown(
    tls, misnamed_server, simulator, reason, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="vpcepadmin.cloud")
    url, policy, server = _put_targets(tls, misnamed_server, simulator.server)[reason]
    with pytest.raises(CloudError) as caught:
        endpoint_service_update(aksk_client(url, policy=policy), "x", ServiceChanges(description="x"))
    assert type(caught.value) is CloudUnavailable
    assert caught.value.message == reason
    assert len(_attempts(caplog)) == 1  # a PUT is never retried
    if server is not None:
        assert SimulatorControl(server.url).journal() == []


def test_a_token_login_to_an_untrusted_endpoint_is_unavailable(tls) -> None:
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(token_client(tls.tls_url))
    assert caught.value.message == NOT_TRUSTED


def test_a_missing_ca_bundle_is_reported_without_a_call(tls) -> None:
    policy = replace(FAST, ca_bundle="/nonexistent/ca.pem")
    with pytest.raises(CloudUnavailable, match="CA bundle"):
        endpoint_service_list(aksk_client(tls.tls_url, policy=policy))
    assert SimulatorControl(tls.url).journal() == []


# --- the pages: a banner with the plain reason, never a 500 -----------------------------------------
def _text(response: Any) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


@pytest.fixture(params=["untrusted", "plain-http"])
def broken_endpoint(request, tls, simulator) -> tuple[str, str]:
    """(endpoint, the reason the pages must show) for an account whose endpoint fails TLS."""
    if request.param == "untrusted":
        return tls.tls_url, NOT_TRUSTED
    return _https_on_plain_port(simulator.server), NOT_TLS


def test_the_service_list_shows_the_reason(viewer_client, broken_endpoint) -> None:
    url, reason = broken_endpoint
    account = make_account(url)
    response = viewer_client.get(f"/credentials/{account.pk}/services/")
    assert response.status_code == 200
    assert reason in _text(response)


def test_the_service_page_shows_the_reason(viewer_client, broken_endpoint, tls) -> None:
    url, reason = broken_endpoint
    account = make_account(url)
    response = viewer_client.get(f"/credentials/{account.pk}/services/{_service_id(tls)}/")
    assert response.status_code == 200
    assert reason in _text(response)


def test_the_overview_summary_shows_the_reason(viewer_client, broken_endpoint) -> None:
    url, reason = broken_endpoint
    account = make_account(url)
    response = viewer_client.get(f"/credentials/{account.pk}/services/summary/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Could not load" in _text(response)
    assert reason in _text(response)


@pytest.mark.parametrize("method", [AuthMethod.AKSK, AuthMethod.PASSWORD])
def test_test_connection_shows_the_reason_and_records_it(admin_client_, broken_endpoint, method) -> None:
    url, reason = broken_endpoint
    overrides: dict[str, Any] = {"auth_method": method}
    if method == AuthMethod.PASSWORD:
        overrides.update(
            access_key="", iam_username=seeds.USERNAME, domain_name=seeds.DOMAIN_NAME, secret=seeds.PASSWORD
        )
    account = make_account(url, **overrides)
    inline = admin_client_.post(f"/credentials/{account.pk}/test/", HTTP_HX_REQUEST="true")
    assert inline.status_code == 200
    assert reason in _text(inline)
    whole = admin_client_.post(f"/credentials/{account.pk}/test/", follow=True)
    assert whole.status_code == 200
    assert reason in _text(whole)
    account.refresh_from_db()
    assert reason in account.last_error
