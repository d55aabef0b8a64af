"""Time spent waiting for clouds during one unit of work (a web request), for the
``Server-Timing`` header: ``measuring()`` opens an account, every exchange of the transport adds
its duration, whatever layer started it. Nothing is kept outside an open account."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Spent:
    seconds: float = 0.0
    calls: int = 0


_current: ContextVar[Spent | None] = ContextVar("cloud_time_spent", default=None)


def add(seconds: float) -> None:
    """One exchange with a cloud took ``seconds`` (called by the transport)."""
    spent = _current.get()
    if spent is not None:
        spent.seconds += seconds
        spent.calls += 1


@contextmanager
def measuring() -> Iterator[Spent]:
    spent = Spent()
    token = _current.set(spent)
    try:
        yield spent
    finally:
        _current.reset(token)
