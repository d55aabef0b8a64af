"""SSRF is checked when connecting, not only when saving (reliability.md §5.5).

An account's endpoint name is resolved when it is saved; a later call connects to whatever the name
resolves to then. Every new connection resolves the name once, refuses it when any answer is a
private, loopback (unless the simulator is enabled), link-local or metadata address, connects to
the checked address and still checks TLS against the host name. DNS is a boundary we do not own,
so ``socket.getaddrinfo`` is replaced by a resolver whose answers the test changes; everything
else runs over real sockets.
"""

from __future__ import annotations

import html
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from tests import seeds
from tests.cloudkit import FAST, aksk_client
from tests.dashboard import make_account
from tests.test_credentials_pages import _form
from vpcepadmin.cloud.addresses import is_refused
from vpcepadmin.cloud.editable import ServiceChanges
from vpcepadmin.cloud.endpoint_services import endpoint_service_list, endpoint_service_update
from vpcepadmin.cloud.errors import CloudError, CloudUnavailable
from vpcepadmin.cloud.transport import NetworkPolicy
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.simulator.control import SimulatorControl
from vpcepadmin.simulator.server import SimulatorServer

NAME = "vpcep.eu-de.otc.t-systems.com"
PUBLIC = "80.158.3.4"
OTHER_NAME = "The endpoint's TLS certificate is for another host name."


def _refused(address: str) -> str:
    return f"The endpoint resolves to a private or internal address ({address}); calls to it are refused."


def _text(response: Any) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


