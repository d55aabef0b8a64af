"""Injected faults: what the simulated cloud does wrong, to which calls, and how often.

A fault is posted as JSON to ``/_sim/faults``::

    {"match": {"method": "PUT", "path": "<regex searched in the path as received>"},  # both optional
     "action": "status",                                                  # see ACTIONS
     "count": 1,            # the next N matching calls (default: unlimited for latency, else 1)
     "rate": 0.25,          # or: each matching call with this probability (unlimited unless count)
     "skip": 1,             # let the first N matching calls through untouched (default 0)
     ...options of the action}

Actions and their options (defaults in ``OPTIONS``):

* ``latency`` ``seconds``: wait before answering (several latency faults add up; combinable with one
  other fault).
* ``status`` ``status``, ``error_code``, ``error_msg``, ``retry_after``, ``shape`` (``flat`` |
  ``nested`` | ``apigw`` | ``html``, the error-body shapes of vpcep-api.md §9.1).
* ``malformed``: 200 with a truncated JSON body, or an HTML page when ``html``; ``short`` announces
  the full Content-Length but sends half the body and closes.
* ``oversize`` ``size``: 200 with ``size`` bytes of valid JSON.
* ``redirect`` ``status`` (307), ``location``.
* ``reset_before``: TCP reset, the call is NOT applied. ``reset_after``: applied, then reset.
* ``apply_then_timeout`` ``seconds`` (30): applied, then the answer is held back that long.
* ``drip`` ``interval``, ``chunk``: the real answer, ``chunk`` bytes every ``interval`` seconds.

``status``, ``malformed``, ``oversize`` and ``redirect`` replace the answer without applying the call,
unless ``"apply": true`` (then the call is applied and only its answer is replaced).
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vpcepadmin.simulator.wsgi import Response

OPTIONS: dict[str, dict[str, Any]] = {
    "latency": {"seconds": 1.0},
    "status": {"status": 503, "error_code": None, "error_msg": None, "retry_after": None, "shape": "flat"},
    "malformed": {"html": False, "short": False},
    "oversize": {"size": 10 * 1024 * 1024},
    "redirect": {"status": 307, "location": "http://169.254.169.254/latest/meta-data/"},
    "reset_before": {},
    "reset_after": {},
    "apply_then_timeout": {"seconds": 30.0},
    "drip": {"interval": 0.5, "chunk": 1},
}
ACTIONS = tuple(OPTIONS)
REPLACING = ("status", "malformed", "oversize", "redirect")
SHAPES = ("flat", "nested", "apigw", "html")
# Default error per status, so that {"action": "status", "status": 429} alone is realistic (§9.2, §9.3).
DEFAULT_ERRORS: dict[int, tuple[str, str]] = {
    429: ("APIGW.0308", "The throttling threshold has been reached."),
    500: ("EndPoint.0001", "System error. Please retry."),
    502: ("APIGW.0201", "Backend unavailable."),
    503: ("APIGW.0201", "Backend unavailable."),
    504: ("APIGW.0201", "Backend timeout."),
}
TRUNCATED_JSON = (
    b'{"endpoint_services": [{"id": "4189d3c2-8882-4871-a3c2-d380272eed83", "service_name": "eu-de.'
)
HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


@dataclass
class Fault:
    id: str
    action: str
    options: dict[str, Any]
    method: str | None = None
    path: re.Pattern[str] | None = None
    remaining: int | None = None
    rate: float | None = None
    skip: int = 0
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def replaces_unapplied(self) -> bool:
        """True when the call must not reach the API at all."""
        if self.action == "reset_before":
            return True
        return self.action in REPLACING and not self.options.get("apply", False)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and (
            self.path is None or self.path.search(path) is not None
        )

    def describe(self) -> dict[str, Any]:
        return {**self.spec, "id": self.id, "remaining": self.remaining}


def parse_fault(spec: Mapping[str, Any]) -> Fault:
    """Check a fault document; ValueError names what is wrong."""
    action = spec.get("action")
    if action not in OPTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    match = spec.get("match") or {}
    if not isinstance(match, Mapping) or set(match) - {"method", "path"}:
        raise ValueError("match takes 'method' and 'path' only")
    known = {"action", "match", "count", "rate", "skip", "apply", *OPTIONS[action]}
    if set(spec) - known:
        raise ValueError(f"unknown keys for {action}: {sorted(set(spec) - known)}")
    options = {**OPTIONS[action], **{k: v for k, v in spec.items() if k in OPTIONS[action]}}
    options["apply"] = bool(spec.get("apply", False))
    _check_options(action, options)
    rate = spec.get("rate")
    if rate is not None and not (isinstance(rate, int | float) and 0 <= rate <= 1):
        raise ValueError("rate must be a number in 0..1")
    count = spec.get("count", None if action == "latency" or rate is not None else 1)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ValueError("count must be a positive integer")
    skip = spec.get("skip", 0)
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise ValueError("skip must be an integer ≥ 0")
    return Fault(
        id=uuid.uuid4().hex,
        action=str(action),
        options=options,
        method=str(match["method"]).upper() if match.get("method") else None,
        path=re.compile(str(match["path"])) if match.get("path") else None,
        remaining=count,
        rate=None if rate is None else float(rate),
        skip=skip,
        spec=dict(spec),
    )


def _check_options(action: str, options: dict[str, Any]) -> None:
    for key in ("seconds", "interval"):
        if key in options and not (isinstance(options[key], int | float) and options[key] >= 0):
            raise ValueError(f"{key} must be a number ≥ 0")
    if action in ("status", "redirect") and not (
        isinstance(options["status"], int) and 100 <= options["status"] < 600
    ):
        raise ValueError("status must be an HTTP status code")
    if action == "status" and options["shape"] not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
    if action == "oversize" and not (
        isinstance(options["size"], int) and 64 <= options["size"] <= 64 * 1024 * 1024
    ):
        raise ValueError("size must be an integer in 64..67108864")
    if action == "drip" and not (isinstance(options["chunk"], int) and options["chunk"] >= 1):
        raise ValueError("chunk must be a positive integer")


class FaultRegistry:
    """The active faults, consumed atomically (two concurrent calls never both take a count of 1)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = rng or random.Random()  # noqa: S311  (chance, not security)

    def add(self, spec: Mapping[str, Any]) -> Fault:
        fault = parse_fault(spec)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def draw(self, method: str, path: str) -> tuple[float, Fault | None]:
        """The total latency to add and the one other fault (first added wins) for this call."""
        latency, chosen = 0.0, None
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(method, path) or (fault.action != "latency" and chosen is not None):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    continue
                if fault.rate is not None and self._rng.random() >= fault.rate:
                    continue
                if fault.action == "latency":
                    latency += float(fault.options["seconds"])
                else:
                    chosen = fault
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
        return latency, chosen


