"""What the audit log tells the layers above it: a record was appended, or an attempt left open.

``record_appended`` is sent by ``recorder.append`` right after the record is saved, inside the
caller's transaction (keyword argument ``record``). A receiver that writes rows in that transaction
makes them durable together with the record, and rolled back with it; anything slow or fallible a
receiver must do belongs in ``transaction.on_commit``. The audit app never imports its receivers
(``vpcepadmin.notify`` connects one): the log knows no reader.

``attempt_left_open`` is sent when a change was sent, its answer proved nothing and re-reading
failed: its attempt stays open without an outcome record (keyword argument ``attempt``).

Both are sent with ``send_robust`` (``notify``): a receiver that fails is logged and never breaks
the change that sent the signal; a receiver that writes must do so in a savepoint of its own, so
that its failure leaves the caller's transaction usable.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

from vpcepadmin.audit.models import AuditRecord

record_appended = Signal()
attempt_left_open = Signal()
logger = logging.getLogger("vpcepadmin.audit")


def notify(signal: Signal, **kwargs: Any) -> None:
    """Send ``signal`` to every receiver; log (never raise) what a receiver raised."""
    for receiver, answer in signal.send_robust(sender=AuditRecord, **kwargs):
        if isinstance(answer, Exception):
            logger.error("A receiver of an audit event failed (%s): %s", getattr(receiver, "__qualname__", receiver),
                         type(answer).__name__)  # fmt: skip
