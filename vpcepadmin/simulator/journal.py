"""The journal: every API request the simulator received, in order, with the status it sent.

Control-API calls (``/_sim/...``) are not journaled. ``path`` and ``query`` are exactly as received
(percent-encoding kept); ``client_port`` is the caller's TCP port (equal ports: one kept-alive
connection); ``status`` is 0 when the connection was reset instead of answered. The
journal keeps the newest ``limit`` entries.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any

from vpcepadmin.simulator.records import exact_time, utcnow
from vpcepadmin.simulator.wsgi import Request


def _body(request: Request) -> Any:
    """The parsed JSON body when it parses, else its text; None when there is none."""
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return request.body.decode("utf-8", "replace")


class Journal:
    """A thread-safe, bounded list of the requests received."""

    def __init__(self, limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def record(self, request: Request, request_id: str, status: int) -> None:
        entry = {
            "method": request.method,
            "path": request.raw_path,
            "query": request.query_string,
            "status": status,
            "body": _body(request),
            "request_id": request_id,
            "time": exact_time(utcnow()),
            "client_port": request.client_port,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
