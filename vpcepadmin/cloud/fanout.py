"""Several read calls of one account at once, at most a given number in flight.

A ``VpcepClient`` may be shared by the worker threads: its transport keeps one ``requests.Session``
per thread and origin, AK/SK signing holds no changing state, and a token lives in Django's cache
(one connection per thread). The workers only call the cloud: no database query runs in them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from vpcepadmin.logsetup import request_id_var

T = TypeVar("T")
R = TypeVar("R")
MAX_CALLS = 8  # the calls of one account in flight at once (issues 12 and 13)


def in_parallel(work: Callable[[T], R], items: Sequence[T], max_calls: int = MAX_CALLS) -> list[R]:
    """``work`` for each item, at most ``max_calls`` at once, results in the items' order."""
    if not items:
        return []
    with ThreadPoolExecutor(
        max_workers=min(max_calls, len(items)),
        thread_name_prefix="cloud-fanout",
        # The workers' log lines carry the request's id, as the request's own calls do. (The
        # Server-Timing account is not shared with them: it is not thread-safe, and a sum of
        # parallel calls would overstate the wait.)
        initializer=request_id_var.set,
        initargs=(request_id_var.get(),),
    ) as pool:
        return list(pool.map(work, items))