class Resolver:
    """DNS for the names it is told about (the rest goes to the real resolver), and who asked.

    ``answers[name]`` is a list of (address, port): the port stands for "this address's service",
    so that a test can point an internal answer at a real listener and prove nothing reached it.
    ``then[name]``, when set, replaces the answers once they have been given (a rebinding name).
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.answers: dict[str, list[tuple[str, int | None]]] = {}
        self.then: dict[str, list[tuple[str, int | None]]] = {}
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, family: int = 0, kind: int = 0, proto: int = 0, flags: int = 0):
        if host not in self.answers:
            return self.real(host, port, family, kind, proto, flags)
        self.asked.append(host)
        given = self.answers[host]
        self.answers[host] = self.then.pop(host, given)
        found = []
        for address, answer_port in given:
            sockaddr: tuple[Any, ...] = (address, answer_port or int(port))
            family_of = socket.AF_INET
            if ":" in address:
                family_of, sockaddr = socket.AF_INET6, (*sockaddr, 0, 0)
            found.append((family_of, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return found


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    fake = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts (and closes them)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return  # shut down: the test is over
            self.accepted += 1
            connection.close()

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.stop()


@pytest.fixture
def production(settings: Any) -> Any:
    """The simulator is off (as in production) and a call gives up fast if it does connect."""
    settings.SIMULATOR_ENABLED = False
    settings.CLOUD_CONNECT_TIMEOUT = settings.CLOUD_READ_TIMEOUT = 0.5
    settings.CLOUD_DEADLINE = 2.0
    settings.CLOUD_GET_RETRIES = 0
    return settings


# --- a name that changes its answer between saving and calling ----------------------------------------
INTERNAL = ["127.0.0.1", "10.0.0.5", "169.254.169.254", "100.100.100.200", "::ffff:127.0.0.1", "::1"]


def _saved_account(admin_client_: Any, resolver: Resolver) -> CloudCredential:
    resolver.answers[NAME] = [(PUBLIC, None)]
    created = admin_client_.post("/credentials/new/", _form(f"https://{NAME}", name="Rebound"))
    assert created.status_code == 302, _text(created)  # the name was public when it was saved
    return CloudCredential.objects.get(name="Rebound")


@pytest.mark.parametrize("address", INTERNAL)
def test_it_refuses_a_call_when_the_saved_name_now_resolves_to_an_internal_address(
    admin_client_, viewer_client, production, resolver, listener, address
) -> None:
    account = _saved_account(admin_client_, resolver)
    assert account.vpcep_endpoint == f"https://{NAME}"
    resolver.answers[NAME] = [(address, listener.port)]
    asked_before = len(resolver.asked)
    tested = admin_client_.post(f"/credentials/{account.pk}/test/", follow=True)
    assert _refused(address) in _text(tested)
    assert resolver.asked[asked_before:] == [NAME]  # resolved once for the call, and not retried
    account.refresh_from_db()
    assert _refused(address) in account.last_error
    listed = viewer_client.get(f"/credentials/{account.pk}/services/")
    assert listed.status_code == 200
    assert _refused(address) in _text(listed)
    assert listener.accepted == 0


def test_it_refuses_a_name_when_any_of_its_answers_is_internal(
    admin_client_, production, resolver, listener
) -> None:
    account = _saved_account(admin_client_, resolver)
    resolver.answers[NAME] = [(PUBLIC, None), ("10.0.0.5", listener.port)]
    tested = admin_client_.post(f"/credentials/{account.pk}/test/", follow=True)
    assert _refused("10.0.0.5") in _text(tested)
    assert listener.accepted == 0


def test_a_refused_put_was_never_sent(simulator) -> None:
    """An IP literal is checked at connect time too; a refused PUT is unavailable, not unknown."""
    strict = replace(FAST, allow_loopback=False)
    with pytest.raises(CloudError) as caught:
        endpoint_service_update(
            aksk_client(simulator.url, policy=strict),
            simulator.seed["endpoint_services"][0]["id"],
            ServiceChanges(description="never sent"),
        )
    assert type(caught.value) is CloudUnavailable
    assert caught.value.message == _refused("127.0.0.1")
    assert simulator.journal() == []


def test_it_connects_to_the_address_it_checked_and_resolves_once(simulator, resolver) -> None:
    """A resolver that answers loopback, then an internal address: the checked answer is used."""
    name = "rebind.simulator.test"
    port = int(simulator.url.rsplit(":", 1)[1])
    resolver.answers[name] = [("127.0.0.1", None)]
    resolver.then[name] = [("10.0.0.5", None)]  # what any second look would get
    client = aksk_client(f"http://{name}:{port}", policy=replace(FAST, allow_loopback=True))
    page = endpoint_service_list(client)
    assert page.total_count == len(seeds.standard_seed()["endpoint_services"])
    assert resolver.asked == [name]


# --- loopback: only while the simulator is enabled --------------------------------------------------------
def test_loopback_is_allowed_while_the_simulator_is_enabled(viewer_client, simulator, settings) -> None:
    settings.SIMULATOR_ENABLED = True
    assert NetworkPolicy.from_settings().allow_loopback is True
    account = make_account(simulator.url)
    listed = viewer_client.get(f"/credentials/{account.pk}/services/")
    assert seeds.standard_seed()["endpoint_services"][0]["service_name"] in _text(listed)


def test_loopback_is_refused_while_the_simulator_is_disabled(viewer_client, simulator, production) -> None:
    assert NetworkPolicy.from_settings().allow_loopback is False
    account = make_account(simulator.url)  # saved while it was enabled, say
    listed = viewer_client.get(f"/credentials/{account.pk}/services/")
    assert _refused("127.0.0.1") in _text(listed)
    assert simulator.journal() == []


# --- one address policy ------------------------------------------------------------------------------
ALWAYS_REFUSED = [
    "10.0.0.5", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254", "169.254.170.2",
    "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1", "192.0.2.1",  # noqa: S104
    "fe80::1", "fe80::1%eth0", "fc00::1", "fd00:ec2::254", "::", "ff02::1", "2001:db8::1",
    "::ffff:10.0.0.5", "::ffff:169.254.169.254", "2002:a00:5::1", "64:ff9b::a00:5", "64:ff9b:1::1",
    "2002:7f00:1::1", "64:ff9b::7f00:1", "not-an-address",
]  # fmt: skip
LOOPBACK = ["127.0.0.1", "127.5.5.5", "::1", "::ffff:127.0.0.1"]
PUBLIC_ADDRESSES = [PUBLIC, "2606:4700::1111", "::ffff:80.158.3.4", "64:ff9b::509e:304"]


@pytest.mark.parametrize("allow_loopback", [False, True])
def test_the_policy_refuses_internal_addresses_always_and_loopback_unless_allowed(allow_loopback) -> None:
    assert [a for a in ALWAYS_REFUSED if not is_refused(a, allow_loopback=allow_loopback)] == []
    assert all(is_refused(a, allow_loopback=allow_loopback) is not allow_loopback for a in LOOPBACK)
    assert [a for a in PUBLIC_ADDRESSES if is_refused(a, allow_loopback=allow_loopback)] == []


# --- TLS is still checked against the host name, not the address connected to -------------------------
@pytest.fixture(scope="module")
def localhost_tls() -> Iterator[SimulatorServer]:
    server = SimulatorServer(seed=seeds.standard_seed(), tls_port=0, tls_names=["localhost"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def named_tls() -> Iterator[SimulatorServer]:
    server = SimulatorServer(seed=seeds.standard_seed(), tls_port=0, tls_names=[NAME]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def address_tls() -> Iterator[SimulatorServer]:
    """A certificate for the address 127.0.0.1 only, not for any name."""
    server = SimulatorServer(seed=seeds.standard_seed(), tls_port=0, tls_names=["127.0.0.1"]).start()
    yield server
    server.stop()


def _tls_port(server: SimulatorServer) -> int:
    SimulatorControl(server.url).reset(seeds.standard_seed())
    return int(server.tls_url.rsplit(":", 1)[1])


def test_a_certificate_for_localhost_reached_as_localhost_is_trusted(
    viewer_client, localhost_tls, settings
) -> None:
    settings.CLOUD_CA_BUNDLE = str(localhost_tls.tls_ca_file)
    account = make_account(f"https://localhost:{_tls_port(localhost_tls)}")
    listed = viewer_client.get(f"/credentials/{account.pk}/services/")
    assert seeds.standard_seed()["endpoint_services"][0]["service_name"] in _text(listed)
    assert len(SimulatorControl(localhost_tls.url).journal()) == 1


def test_a_certificate_for_another_name_is_refused_as_such(viewer_client, address_tls, settings) -> None:
    settings.CLOUD_CA_BUNDLE = str(address_tls.tls_ca_file)
    account = make_account(f"https://localhost:{_tls_port(address_tls)}")
    listed = viewer_client.get(f"/credentials/{account.pk}/services/")
    assert OTHER_NAME in _text(listed)
    assert SimulatorControl(address_tls.url).journal() == []


def test_tls_names_the_host_while_the_socket_goes_to_the_checked_address(named_tls, resolver) -> None:
    """The certificate names only the host: SNI and verification used the name, not 127.0.0.1."""
    resolver.answers[NAME] = [("127.0.0.1", None)]
    policy = replace(FAST, ca_bundle=str(named_tls.tls_ca_file), allow_loopback=True)
    page = endpoint_service_list(aksk_client(f"https://{NAME}:{_tls_port(named_tls)}", policy=policy))
    assert page.total_count == len(seeds.standard_seed()["endpoint_services"])
    assert resolver.asked == [NAME]


def test_a_certificate_for_the_address_does_not_pass_for_the_name(address_tls, resolver) -> None:
    """Reached by name, a certificate for the address connected to is for another host name."""
    resolver.answers[NAME] = [("127.0.0.1", None)]
    policy = replace(FAST, ca_bundle=str(address_tls.tls_ca_file), allow_loopback=True)
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_list(aksk_client(f"https://{NAME}:{_tls_port(address_tls)}", policy=policy))
    assert caught.value.message == OTHER_NAME
    assert SimulatorControl(address_tls.url).journal() == []
