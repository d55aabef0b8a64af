"""The dashboard in this process, for benchmarks that look inside a request: the configuration,
and a profiler that splits each request's server time into middleware, SQL, template rendering,
the cloud client's own work and the upstream round trips.

Where the time goes is measured by wrapping a few functions (never by sampling):

- server: the outermost middleware (``RequestIdMiddleware``), i.e. all of Django's work;
- view: ``BaseHandler._get_response`` (URL resolution, the view and its rendering); the rest of
  the server time is the middlewares';
- upstream: ``HTTPAdapter.send``, the HTTP round trips to the cloud (the simulator's 50 ms in it);
- client: the cloud client's calls (``VpcepClient.call`` and the parse of its answers) minus the
  round trips in them: signing, JSON and building the typed objects;
- SQL: every query on every database connection (``execute_wrapper``), with the count;
- render: ``Template.render`` at its outermost level, minus the SQL run while rendering (lazy
  querysets) — the template engine's own time.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEBUG_CALLS = bool(os.environ.get("BENCH_DEBUG_CALLS"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def configure(database_url: str | None = None, cache_url: str | None = None) -> None:
    """Django with a production-like configuration, a fresh SQLite file unless ``database_url``
    (then that database is used as it is: migrate it first), and the test client's hooks."""
    os.environ.setdefault(
        "VPCEPADMIN_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    )
    os.environ.setdefault("VPCEPADMIN_FERNET_KEYS", "YmVuY2gtb25seS1mZXJuZXQta2V5LTAwMDAwMDAwMDA=")
    os.environ.update(
        {
            "VPCEPADMIN_SIMULATOR": "1",
            "VPCEPADMIN_ALLOWED_HOSTS": "testserver",
            "VPCEPADMIN_SSL_REDIRECT": "0",
            "VPCEPADMIN_SECURE_COOKIES": "0",
            "VPCEPADMIN_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "vpcepadmin.settings",
        }
    )
    os.environ["VPCEPADMIN_VAR_DIR"] = tempfile.mkdtemp(prefix="vpcepadmin-bench-")
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    if cache_url:
        os.environ["VPCEPADMIN_CACHE_URL"] = cache_url
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client records the rendered context the drivers read
    call_command("migrate", verbosity=0, interactive=False)


@dataclass
class Split:
    """One request's times in ms, and what it asked upstream."""

    server: float = 0.0
    view: float = 0.0
    upstream: float = 0.0
    client: float = 0.0
    sql: float = 0.0
    sql_render: float = 0.0
    queries: int = 0
    render: float = 0.0
    calls: list[str] = field(default_factory=list)

    @property
    def own(self) -> float:
        """Server time minus the upstream round trips: what the budgets limit."""
        return self.server - self.upstream

    @property
    def middleware(self) -> float:
        return self.server - self.view

    @property
    def template(self) -> float:
        return self.render - self.sql_render

    @property
    def other(self) -> float:
        """The view's own Python: forms, use cases, everything not named above."""
        return self.view - self.upstream - self.client - self.sql - self.template


class Profiler:
    """Installs the wrappers once; ``measure()`` gives the split of the requests inside it."""

    def __init__(self) -> None:
        import requests.adapters  # noqa: TID251  (timed, not called: the round trips of the cloud client)
        from django.core.handlers.base import BaseHandler
        from django.template.base import Template

        from vpcepadmin.cloud import client as cloud_client
        from vpcepadmin.cloud import endpoint_services
        from vpcepadmin.middleware import RequestIdMiddleware

        self.split = Split()
        self._rendering = 0
        self._in_client = 0
        split = self  # the closures read the current split through the profiler

        def timed(owner: Any, name: str, account: Callable[[float], None]) -> None:
            original = getattr(owner, name)

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    account((time.perf_counter() - started) * 1000)

            setattr(owner, name, wrapper)

        def add(name: str) -> Callable[[float], None]:
            def account(ms: float) -> None:
                setattr(split.split, name, getattr(split.split, name) + ms)

            return account

        timed(RequestIdMiddleware, "__call__", add("server"))
        timed(BaseHandler, "_get_response", add("view"))
        timed(requests.adapters.HTTPAdapter, "send", add("upstream"))
        self._wrap_client(cloud_client.VpcepClient, "call", calls=True)
        if hasattr(endpoint_services, "_parse"):
            self._wrap_client(endpoint_services, "_parse", calls=False)
        original_render = Template.render

        def render(template: Any, context: Any) -> Any:
            if self._rendering:
                return original_render(template, context)
            self._rendering += 1
            started = time.perf_counter()
            try:
                return original_render(template, context)
            finally:
                self._rendering -= 1
                self.split.render += (time.perf_counter() - started) * 1000

        Template.render = render  # type: ignore[method-assign,assignment]

    def _wrap_client(self, owner: Any, name: str, calls: bool) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if calls and len(args) > 1:
                self.split.calls.append(str(args[1]) + (" " + str(args[2])[:20] if DEBUG_CALLS else ""))
            if self._in_client:
                return original(*args, **kwargs)
            self._in_client += 1
            upstream_before = self.split.upstream
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._in_client -= 1
                spent = (time.perf_counter() - started) * 1000
                self.split.client += spent - (self.split.upstream - upstream_before)

        setattr(owner, name, wrapper)

    def _sql(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = (time.perf_counter() - started) * 1000
            self.split.sql += spent
            self.split.queries += 1
            if self._rendering:
                self.split.sql_render += spent

    @contextmanager
    def measure(self) -> Iterator[Split]:
        from django.db import connections

        self.split = split = Split()
        try:
            with _wrapped_connections(connections, self._sql), _as_served():
                yield split
        finally:
            self.split = Split()  # what runs between measurements counts nowhere


@contextmanager
def _as_served() -> Iterator[None]:
    """Templates render as in production while measured: the test environment's instrumented
    render copies every template's context for the test client (0.4 ms per template, several per
    page) — a cost no deployment pays. The drivers read contexts only of unmeasured requests."""
    from django.template.base import Template
    from django.test import utils

    saved = getattr(utils._TestState, "saved_data", None)
    if saved is None:
        yield
        return
    instrumented = Template._render  # type: ignore[attr-defined]
    Template._render = saved.template_render  # type: ignore[attr-defined]
    try:
        yield
    finally:
        Template._render = instrumented  # type: ignore[attr-defined]


@contextmanager
def _wrapped_connections(connections: Any, wrapper: Any) -> Iterator[None]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(wrapper))
        yield


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
