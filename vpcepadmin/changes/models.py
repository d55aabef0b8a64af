"""What the dashboard last saw of each target in the cloud, and each observation run.

A ``Snapshot`` is the last observed state of one target (cloud + region + project + type + id, like
``changes.targets.Target``): written by ``observe_cloud`` and, in the same transaction as its outcome
record, by every change the dashboard applies — so a change of ours is never reported again as one
made outside. An ``ObservationRun`` is one run of the observer over one account: what it saw, what it
recorded, how long it took, or why it could not read the account.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from vpcepadmin.audit.models import Action
from vpcepadmin.credentials.models import CloudCredential


class Snapshot(models.Model):
    cloud = models.CharField(max_length=16)
    region = models.CharField(max_length=64)
    project_id = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64)
    state = models.JSONField()  # the target as the API shows it
    fingerprint = models.CharField(max_length=64)  # of what a change to it is (``observation.fingerprint``)
    cloud_updated_at = models.DateTimeField(null=True, blank=True)
    observed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cloud", "region", "project_id", "target_type", "target_id"], name="snapshot_target"
            )
        ]

    def __str__(self) -> str:
        return f"{self.target_type} {self.target_id}"


class ObservationRun(models.Model):
    credential = models.ForeignKey(CloudCredential, on_delete=models.CASCADE, related_name="observation_runs")
    cloud = models.CharField(max_length=16)
    region = models.CharField(max_length=64)
    project_id = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    services = models.PositiveIntegerField(default=0)  # seen in the cloud
    recorded = models.PositiveIntegerField(default=0)  # audit records written
    skipped = models.PositiveIntegerField(default=0)  # differences left for the next run (a change in flight)
    baseline = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)  # why the account could not be read ("" when it was)

    class Meta:
        indexes = [
            models.Index(fields=["credential", "-started_at"], name="run_credential_started"),
            models.Index(fields=["cloud", "region", "project_id", "error"], name="run_project"),
        ]

    def __str__(self) -> str:
        return f"observation of {self.credential_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class RequestStatus(models.TextChoices):
    OPEN = "open", "Waiting for approval"
    APPROVED = "approved", "Approved: being applied"
    APPLIED = "applied", "Approved and applied"
    NOT_APPLIED = "not_applied", "Approved, not applied"
    PARTLY_APPLIED = "partly_applied", "Approved, partly applied (see each item)"
    UNKNOWN = "unknown", "Approved: outcome not known yet (see the audit log)"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"
    EXPIRED = "expired", "Expired"
    STALE = "stale", "Stale: the service changed"


class ChangeRequest(models.Model):
    """A reviewed change on an account whose changes need a second person's approval (or that a
    policy routes to one): exactly what the author reviewed, why, and what they reviewed it against.
    Nothing is sent until another operator approves it (``endpoints.approvals``).

    ``kind`` is the audit action of the change: a service edit keeps its ``values`` and ``version``;
    a connection or whitelist change keeps its ``items`` (each connection or entry as the author saw
    it, ``endpoints.actions.Seen``), and a whitelist removal the connections to reject after it."""

    kind = models.CharField(max_length=32, default="modify_endpoint_service")
    items = models.JSONField(default=list)  # connections or whitelist entries, as seen
    also_reject = models.JSONField(default=list)  # connections to reject after a whitelist removal
    credential = models.ForeignKey(CloudCredential, on_delete=models.CASCADE, related_name="change_requests")
    service_id = models.CharField(max_length=64)
    service_name = models.CharField(max_length=128, blank=True)
    values = models.JSONField()  # the reviewed editable values
    body = models.JSONField()  # the exact PUT the approval sends
    version = models.JSONField()  # what the author's form was loaded from (original values, fingerprint, …)
    reason = models.CharField(max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    author_username = models.CharField(max_length=150)
    created_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_username = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500, blank=True)  # what the approval's apply said
    # The record whose values the request restores. No database constraint: the audit table stays
    # free of foreign keys from outside it, so that its guards (no TRUNCATE) answer for themselves.
    restored_from = models.ForeignKey(
        "audit.AuditRecord", on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    request_ids = models.JSONField(default=list)  # the web requests of its steps: its records carry them

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="request_status_created")]

    def __str__(self) -> str:
        return f"request #{self.pk} for {self.service_id}"

    @property
    def what(self) -> str:
        """The kind of change in words, with how many connections or entries ("Accept connection × 2")."""
        label = Action(self.kind).label if self.kind in Action.values else self.kind
        return f"{label} × {len(self.items)}" if len(self.items) > 1 else label
