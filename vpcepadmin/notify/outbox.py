"""Events into the outbox: one row per (event, destination), in the event's own transaction.

``on_record_appended`` receives ``audit.events.record_appended`` for every record, and
``on_attempt_left_open`` ``audit.events.attempt_left_open`` for an attempt the pipeline leaves open
(each in a savepoint: ``events.notify`` logs what they raise and the change goes on). Without a
destination configured both return at once: no query, nothing written (the apply path's budget is
30 ms). With destinations, the rows are written beside the record — a rolled-back change notifies
nothing, a committed one cannot lose its notification — and handed to ``delivery`` only once the
transaction commits.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction

from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.notify import delivery, destinations, messages
from vpcepadmin.notify.destinations import Destination
from vpcepadmin.notify.messages import Message
from vpcepadmin.notify.models import Notification


def on_record_appended(sender: Any, record: AuditRecord, **kwargs: Any) -> None:
    if not destinations.configured():
        return
    with transaction.atomic():  # a savepoint: a failure here leaves the record's transaction usable
        message = messages.message_for(record)
        if message is not None:
            enqueue(f"record:{record.seq}", message, record)


def on_attempt_left_open(sender: Any, attempt: AuditRecord, **kwargs: Any) -> None:
    """A change was sent, its answer proved nothing and re-reading failed: its attempt stays open
    without an outcome record (``pipeline._after_failure``). Told on production accounts."""
    if not destinations.configured():
        return
    with transaction.atomic():
        message = messages.unknown_message(attempt)
        if message is not None:
            enqueue(f"unknown:{attempt.seq}", message, attempt)


def enqueue(event: str, message: Message, record: AuditRecord) -> None:
    """Write ``message`` for every destination (once: the pair is unique) and send after the commit."""
    targets = destinations.destinations()
    if not targets:
        return
    rows = [_row(event, message, record, target) for target in targets]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(functools.partial(delivery.submit, event, [target.key for target in targets]))


def _row(event: str, message: Message, record: AuditRecord, target: Destination) -> Notification:
    return Notification(
        event=event, kind=message.kind, record_id=record.pk, channel=target.channel, destination=target.key,
        destination_label=target.label[:200], subject=message.subject[:300], text=message.text,
        link=message.link[:500],
    )  # fmt: skip
