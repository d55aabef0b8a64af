"""One time budget for a change, from the environment alone (settings, checks and gunicorn.conf.py).

A change (lock wait, re-read, PUT, re-read after a lost answer) must end before the app server kills
its worker, or the worker dies after the PUT was applied and the attempt has no outcome. So:

- ``apply_deadline`` bounds a whole apply; every cloud call in it gets what is left of it;
- the worker timeout (gunicorn ``--timeout``) must leave ``RENDER_MARGIN`` after that;
- the lock wait must leave time for the calls;
- ``reconcile_after``: an attempt older than this cannot still be in flight in our process (its
  worker is gone) and the cloud has answered or dropped the call (one call's deadline); only then
  does ``reconcile_audit`` settle it. It is also the window in which its PUT can have landed.

No Django import here: gunicorn.conf.py reads the same numbers before Django starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RENDER_MARGIN = 10.0  # seconds left to the page after the apply's own deadline
DEFAULTS = {
    "VPCEPADMIN_WORKER_TIMEOUT": "60",
    "VPCEPADMIN_EDIT_APPLY_DEADLINE": "45",
    "VPCEPADMIN_EDIT_LOCK_TIMEOUT": "20",
    "VPCEPADMIN_CLOUD_DEADLINE": "20",
}


@dataclass(frozen=True)
class Budget:
    """Seconds: the worker timeout, a whole apply, the wait for another change, one cloud call."""

    worker_timeout: float
    apply_deadline: float
    lock_wait: float
    cloud_deadline: float

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Budget:
        def number(name: str) -> float:
            return float((environ.get(name) or DEFAULTS[name]).strip())

        return cls(
            worker_timeout=number("VPCEPADMIN_WORKER_TIMEOUT"),
            apply_deadline=number("VPCEPADMIN_EDIT_APPLY_DEADLINE"),
            lock_wait=number("VPCEPADMIN_EDIT_LOCK_TIMEOUT"),
            cloud_deadline=number("VPCEPADMIN_CLOUD_DEADLINE"),
        )

    @classmethod
    def of(cls, settings: Any) -> Budget:
        """The budget as Django's settings hold it now (tests may change them)."""
        return cls(
            settings.WORKER_TIMEOUT,
            settings.EDIT_APPLY_DEADLINE,
            settings.EDIT_LOCK_TIMEOUT,
            settings.CLOUD_DEADLINE,
        )

    @property
    def reconcile_after(self) -> float:
        return max(self.worker_timeout, self.apply_deadline) + self.cloud_deadline

    def problems(self) -> list[str]:
        """Why these numbers do not add up (empty when they do)."""
        found = []
        if self.apply_deadline + RENDER_MARGIN > self.worker_timeout:
            found.append(
                f"VPCEPADMIN_EDIT_APPLY_DEADLINE ({self.apply_deadline:g} s) plus {RENDER_MARGIN:g} s to render "
                f"exceeds VPCEPADMIN_WORKER_TIMEOUT ({self.worker_timeout:g} s): a worker could be killed after "
                "its change was applied."
            )
        if self.lock_wait >= self.apply_deadline:
            found.append(
                f"VPCEPADMIN_EDIT_LOCK_TIMEOUT ({self.lock_wait:g} s) leaves no time for the cloud calls of an "
                f"apply (VPCEPADMIN_EDIT_APPLY_DEADLINE {self.apply_deadline:g} s)."
            )
        if min(self.worker_timeout, self.apply_deadline, self.lock_wait, self.cloud_deadline) <= 0:
            found.append("Every time budget must be positive.")
        return found
