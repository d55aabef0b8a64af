"""Shared fixtures: one simulated cloud per test session, reset to ``standard_seed()`` for each test.

* ``simulator_server`` (session): a started ``SimulatorServer`` on a free loopback port with tiny
  lifecycle delays (``LIFECYCLE_SECONDS``).
* ``simulator`` (function): resets that server (state, journal, faults, tokens) and returns a
  ``SimulatorHandle`` (``url``, ``control``, ``seed``, ``reset()``, ``journal()``, ``add_fault()``).
* ``raw_api`` (function): a bare HTTP/1.1 client for the simulator that signs with AK/SK (or sends a
  token), for tests that must see exactly what goes over the wire.

Nothing here needs the database.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.seeds import (
    ACCESS_KEY,
    DOMAIN_NAME,
    PASSWORD,
    PROJECT_ID,
    SECRET_KEY,
    USERNAME,
    standard_seed,
    token_request,
)
from vpcepadmin.cloud import signing
from vpcepadmin.simulator.control import SimulatorControl
from vpcepadmin.simulator.server import SimulatorServer

pytest_plugins = ["tests.dashboard", "tests.browser"]

LIFECYCLE_SECONDS = 0.2


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[SimulatorServer]:
    server = SimulatorServer(
        seed=standard_seed(), creating_seconds=LIFECYCLE_SECONDS, deleting_seconds=LIFECYCLE_SECONDS
    ).start()
    yield server
    server.stop()


@dataclass
class SimulatorHandle:
    """One test's view of the simulated cloud."""

    url: str
    control: SimulatorControl
    seed: dict[str, Any]
    server: SimulatorServer

    def reset(self, seed: dict[str, Any]) -> None:
        """Replace the whole state (journal, faults and tokens are cleared too)."""
        self.control.reset(seed)
        self.seed = seed

    def journal(self, method: str | None = None, path_contains: str | None = None) -> list[dict[str, Any]]:
        """The journaled API requests, optionally only those with ``method`` and a path containing a text."""
        return [
            entry
            for entry in self.control.journal()
            if (method is None or entry["method"] == method.upper())
            and (path_contains is None or path_contains in entry["path"])
        ]

    def add_fault(self, **spec: Any) -> str:
        return self.control.add_fault(**spec)


@pytest.fixture
def simulator(simulator_server: SimulatorServer) -> SimulatorHandle:
    handle = SimulatorHandle(
        simulator_server.url, SimulatorControl(simulator_server.url), standard_seed(), simulator_server
    )
    handle.reset(handle.seed)
    return handle


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def request_id(self) -> str:
        return self.headers.get("x-request-id", "")


@dataclass
class RawApi:
    """Requests to the simulator, signed like the SDK does (AK/SK) unless a token or no auth is asked."""

    url: str
    timeout: float = 10.0
    host: str = field(init=False)
    port: int = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        json_body: Any = None,
        token: str | None = None,
        auth: bool = True,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        date: datetime | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> RawResponse:
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
        sent = {
            "Content-Type": "application/json",
            "Host": f"{self.host}:{self.port}",
            "X-Sdk-Date": signing.format_sdk_date(date or datetime.now(UTC)),
            **(headers or {}),
        }
        if token is not None:
            sent["X-Auth-Token"] = token
        elif auth:
            sent["Authorization"] = signing.sign(
                method=method,
                path=path,
                query_pairs=query,
                headers=sent,
                body=body or b"",
                access_key=access_key,
                secret_key=secret_key,
            )
        target = path + (f"?{signing.canonical_query(query)}" if query else "")
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            connection.request(method, target, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def get(self, path: str, **kwargs: Any) -> RawResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> RawResponse:
        return self.request("POST", path, json_body=json_body, **kwargs)

    def put(self, path: str, json_body: Any = None, **kwargs: Any) -> RawResponse:
        return self.request("PUT", path, json_body=json_body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> RawResponse:
        return self.request("DELETE", path, **kwargs)

    def token(
        self,
        username: str = USERNAME,
        password: str = PASSWORD,
        project_id: str | None = PROJECT_ID,
        domain_name: str = DOMAIN_NAME,
    ) -> str:
        """An IAM token scoped to ``project_id``."""
        response = self.post(
            "/v3/auth/tokens", token_request(username, password, domain_name, project_id), auth=False
        )
        assert response.status == 201, response.body
        return response.headers["x-subject-token"]


@pytest.fixture
def raw_api(simulator: SimulatorHandle) -> RawApi:
    return RawApi(simulator.url)
