"""D5: a database that does not answer gives a plain 503 page, never a 500; /healthz never touches the
session and says which dependency is down.

The outage test runs the production server (gunicorn, DEBUG off) as a process of its own against a
PostgreSQL port where nothing listens, and talks to it over a real socket.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.test_security import PROD_ENV

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
HOST = "vpcepadmin.example.com"  # in PROD_ENV's allowed hosts
UNAVAILABLE = "The database is unavailable. Nothing was changed; try again in a moment."
FAKE_SESSION = {
    "Cookie": "__Host-sessionid=abcdefghijklmnopqrstuvwxyz012345; sessionid=abcdefghijklmnopqrstuvwxyz0123"
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Answer:
    status: int
    content_type: str
    body: str
    location: str = ""
    set_cookie: str = ""


@dataclass
class Server:
    port: int

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers)

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: str | None = None
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
            response = connection.getresponse()
            return Answer(
                response.status,
                response.getheader("Content-Type", ""),
                response.read().decode(),
                response.getheader("Location", ""),
                response.getheader("Set-Cookie", ""),
            )
        finally:
            connection.close()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], deadline: float, log: IO[bytes]) -> None:
    """Return once ``port`` accepts connections; fail with the server's output if it never does."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    log.seek(0)
    output = log.read().decode(errors="replace")[-3000:]
    raise AssertionError(f"the server did not listen on {port} (exit code {process.poll()}):\n{output}")


@pytest.fixture(scope="module")
def server_without_database() -> Iterator[Server]:
    """gunicorn with the production settings and DATABASE_URL at a port where nothing listens."""
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VPCEPADMIN_", "DATABASE_URL", "DJANGO_"))
    }
    env |= {
        **PROD_ENV,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_free_port()}/none",
        "VPCEPADMIN_SSL_REDIRECT": "0",  # plain http on loopback; the cookies stay secure-only
        "VPCEPADMIN_VAR_DIR": tempfile.mkdtemp(prefix="vpcepadmin-dbdown-"),
        "DJANGO_SETTINGS_MODULE": "vpcepadmin.settings",
    }
    env.pop("VPCEPADMIN_CACHE_URL", None)  # the database is what is down here, not the cache
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [str(GUNICORN), "vpcepadmin.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_port(port, process, time.monotonic() + 60, log)
            yield Server(port)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.parametrize("path", ["/", "/credentials/", "/audit/", "/accounts/login/"])
def test_it_answers_a_plain_503_page_when_a_page_needs_the_database(server_without_database, path) -> None:
    # A session cookie makes every page, the sign-in page too, look up the session and the user.
    answer = server_without_database.get(path, FAKE_SESSION)
    assert answer.status == 503, (path, answer.status, answer.body[:500])
    assert answer.content_type.startswith("text/html")
    assert UNAVAILABLE in answer.body
    assert "sessionid" not in answer.set_cookie  # a blip of the database signs nobody out


def test_pages_that_need_no_database_still_answer(server_without_database) -> None:
    """Without a session nothing is looked up: the sign-in redirect and page are served as usual."""
    overview = server_without_database.get("/")
    assert (overview.status, overview.location) == (302, "/accounts/login/?next=/")
    accounts = server_without_database.get("/credentials/")
    assert (accounts.status, accounts.location) == (302, "/accounts/login/?next=/credentials/")
    login = server_without_database.get("/accounts/login/")
    assert login.status == 200
    assert 'name="password"' in login.body


def test_a_post_gets_the_503_page_without_a_promise_that_nothing_changed(server_without_database) -> None:
    csrf = "a" * 32  # an unmasked CSRF secret: the cookie and the field match, so the view runs
    answer = server_without_database.request(
        "POST",
        "/accounts/login/",
        {"Cookie": f"__Host-csrftoken={csrf}", "Content-Type": "application/x-www-form-urlencoded"},
        f"csrfmiddlewaretoken={csrf}&username=viewer&password=not-checked-anyway",
    )
    assert answer.status == 503, (answer.status, answer.body[:500])
    assert "The database is unavailable" in answer.body
    assert "Nothing was changed" not in answer.body


@pytest.mark.parametrize("headers", [{}, FAKE_SESSION], ids=["plain", "with-session"])
def test_healthz_says_the_database_is_unavailable(server_without_database, headers) -> None:
    answer = server_without_database.get("/healthz", headers)
    assert answer.status == 503, answer.body[:500]
    assert answer.content_type == "application/json"
    assert json.loads(answer.body) == {"status": "degraded", "database": "unavailable"}


def test_healthz_needs_one_query_and_never_the_session(viewer_client, db) -> None:
    assert viewer_client.cookies.get("sessionid"), "the client should carry a session cookie"
    with CaptureQueriesContext(connection) as queries:
        response = viewer_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert [query["sql"] for query in queries] == ["SELECT 1"]
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_keeps_the_security_headers(db) -> None:
    response = Client().get("/healthz")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert len(response["X-Request-ID"]) == 32


def test_healthz_answers_a_load_balancer_that_probes_by_address(db) -> None:
    """Probes often send the backend's IP as Host: the health check answers before the host check."""
    response = Client().get("/healthz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200
    assert Client().get("/", HTTP_HOST="10.1.2.3").status_code == 400
