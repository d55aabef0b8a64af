"""How many app server workers and threads a host runs: derived from its cores, one place for
``gunicorn.conf.py``, ``make run``'s production hint and the system checks.

A page is mostly Python (CPU, one core per process under the GIL) around an upstream round trip
(waiting, no CPU): one worker per core plus one keeps every core busy while a worker waits, and
threads let each worker wait for several clouds at once. Twelve threads per worker also leave room
for slow clients: a thread is held while its client sends its request (tests/test_slow_clients.py
needs more than 20 threads per host). Measured on 2 cores with ``bench/load.py``; see README,
"Deployment".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

THREADS = 12
MIN_THREADS_PER_HOST = 24  # more than the 20 slow clients tests/test_slow_clients.py sends


def cores() -> int:
    """The cores this process may run on (the container's or cgroup's share where Linux tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Plan:
    workers: int
    threads: int
    derived: bool  # False when VPCEPADMIN_WORKERS or VPCEPADMIN_THREADS set it

    @property
    def connections(self) -> int:
        """Database connections one host may hold: one per thread."""
        return self.workers * self.threads

    def problems(self) -> list[str]:
        if self.workers < 1 or self.threads < 1:
            return [f"{self.workers} workers × {self.threads} threads cannot serve anything."]
        if self.connections < MIN_THREADS_PER_HOST:
            return [
                f"{self.workers} workers × {self.threads} threads: {MIN_THREADS_PER_HOST} slow clients can hold "
                "every thread of this host."
            ]
        return []

    def describe(self) -> str:
        how = "derived from the cores" if self.derived else "set by VPCEPADMIN_WORKERS/VPCEPADMIN_THREADS"
        return f"{self.workers} threaded workers × {self.threads} threads ({how})"


def plan(environ: Mapping[str, str] | None = None, core_count: int | None = None) -> Plan:
    """Workers: the cores + 1; threads: 12 — unless the environment sets either."""
    environ = os.environ if environ is None else environ
    count = core_count or cores()
    workers_text, threads_text = environ.get("VPCEPADMIN_WORKERS", ""), environ.get("VPCEPADMIN_THREADS", "")
    workers = _int(workers_text, count + 1)
    threads = _int(threads_text, THREADS)
    return Plan(workers, threads, derived=not (workers_text or threads_text))


def _int(text: str, default: int) -> int:
    text = text.strip()
    if not text:
        return default
    return int(text) if text.isascii() and text.lstrip("-").isdigit() else 0