def error_document(shape: str, code: str, message: str, request_id: str) -> tuple[str, bytes]:
    """(content type, body) of an error in one of the shapes of §9.1 (or an HTML page)."""
    if shape == "html":
        page = f"<html><head><title>{code}</title></head><body><h1>{message}</h1></body></html>"
        return "text/html", page.encode("utf-8")
    document: dict[str, Any]
    if shape == "nested":
        document = {"error": {"code": code, "message": message}}
    elif shape == "apigw":
        document = {"error_code": code, "error_msg": message, "request_id": request_id}
    else:
        document = {"error_code": code, "error_msg": message}
    return "application/json", json.dumps(document).encode("utf-8")


def replacement(fault: Fault, request_id: str, applied: Response | None) -> Response:
    """The answer a ``status``/``malformed``/``oversize``/``redirect`` fault sends instead."""
    options = fault.options
    if fault.action == "status":
        status = int(options["status"])
        default_code, default_msg = DEFAULT_ERRORS.get(status, (f"SIM.{status}", "Simulated failure."))
        content_type, body = error_document(
            options["shape"],
            options["error_code"] or default_code,
            options["error_msg"] or default_msg,
            request_id,
        )
        headers = [("Content-Type", content_type)]
        if options["retry_after"] is not None:
            headers.append(("Retry-After", str(options["retry_after"])))
        return Response(status, body, headers)
    if fault.action == "malformed":
        if options["html"]:
            return Response(200, HTML_PAGE, [("Content-Type", "text/html")])
        real = applied.body if applied is not None and len(applied.body) > 2 else TRUNCATED_JSON
        return Response(200, real[: max(1, len(real) // 2)], [("Content-Type", "application/json")])
    if fault.action == "oversize":
        return Response(200, _oversize_body(int(options["size"])), [("Content-Type", "application/json")])
    return Response(int(options["status"]), b"", [("Location", str(options["location"]))])


def _oversize_body(size: int) -> bytes:
    head, tail = b'{"endpoint_services": [], "total_count": 0, "padding": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail
