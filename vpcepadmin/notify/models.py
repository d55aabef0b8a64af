"""``Notification``: one message of one event to one destination (the outbox).

Guarantees:
- a row is written in the transaction of the audit record it tells of: a change rolled back
  notifies nothing, and a committed one cannot lose its notification;
- (``event``, ``destination``) is unique, and a row is sent only by whoever moves it from
  ``pending`` to ``sending`` (one conditional UPDATE): nothing is sent twice for one event;
- a row holds no secret: the destination is a digest and a label (a webhook only by its host), the
  text is made from the audit record, which is masked already.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    EMAIL = "email", "E-mail"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class Kind(models.TextChoices):
    """What happened, as the message says it."""

    REQUEST_WAITING = "request_waiting", "Change request waiting for approval"
    REQUEST_DECIDED = "request_decided", "Change request decided"
    CHANGE_APPLIED = "change_applied", "Change applied"
    CHANGE_FAILED = "change_failed", "Change failed"
    CHANGE_UNKNOWN = "change_unknown", "Change outcome unknown"
    OUTSIDE_CHANGE = "outside_change", "Outside change observed"
    LOCKOUT = "lockout", "Sign-in locked out"


class Notification(models.Model):
    """One event's message to one configured destination, and how its delivery went."""

    # "record:<seq>" for an audit record, "unknown:<seq>" for an attempt left without an outcome.
    event = models.CharField(max_length=40)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # NOTE: no database constraint, as the audit log's own links: pruning old records must not
    # depend on this table.
    record = models.ForeignKey(
        "audit.AuditRecord",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    destination = models.CharField(max_length=16)  # the digest of the channel and address
    destination_label = models.CharField(max_length=200)  # "webhook 1 (hooks.slack.com)"
    subject = models.CharField(max_length=300)
    text = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "destination"], name="notify_once_per_destination")
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="notify_status_created")]

    def __str__(self) -> str:
        return f"{self.event} → {self.destination_label} ({self.status})"
