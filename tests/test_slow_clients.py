"""Slow clients cannot stop the server: 20 of them sending their headers a byte a second leave
/healthz and a page answering within a second, with the documented production command (issue 10 §7).

A bound on starvation, not a benchmark: each request is allowed a whole second, and a server that a
handful of slow clients block answers in tens of seconds or never.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from bench import deployment

DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/vpcepadmin_slow_{os.getpid()}"
SLOW_CLIENTS = 20
SECONDS = 8.0
REQUEST = (
    b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow-client\r\nX-Padding: " + b"x" * 64
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    deployment.recreate_database(DATABASE_URL)
    scratch = deployment.scratch_dir("vpcepadmin-slow-")
    env = deployment.deployment_env(DATABASE_URL, "", scratch, read_timeout=5)
    process = None
    try:
        migrated = deployment.manage(env, "migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stderr
        port = deployment.free_port()
        process = deployment.start_gunicorn(env, 3, port, scratch / "gunicorn.log")
        url = f"http://127.0.0.1:{port}"
        deployment.wait_healthy(url, process)
        yield url
    finally:
        deployment.stop_process(process)
        deployment.drop_database(DATABASE_URL)


def _drip(port: int, until: float, connected: threading.Event) -> None:
    """One slow client: connects, then sends its request a byte a second until ``until``."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        connected.set()
        for byte in REQUEST:
            if time.monotonic() >= until:
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # the server gave up on this client: fine
                return
            time.sleep(1.0)


def test_twenty_slow_clients_leave_the_health_check_and_a_page_answering(server) -> None:
    port = int(server.rsplit(":", 1)[1])
    until = time.monotonic() + SECONDS
    events = [threading.Event() for _ in range(SLOW_CLIENTS)]
    slow = [threading.Thread(target=_drip, args=(port, until, event)) for event in events]
    for thread in slow:
        thread.start()
    assert all(event.wait(5) for event in events), "the slow clients could not connect"
    time.sleep(1.5)  # every slow client is now in the middle of its headers
    waits = []
    while time.monotonic() < until - 1:
        for path in ("/healthz", "/accounts/login/"):
            started = time.monotonic()
            response = requests.get(server + path, timeout=(1, 5))
            waits.append((path, response.status_code, time.monotonic() - started))
        time.sleep(0.3)
    for thread in slow:
        thread.join(timeout=SECONDS + 5)
    assert waits, "no request was made while the slow clients were connected"
    assert all(status == 200 for _path, status, _wait in waits), waits
    slowest = max(wait for _path, _status, wait in waits)
    assert slowest < 1.0, f"a request waited {slowest:.2f} s behind {SLOW_CLIENTS} slow clients: {waits}"
