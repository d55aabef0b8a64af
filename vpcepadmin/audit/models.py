"""``AuditRecord``: one immutable, hash-chained entry of the audit log (design.md §4).

Guarantees:
- records are append-only: ``save()`` refuses an update, ``delete()`` and queryset deletes/updates
  refuse, the admin is read-only, and on PostgreSQL a trigger rejects UPDATE, DELETE and TRUNCATE;
- ``hash = SHA-256(prev_hash ‖ canonical JSON of the record)``; ``seq`` numbers the chain without
  gaps; appends are serialised by locking ``AuditChainHead`` (see ``recorder.append``);
- names (actor, account, target) are kept as text so history survives deletions;
- ``summary`` and ``diff`` are derived from the content when the record is written
  (``changes.derive``), so that pages need not decode the JSON columns; their digest
  ``derived_hash`` is hashed with the record (on records written before migration 0010, which
  lack it, ``verify_audit`` re-derives them); a difference is a break of kind "derived".
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from vpcepadmin.audit.fields import CanonicalJSONField


class Outcome(models.TextChoices):
    ATTEMPTED = "attempted", "Attempted"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"
    RECONCILED_APPLIED = "reconciled_applied", "Reconciled: applied"
    RECONCILED_NOT_APPLIED = "reconciled_not_applied", "Reconciled: not applied"
    # Final: re-reading could not tell (the target changed again since); a person reviews it.
    UNDETERMINED = "undetermined", "Undetermined (needs review)"
    CONFLICT = "conflict", "Conflict (not sent)"
    RECORDED = "recorded", "Recorded"


class Action(models.TextChoices):
    MODIFY_ENDPOINT_SERVICE = "modify_endpoint_service", "Modify endpoint service"
    ACCEPT_CONNECTION = "accept_connection", "Accept connection"
    REJECT_CONNECTION = "reject_connection", "Reject connection"
    ADD_WHITELIST_ENTRY = "add_whitelist_entry", "Add whitelist entry"
    REMOVE_WHITELIST_ENTRY = "remove_whitelist_entry", "Remove whitelist entry"
    # Four eyes: a change request's steps (``endpoints.approvals``).
    REQUEST_CHANGE = "request_change", "Change requested"
    APPROVE_REQUEST = "approve_request", "Change request approved"
    REJECT_REQUEST = "reject_request", "Change request rejected"
    WITHDRAW_REQUEST = "withdraw_request", "Change request withdrawn"
    EXPIRE_REQUEST = "expire_request", "Change request expired"
    STALE_REQUEST = "stale_request", "Change request stale"
    REQUEST_NOT_APPLIED = "request_not_applied", "Change request not applied"
    # Changes made outside the dashboard, observed in the cloud (``manage.py observe_cloud``).
    OBSERVED_CHANGE = "observed_change", "Observed change"
    OBSERVED_NEW_SERVICE = "observed_new_service", "Observed new service"
    OBSERVED_DELETION = "observed_deletion", "Observed deletion"
    OBSERVATION_BASELINE = "observation_baseline", "Baseline"
    CREATE_CREDENTIAL = "create_credential", "Add cloud account"
    UPDATE_CREDENTIAL = "update_credential", "Change cloud account"
    DELETE_CREDENTIAL = "delete_credential", "Delete cloud account"
    PRUNE_AUDIT = "prune_audit", "Prune audit log"
    CHANGE_POLICY = "change_policy", "Change policy"  # a policy guardrail's mode or value (``policies``)
    # Security events (README, "Security"): who signed in, failed, was locked out, changed whom.
    SIGN_IN = "sign_in", "Sign-in"
    SIGN_IN_FAILED = "sign_in_failed", "Failed sign-in"
    SIGN_OUT = "sign_out", "Sign-out"
    LOCKED_OUT = "locked_out", "Locked out"
    UNLOCKED = "unlocked", "Unlocked"
    MFA_ENROLLED = "mfa_enrolled", "Second factor enrolled"
    MFA_RESET = "mfa_reset", "Second factor reset"
    RECOVERY_CODE_USED = "recovery_code_used", "Recovery code used"
    USER_CREATED = "user_created", "User created"
    USER_CHANGED = "user_changed", "User changed"
    USER_DELETED = "user_deleted", "User deleted"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    ROLES_CHANGED = "roles_changed", "Roles changed"
    PRIVILEGES_CHANGED = "privileges_changed", "Superuser or staff status changed"


# Records of what was observed in the cloud rather than done through the dashboard ("Source": outside).
OBSERVED_ACTIONS = (
    Action.OBSERVED_CHANGE,
    Action.OBSERVED_NEW_SERVICE,
    Action.OBSERVED_DELETION,
    Action.OBSERVATION_BASELINE,
)
OUTSIDE_ACTOR = "outside vpcepadmin"


class Source(models.TextChoices):
    """Where a change came from: the dashboard, or outside it (observed in the cloud)."""

    DASHBOARD = "dashboard", "via vpcepadmin"
    OUTSIDE = "outside", "outside vpcepadmin"

    @classmethod
    def of(cls, action: str) -> Source:
        return cls.OUTSIDE if action in OBSERVED_ACTIONS else cls.DASHBOARD


SECURITY_ACTIONS = (
    Action.SIGN_IN,
    Action.SIGN_IN_FAILED,
    Action.SIGN_OUT,
    Action.LOCKED_OUT,
    Action.UNLOCKED,
    Action.MFA_ENROLLED,
    Action.MFA_RESET,
    Action.RECOVERY_CODE_USED,
    Action.USER_CREATED,
    Action.USER_CHANGED,
    Action.USER_DELETED,
    Action.PASSWORD_CHANGED,
    Action.ROLES_CHANGED,
    Action.PRIVILEGES_CHANGED,
)


# The kinds of records an auditor asks for together (the "Category" filter of /audit/).
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "cloud": (
        "Changes to the cloud",
        (
            Action.MODIFY_ENDPOINT_SERVICE,
            Action.ACCEPT_CONNECTION,
            Action.REJECT_CONNECTION,
            Action.ADD_WHITELIST_ENTRY,
            Action.REMOVE_WHITELIST_ENTRY,
        ),
    ),
    "requests": (
        "Change requests",
        (
            Action.REQUEST_CHANGE,
            Action.APPROVE_REQUEST,
            Action.REJECT_REQUEST,
            Action.WITHDRAW_REQUEST,
            Action.EXPIRE_REQUEST,
            Action.STALE_REQUEST,
            Action.REQUEST_NOT_APPLIED,
        ),
    ),
    "accounts": (
        "Stored accounts",
        (Action.CREATE_CREDENTIAL, Action.UPDATE_CREDENTIAL, Action.DELETE_CREDENTIAL),
    ),
    "security": ("Security", SECURITY_ACTIONS),
    "log": ("The audit log itself", (Action.PRUNE_AUDIT,)),
    "policies": ("Policy guardrails", (Action.CHANGE_POLICY,)),
}


class TargetType(models.TextChoices):
    ENDPOINT_SERVICE = "endpoint_service", "Endpoint service"
    CREDENTIAL = "credential", "Cloud account"
    AUDIT_LOG = "audit_log", "Audit log"
    USER = "user", "User"
    CLIENT_ADDRESS = "client_address", "Client address"
    POLICY = "policy", "Policy"


class ImmutableRecord(Exception):
    """Raised on any attempt to change or delete an audit record."""


class AuditRecordQuerySet(models.QuerySet["AuditRecord"]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecord("audit records cannot be updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord("audit records cannot be deleted")


# The record's JSON columns (``CanonicalJSONField``): the hashed ones, and the derived diff.
HASHED_JSON_COLUMNS = ("before", "request_body", "after")
JSON_COLUMNS = (*HASHED_JSON_COLUMNS, "diff")


class AuditRecord(models.Model):
    """One entry of the audit log. Create through ``vpcepadmin.audit.recorder.append`` only."""

    seq = models.BigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    # NOTE: DO_NOTHING and no database constraint: deleting a user or an account must not rewrite
    # a record (the trigger would refuse, and the hash covers these ids); names are kept as text.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_username = models.CharField(max_length=150, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    credential = models.ForeignKey(
        "credentials.CloudCredential",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    credential_name = models.CharField(max_length=80, blank=True)
    cloud = models.CharField(max_length=16, blank=True)
    region = models.CharField(max_length=32, blank=True)
    project_id = models.CharField(max_length=32, blank=True)
    target_type = models.CharField(max_length=32, choices=TargetType.choices)
    target_id = models.CharField(max_length=64, blank=True)
    target_name = models.CharField(max_length=160, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    reason = models.TextField(blank=True)
    before = CanonicalJSONField(null=True, blank=True)
    request_body = CanonicalJSONField(null=True, blank=True)
    after = CanonicalJSONField(null=True, blank=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    cloud_request_id = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    attempt = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="outcomes", db_constraint=False
    )
    restored_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="restorations",
        db_constraint=False,
    )
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False, unique=True)
    # Derived when written (``changes.derive``), hashed through ``derived_hash``. NULL only on
    # a record written before these columns existed and not derived yet (migration 0008 derives them).
    summary = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    diff = CanonicalJSONField(null=True, blank=True, editable=False)
    # ``chain.derived_hash(summary, diff)``, hashed with the record; empty on records written before
    # migration 0010 (their derived columns are re-derived by ``verify_audit`` instead).
    derived_hash = models.CharField(max_length=64, blank=True, default="", editable=False)

    objects: ClassVar[models.Manager[AuditRecord]] = AuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-seq"], name="audit_target_seq"),
            models.Index(fields=["credential", "-seq"], name="audit_credential_seq"),
            models.Index(fields=["actor_username", "-seq"], name="audit_actor_seq"),
            models.Index(fields=["action", "-seq"], name="audit_action_seq"),
            models.Index(fields=["outcome", "-seq"], name="audit_outcome_seq"),
            # Added for review (migration 0003): the service filter by name.
            models.Index(fields=["target_name", "-seq"], name="audit_target_name_seq"),
            models.Index(fields=["created_at", "seq"], name="audit_created_seq"),
        ]
        constraints = [
            # Exactly one outcome settles an attempt. (``unknown`` records, from before the open
            # attempt was the lock, settle nothing and may precede the one that does.)
            models.UniqueConstraint(
                fields=["attempt"],
                condition=models.Q(attempt__isnull=False) & ~models.Q(outcome="unknown"),
                name="audit_one_outcome_per_attempt",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target_name or self.target_id} ({self.outcome})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableRecord("audit records cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecord("audit records cannot be deleted")


class AuditChainHead(models.Model):
    """The single row that holds the chain's last ``seq`` and ``hash``; locked by every append."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"chain head #{self.seq}"


class VerificationRun(models.Model):
    """One run of ``manage.py verify_audit``: what it covered and what it found.

    The newest run feeds the badge on ``/audit/`` and lets a record's page say whether the chain
    verifies up to it without walking a million records. It is a convenience, not evidence: the
    evidence is the chain itself and the signed anchors kept outside the database.
    """

    started_at = models.DateTimeField(default=timezone.now, editable=False)
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField()
    start_seq = models.BigIntegerField(default=0)
    checked = models.BigIntegerField(default=0)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, blank=True)
    break_kind = models.CharField(max_length=16, blank=True)
    break_seq = models.BigIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)
    anchors_checked = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"verification {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'broken'}"
