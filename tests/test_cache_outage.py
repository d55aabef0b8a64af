"""D5: a shared cache (Redis) that is down or hung degrades IAM-password accounts, it never fails them.

Every page still answers with data and an apply still sends its one PUT: tokens are fetched for every
call instead of cached; the outage is logged once and shown to admins. Real sockets throughout: a
closed port for "down", a server that accepts and never answers for "hung", the local Redis for
"back".
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests import seeds
from tests.auditkit import change_records
from tests.editing import Editor
from vpcepadmin.audit.models import Outcome
from vpcepadmin.cloud import auth

BANNER = "The shared cache is unavailable since"
TOKEN_PATH = "/v3/auth/tokens"
LIVE_REDIS = "redis://127.0.0.1:6379/0"


def _closed_port() -> int:
    """A loopback port where nothing listens (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _redis_cache(location: str) -> dict[str, Any]:
    """The production cache configuration (settings.py) pointed at ``location``."""
    from vpcepadmin.settings import REDIS_CACHE_OPTIONS

    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            # Fresh keys: nothing cached by an earlier run can answer for this one.
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            "OPTIONS": dict(REDIS_CACHE_OPTIONS),
        }
    }


@pytest.fixture(autouse=True)
def _fresh_cache_state() -> Iterator[None]:
    """Each test starts, and leaves, with a cache that is believed healthy."""
    auth.TOKEN_CACHE.reset()
    yield
    auth.TOKEN_CACHE.reset()


@pytest.fixture
def redis_down(settings) -> None:
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{_closed_port()}/0")


class HungServer:
    """A TCP server that accepts connections and never answers (a hung Redis)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def redis_hung(settings) -> Iterator[HungServer]:
    server = HungServer()
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{server.port}/0")
    yield server
    server.close()


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def _service_pages(account, service_id: str) -> list[str]:
    base = f"/credentials/{account.pk}/services/"
    return [base, f"{base}{service_id}/", f"{base}summary/"]


def test_it_serves_every_page_of_a_token_account_while_redis_is_down(
    redis_down, viewer_client, token_account, simulator
) -> None:
    service = simulator.seed["endpoint_services"][0]
    responses = [viewer_client.get(url) for url in _service_pages(token_account, service["id"])]
    assert [response.status_code for response in responses] == [200, 200, 200]
    list_page, service_page, summary = (response.content.decode() for response in responses)
    assert f'data-copy="{service["id"]}"' in list_page
    assert service["id"] in service_page
    assert "3 endpoint services" in _text(responses[2])
    assert all("Could not load" not in page for page in (list_page, service_page, summary))
    # Nothing is cached: every cloud call came with a token of its own.
    calls = simulator.journal(path_contains="vpc-endpoint-services")
    assert len(simulator.journal(path_contains=TOKEN_PATH)) == len(calls)


def test_it_applies_an_edit_with_one_put_while_redis_is_down(
    redis_down, operator_client, token_account, simulator
) -> None:
    service = simulator.seed["endpoint_services"][0]
    editor = Editor(operator_client, token_account.pk, service["id"])
    editor.load()
    response = editor.apply(reason="OPS-5: cache down", description="applied without a cache")
    assert response.status_code == 302, _text(response)[:2000]
    [put] = simulator.journal(method="PUT")
    assert put["body"] == {"description": "applied without a cache"}
    assert [record.outcome for record in change_records()] == [
        Outcome.ATTEMPTED,
        Outcome.APPLIED,
    ]


def test_it_logs_the_outage_once_for_many_calls_and_never_a_secret(
    redis_down, viewer_client, token_account, simulator, caplog
) -> None:
    caplog.set_level(logging.INFO, logger=auth.__name__)
    for _ in range(3):
        for url in _service_pages(token_account, simulator.seed["endpoint_services"][0]["id"]):
            assert viewer_client.get(url).status_code == 200
    warnings = [r for r in caplog.records if r.name == auth.__name__ and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "ConnectionError" in warnings[0].getMessage()
    for record in caplog.records:
        assert seeds.PASSWORD not in record.getMessage()
        assert "redis://" not in record.getMessage()


def test_it_shows_the_outage_to_admins_and_not_to_viewers(
    redis_down, viewer_client, admin_client_, token_account, simulator
) -> None:
    assert BANNER not in admin_client_.get("/").content.decode()
    assert viewer_client.get(f"/credentials/{token_account.pk}/services/").status_code == 200
    admin_page = _text(admin_client_.get("/"))
    assert BANNER in admin_page
    assert "ConnectionError" in admin_page
    assert "VPCEPADMIN_CACHE_URL" in admin_page
    assert BANNER not in viewer_client.get("/").content.decode()


@pytest.mark.timeout(30)
def test_it_answers_quickly_while_redis_hangs(redis_hung, viewer_client, token_account, simulator) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    for url in _service_pages(token_account, service_id):
        started = time.monotonic()
        response = viewer_client.get(url)
        elapsed = time.monotonic() - started
        assert response.status_code == 200, url
        # A correctness bound, not a benchmark: without short socket timeouts one call waits 5 s.
        assert elapsed < 3, (url, elapsed)
    assert redis_hung.held, "the pages never reached the hung server"


def test_it_caches_tokens_again_once_redis_is_back(
    settings, monkeypatch, viewer_client, admin_client_, token_account, simulator, caplog
) -> None:
    caplog.set_level(logging.INFO, logger=auth.__name__)
    monkeypatch.setattr(auth.TOKEN_CACHE, "retry_seconds", 0.0)
    settings.CACHES = _redis_cache(f"redis://127.0.0.1:{_closed_port()}/0")
    url = f"/credentials/{token_account.pk}/services/"
    assert viewer_client.get(url).status_code == 200
    assert auth.TOKEN_CACHE.outage() is not None

    settings.CACHES = _redis_cache(LIVE_REDIS)
    simulator.control.clear_journal()
    for _ in range(3):
        assert viewer_client.get(url).status_code == 200
    assert len(simulator.journal(path_contains=TOKEN_PATH)) == 1
    assert auth.TOKEN_CACHE.outage() is None
    assert BANNER not in admin_client_.get("/").content.decode()
    levels = [r.levelno for r in caplog.records if r.name == auth.__name__]
    assert levels == [logging.WARNING, logging.INFO]
