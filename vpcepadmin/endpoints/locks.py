"""The per-service lock that serialises our own operators' changes (design.md §2 step 5).

NOTE: design.md asks for a PostgreSQL row lock. A row lock lives inside a transaction, and the
attempt must be committed to the audit log *before* the PUT — so the lock would have to sit on a
second connection. A session-level advisory lock (``pg_try_advisory_lock``) gives the same
serialisation on the one connection without holding a transaction open across the HTTP calls, and
PostgreSQL releases it by itself if the worker dies. Other databases (the SQLite demo, which has
one process) use an in-process lock.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

_local_locks: dict[int, threading.Lock] = {}
_local_guard = threading.Lock()
POLL_SECONDS = 0.05


class ServiceBusy(Exception):
    """Another change to the same service is being applied; nothing was done."""


def lock_key(credential_pk: int, service_id: str) -> int:
    digest = hashlib.sha256(f"vpcepadmin:{credential_pk}:{service_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def service_lock(credential_pk: int, service_id: str) -> Iterator[None]:
    """Hold the lock of one service; raise ``ServiceBusy`` after ``EDIT_LOCK_TIMEOUT`` seconds."""
    key = lock_key(credential_pk, service_id)
    if connection.vendor == "postgresql":
        with _advisory_lock(key):
            yield
    else:
        with _local_lock(key):
            yield


@contextmanager
def _advisory_lock(key: int) -> Iterator[None]:
    deadline = time.monotonic() + settings.EDIT_LOCK_TIMEOUT
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() > deadline:
                raise ServiceBusy("another change to this service is being applied")
            time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _local_lock(key: int) -> Iterator[None]:
    with _local_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    if not lock.acquire(timeout=settings.EDIT_LOCK_TIMEOUT):
        raise ServiceBusy("another change to this service is being applied")
    try:
        yield
    finally:
        lock.release()
