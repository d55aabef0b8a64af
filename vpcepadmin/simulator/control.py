"""``SimulatorControl``: a tiny stdlib client of the simulator's control API (``/_sim/``).

For tests (this project's and the dashboard's) and scripts. It speaks to the simulator only, so it
uses ``urllib.request`` rather than the cloud client. Errors raise ``SimulatorControlError``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class SimulatorControlError(RuntimeError):
    """The control API refused a call (the message is its answer)."""


class SimulatorControl:
    """Steer one simulator at ``url`` (e.g. ``http://127.0.0.1:54321``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, document: Any = None) -> Any:
        data = None if document is None else json.dumps(document).encode("utf-8")
        # The scheme is checked in __init__: only http(s) URLs reach urllib.
        request = urllib.request.Request(f"{self.url}/_sim/{path}", data=data, method=method)  # noqa: S310
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310  (http only)
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise SimulatorControlError(f"{method} /_sim/{path}: {exc.code} {exc.read().decode()}") from exc
        return json.loads(body) if body else None

    def reset(self, seed: dict[str, Any]) -> dict[str, Any]:
        """Replace the whole state with ``seed``; clears journal, faults and tokens."""
        result: dict[str, Any] = self._call("POST", "reset", seed)
        return result

    def journal(self) -> list[dict[str, Any]]:
        """Every API request received since the last reset or clear, oldest first."""
        result: list[dict[str, Any]] = self._call("GET", "requests")["requests"]
        return result

    def clear_journal(self) -> None:
        self._call("DELETE", "requests")

    def add_fault(self, **spec: Any) -> str:
        """Add a fault (see ``vpcepadmin.simulator.faults``); returns its id."""
        result: str = self._call("POST", "faults", spec)["id"]
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "faults")["faults"]
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def expire_tokens(self) -> int:
        result: int = self._call("POST", "tokens/expire", {})["expired"]
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "state")
        return result

    def configure(self, **timings: float) -> dict[str, float]:
        """Change lifecycle timings, e.g. ``configure(creating_seconds=0.2)``; returns them all."""
        result: dict[str, float] = self._call("POST", "config", timings)
        return result
