"""The simulator's own HTTP/1.1 server: keep-alive, real TCP resets, refusals, a prompt stop."""

from __future__ import annotations

import http.client
import socket
import time

import pytest

from tests.seeds import standard_seed
from vpcepadmin.simulator.server import SimulatorServer


def raw_exchange(url: str, payload: bytes, timeout: float = 2.0) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.sendall(payload)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_it_keeps_the_connection_alive_between_requests(simulator):
    connection = http.client.HTTPConnection(simulator.url.removeprefix("http://"), timeout=2)
    for _ in range(3):
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
    local_port = connection.sock.getsockname()[1]
    connection.request("GET", "/v1")
    connection.getresponse().read()
    assert connection.sock.getsockname()[1] == local_port
    connection.close()


def test_it_journals_the_client_port_of_each_connection(simulator):
    connection = http.client.HTTPConnection(simulator.url.removeprefix("http://"), timeout=2)
    for _ in range(2):
        connection.request("GET", "/")
        connection.getresponse().read()
    local_port = connection.sock.getsockname()[1]
    connection.close()
    assert [entry["client_port"] for entry in simulator.journal()] == [local_port, local_port]


def test_it_resets_with_a_tcp_rst_not_a_close(simulator):
    simulator.add_fault(action="reset_before")
    sock = raw_exchange(simulator.url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with pytest.raises(ConnectionResetError):
        read_until_closed(sock)  # a FIN would end the reading with b"" instead of raising
    sock.close()


def test_it_closes_normally_after_a_short_body(simulator):
    simulator.add_fault(action="malformed", short=True)
    sock = raw_exchange(simulator.url, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    received = read_until_closed(sock)
    sock.close()
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    assert 0 < len(body) < length


def test_it_refuses_a_chunked_request_body_with_411(simulator):
    sock = raw_exchange(
        simulator.url,
        b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 411")
    sock.close()


def test_it_does_not_journal_the_control_api(simulator):
    simulator.control.state()
    simulator.control.faults()
    assert simulator.journal() == []


def test_it_stops_promptly_even_while_holding_an_answer_back():
    server = SimulatorServer(seed=standard_seed()).start()
    server.app.faults.add({"action": "apply_then_timeout", "seconds": 30})
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=5)
    connection.request("GET", "/")
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert connection.getresponse().status == 200  # the held-back answer is released, not lost
    connection.close()


def test_it_serves_on_the_port_it_was_given():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with SimulatorServer(port=port) as server:
        assert server.url == f"http://127.0.0.1:{port}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        connection.close()


def test_it_refuses_an_unreadable_content_length_with_411(simulator):
    sock = raw_exchange(simulator.url, b"PUT /v1 HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 411")
    sock.close()
