"""Sending the outbox: in a small thread pool after the commit, and by ``send_notifications`` for
what a stopped process left behind.

A row is sent only by whoever claims it (``pending`` → ``sending``, one conditional UPDATE), so two
processes, or the pool and the command, never send it twice. Each try has ``NOTIFY_TIMEOUT``; a
failed try is repeated up to ``NOTIFY_ATTEMPTS`` tries with a doubling pause from
``NOTIFY_BACKOFF`` (not after an answer that says retrying is useless, such as a 404). The row ends
``delivered`` or ``failed`` with the last error, which admins see on ``/notifications/``; failures
are logged by the destination's label, never its URL. A row still ``sending`` long after every try
would have ended was cut off by a stopped process: it is marked failed, not sent again (it may have
arrived).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from vpcepadmin.notify import destinations, transport
from vpcepadmin.notify.models import Notification, Status

WORKERS = 2
LEFT_PENDING_AFTER = timedelta(minutes=1)
logger = logging.getLogger("vpcepadmin.notify")

_pool: ThreadPoolExecutor | None = None
_in_flight: set[Future[None]] = set()
_guard = threading.Lock()


def submit(event: str, keys: list[str]) -> None:
    """Send ``event`` to the destinations ``keys`` in the background (after the commit)."""
    with _guard:
        global _pool
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="notify")
        for key in keys:
            try:
                future = _pool.submit(_deliver_in_worker, event, key)
            except RuntimeError:  # the interpreter is shutting down: send_notifications sends it later
                logger.warning("Notification %s left pending: the process is stopping.", event)
                return
            _in_flight.add(future)
            future.add_done_callback(_done)


def wait(timeout: float) -> bool:
    """Wait until every submitted delivery has ended (tests, shutdown); False if ``timeout`` passed."""
    with _guard:
        running = list(_in_flight)
    return not wait_for(running, timeout).not_done


def _done(future: Future[None]) -> None:
    with _guard:
        _in_flight.discard(future)
    error = None if future.cancelled() else future.exception()
    if error is not None:  # e.g. the database went away: the row stays for send_notifications
        logger.error("Notification delivery stopped: %s", type(error).__name__, exc_info=error)


def _deliver_in_worker(event: str, key: str) -> None:
    try:
        deliver(event, key)
    finally:
        connection.close()  # the pool's threads outlive requests: never keep a connection open


def deliver(event: str, key: str) -> str | None:
    """Claim and send the row of ``event`` for destination ``key``: its final status, or None when
    somebody else claimed it (or it is sent already)."""
    claimed = Notification.objects.filter(event=event, destination=key, status=Status.PENDING).update(
        status=Status.SENDING, claimed_at=timezone.now()
    )
    if claimed != 1:
        return None
    return _send(Notification.objects.get(event=event, destination=key))


def _send(row: Notification) -> str:
    destination = destinations.by_key(row.destination)
    if destination is None:
        return _finish(row, Status.FAILED, "the destination is no longer configured")
    tries = max(1, settings.NOTIFY_ATTEMPTS)
    error = ""
    for attempt in range(1, tries + 1):
        try:
            transport.send(destination, row)
        except transport.DeliveryError as exc:
            error = str(exc)[:300]
            Notification.objects.filter(pk=row.pk).update(attempts=attempt, last_error=error)
            if not exc.retryable or attempt == tries:
                break
            time.sleep(settings.NOTIFY_BACKOFF * 2 ** (attempt - 1))
            continue
        Notification.objects.filter(pk=row.pk).update(attempts=attempt)
        return _finish(row, Status.DELIVERED)
    logger.warning(
        "Notification %s (%s) to %s failed after %d tries: %s",
        row.pk, row.event, destination.label, attempt, error,
    )  # fmt: skip
    return _finish(row, Status.FAILED, error)


def _finish(row: Notification, status: str, error: str = "") -> str:
    fields = {"status": status, "finished_at": timezone.now(), **({"last_error": error} if error else {})}
    Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(**fields)
    return status


def longest_send() -> timedelta:
    """The longest a claimed row can take: every try's timeout (connect and read) and every pause."""
    tries = max(1, settings.NOTIFY_ATTEMPTS)
    pauses = sum(settings.NOTIFY_BACKOFF * 2**n for n in range(tries - 1))
    return timedelta(seconds=tries * 2 * settings.NOTIFY_TIMEOUT + pauses + 60)


def send_left_pending(older_than: timedelta = LEFT_PENDING_AFTER) -> Counter[str]:
    """``send_notifications``: send the rows still pending after ``older_than`` (their process
    stopped before sending), and mark failed the rows a stopped process left ``sending``. Counts by
    outcome; idempotent (a second run finds nothing to do)."""
    now = timezone.now()
    counts: Counter[str] = Counter()
    cut_off = Notification.objects.filter(status=Status.SENDING, claimed_at__lt=now - longest_send())
    counts["interrupted"] = cut_off.update(
        status=Status.FAILED,
        finished_at=now,
        last_error="interrupted while sending (the process stopped); it may have arrived",
    )
    left = Notification.objects.filter(status=Status.PENDING, created_at__lt=now - older_than)
    for event, key in left.order_by("pk").values_list("event", "destination"):
        status = deliver(event, key)
        if status is not None:
            counts[status] += 1
    return counts
