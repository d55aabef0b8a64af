"""The simulator as one plain WSGI application: gateway, VPCEP v1, IAM tokens, faults, control API.

Order of work for an API call (not ``/_sim/``): draw the faults for it; add their latency; a fault
that must not let the call through answers now; otherwise the gateway (body size, route,
authentication, project) and the handler produce the real answer, which a fault may then delay,
drip, replace or turn into a reset. Every API call gets an ``X-Request-Id`` (32 hex) and one journal
entry. Errors default to the flat body ``{"error_code", "error_msg", "request_id"}``.

It runs under any WSGI server, but connection resets (``SimulatedReset``) and a body cut short are
only carried out by ``SimulatorServer``; under e.g. gunicorn they degrade to an application error,
and dripping depends on the server flushing each chunk.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from vpcepadmin.simulator.control_api import ControlApi
from vpcepadmin.simulator.errors import ApiError, apigw_error
from vpcepadmin.simulator.faults import Fault, FaultRegistry, error_document, replacement
from vpcepadmin.simulator.gateway import authenticate, authorize
from vpcepadmin.simulator.journal import Journal
from vpcepadmin.simulator.routes import match_route
from vpcepadmin.simulator.state import Store
from vpcepadmin.simulator.wsgi import Call, Request, Response, SimulatedReset, StartResponse, reason


class SimulatorApp:
    """The WSGI callable. ``stopping`` cuts every injected wait short (set it when shutting down)."""

    def __init__(self, store: Store, *, faults: FaultRegistry | None = None) -> None:
        self.store = store
        self.journal = Journal()
        self.faults = faults or FaultRegistry()
        self.control = ControlApi(store, self.journal, self.faults)
        self.stopping = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request.from_environ(environ)
        if request.path.startswith("/_sim/"):
            response = self.control.handle(request)
        else:
            base_url = f"{environ.get('wsgi.url_scheme', 'http')}://{request.host}"
            response = self.serve(request, base_url)
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {reason(response.status)}", headers)
        return response.iter_body()

    def sleep(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def serve(self, request: Request, base_url: str) -> Response:
        """One API call, faults included; raises ``SimulatedReset`` for a reset."""
        request_id = uuid.uuid4().hex
        latency, fault = self.faults.draw(request.method, request.raw_path)
        if latency:
            self.sleep(latency)
        if fault is not None and fault.replaces_unapplied:
            return self._faulted(request, request_id, fault, None)
        response = self.dispatch(request, base_url, request_id)
        if fault is not None:
            return self._faulted(request, request_id, fault, response)
        self.journal.record(request, request_id, response.status)
        return response

    def dispatch(self, request: Request, base_url: str, request_id: str) -> Response:
        """The real answer: gateway checks, then the handler; an ``ApiError`` becomes its error body."""
        try:
            if request.body_too_large:
                raise apigw_error("APIGW.0201")
            route, params = match_route(request.method, request.raw_path)
            if route.authenticated:
                authorize(authenticate(request, self.store), params["project_id"])
            response = route.handler(Call(request, self.store, params, base_url))
        except ApiError as error:
            response = error_response(error, request_id)
        response.headers.append(("X-Request-Id", request_id))
        return response

    def _faulted(self, request: Request, request_id: str, fault: Fault, applied: Response | None) -> Response:
        if fault.action in ("reset_before", "reset_after"):
            self.journal.record(request, request_id, 0)
            raise SimulatedReset(rst=True)
        if applied is not None and fault.action == "apply_then_timeout":
            self.journal.record(request, request_id, applied.status)
            self.sleep(float(fault.options["seconds"]))
            return applied
        if applied is not None and fault.action == "drip":
            self.journal.record(request, request_id, applied.status)
            applied.chunks = self._drip(
                applied.body, float(fault.options["interval"]), int(fault.options["chunk"])
            )
            return applied
        response = replacement(fault, request_id, applied)
        response.headers.append(("X-Request-Id", request_id))
        if fault.options.get("short"):
            response.chunks = _cut_short(response.body)
        self.journal.record(request, request_id, response.status)
        return response

    def _drip(self, body: bytes, interval: float, chunk: int) -> Iterator[bytes]:
        for start in range(0, len(body), chunk):
            if start:
                self.sleep(interval)
            yield body[start : start + chunk]


def _cut_short(body: bytes) -> Iterator[bytes]:
    yield body[: len(body) // 2]
    raise SimulatedReset(rst=False)


def error_response(error: ApiError, request_id: str) -> Response:
    """The default error body: flat, with the request id (§9.1 shapes 1 and 3)."""
    content_type, body = error_document("apigw", error.code, error.message, request_id)
    return Response(error.status, body, [("Content-Type", content_type)])
