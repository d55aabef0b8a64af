"""The control API under ``/_sim/``: how tests and the demo steer the simulated cloud.

No authentication and no journal: it is not part of the cloud. Routes (JSON in and out)::

    POST   /_sim/reset           seed document → replace all state; clear journal, faults and tokens
    GET    /_sim/requests        {"requests": [{method, path, query, status, body, request_id, time,
                                                client_port}]}
    DELETE /_sim/requests        clear the journal
    GET    /_sim/faults          {"faults": [... with "id" and "remaining"]}
    POST   /_sim/faults          fault document (faults.py) → 201 {"id": "..."}
    DELETE /_sim/faults          remove every fault
    POST   /_sim/tokens/expire   expire every issued IAM token now → {"expired": n}
    GET    /_sim/state           the state as a seed document (seed.py)
    POST   /_sim/config          {"creating_seconds": s, "deleting_seconds": s} → the timings now

Malformed input answers 400 ``{"error": "<what is wrong>"}``; an unknown route 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from vpcepadmin.simulator.faults import FaultRegistry
from vpcepadmin.simulator.journal import Journal
from vpcepadmin.simulator.state import Store
from vpcepadmin.simulator.wsgi import Request, Response


class ControlApi:
    """Serves ``/_sim/...`` over the simulator's store, journal and faults."""

    def __init__(self, store: Store, journal: Journal, faults: FaultRegistry) -> None:
        self.store = store
        self.journal = journal
        self.faults = faults
        self._routes: dict[tuple[str, str], Callable[[Any], Response]] = {
            ("POST", "/_sim/reset"): self.reset,
            ("GET", "/_sim/requests"): lambda _: Response.json(200, {"requests": self.journal.entries()}),
            ("DELETE", "/_sim/requests"): lambda _: self._done(self.journal.clear),
            ("GET", "/_sim/faults"): lambda _: Response.json(200, {"faults": self.faults.describe()}),
            ("POST", "/_sim/faults"): lambda spec: Response.json(201, {"id": self.faults.add(spec).id}),
            ("DELETE", "/_sim/faults"): lambda _: self._done(self.faults.clear),
            ("POST", "/_sim/tokens/expire"): lambda _: Response.json(
                200, {"expired": self.store.expire_tokens()}
            ),
            ("GET", "/_sim/state"): lambda _: Response.json(200, self.store.dump()),
            ("POST", "/_sim/config"): self.configure,
        }

    def handle(self, request: Request) -> Response:
        route = self._routes.get((request.method, request.path.rstrip("/")))
        if route is None:
            return Response.json(404, {"error": f"no control route {request.method} {request.path}"})
        try:
            document = json.loads(request.body) if request.body.strip() else {}
            if not isinstance(document, dict):
                raise ValueError("the body must be a JSON object")
            return route(document)
        except (ValueError, KeyError, TypeError) as exc:
            return Response.json(400, {"error": str(exc)})

    def reset(self, seed: dict[str, Any]) -> Response:
        world = self.store.reset(seed)
        self.journal.clear()
        self.faults.clear()
        return Response.json(200, {"projects": len(world.projects), "endpoint_services": len(world.services)})

    def configure(self, timings: dict[str, Any]) -> Response:
        for key, value in timings.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a number of seconds ≥ 0")
        return Response.json(200, asdict(self.store.configure(**timings)))

    @staticmethod
    def _done(action: Callable[[], None]) -> Response:
        action()
        return Response.empty(204)
