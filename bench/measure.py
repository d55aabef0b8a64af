"""Measuring helpers for the benchmarks: request timings with query counts, and resident memory."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAGE_SIZE = 4096


@dataclass(frozen=True)
class Timing:
    """Server-side times (ms) of repeated requests to one URL and the SQL queries each made."""

    url: str
    times: list[float]
    queries: set[int]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p90(self) -> float:
        return sorted(self.times)[int(len(self.times) * 0.9) - 1]


def time_requests(client: Any, url: str, rounds: int, warm_up: int = 3) -> Timing:
    """GET ``url`` ``rounds`` times (after ``warm_up`` untimed ones); the whole request is timed."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(warm_up):
        assert client.get(url).status_code == 200, url
    times, queries = [], set()
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
        queries.add(len(captured))
    return Timing(url, times, queries)


def rss_mb() -> float:
    """This process's resident set size now, in MB (Linux)."""
    resident = int(Path("/proc/self/statm").read_text().split()[1])
    return resident * PAGE_SIZE / 2**20


class PeakRss:
    """Samples the resident set size every ``interval`` seconds while in the ``with`` block."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.baseline = self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self.baseline = self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())
