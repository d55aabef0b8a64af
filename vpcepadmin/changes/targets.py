"""What a change is made to, and the rule that lets only one change at a time reach it.

**One target = one cloud resource**: cloud + region + project + type + id, whatever stored account
is used to reach it (two stored accounts may point at one project).

**The open attempt is the lock.** An attempt record without an outcome blocks every other change to
its target, in any process and through any stored account, until it has its outcome. It is a
committed row, so it survives a crashed worker, a killed database session and a database restart;
only the reconciler settles what a crash left open. The advisory lock below only orders the
check-and-insert (and the settle): it is held for milliseconds, inside one transaction, never across
a cloud call — so a dead session can no longer let a second change through.

NOTE: design.md asks for a PostgreSQL row lock held across the call; the attempt must be committed
before the call, so the lock is this committed row instead (issue 9, D3).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import AuditRecord, Outcome, TargetType
from vpcepadmin.credentials.models import CloudCredential

# Outcome records that settle an attempt. ``unknown`` records, written before the open-attempt
# rule, settle nothing: such an attempt is still open.
SETTLING = tuple(value for value in Outcome.values if value not in (Outcome.ATTEMPTED, Outcome.UNKNOWN))

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@dataclass(frozen=True)
class Target:
    cloud: str
    region: str
    project_id: str
    target_type: str
    target_id: str

    @classmethod
    def service(cls, credential: CloudCredential, service_id: str) -> Target:
        return cls(
            credential.cloud,
            credential.region,
            credential.project_id,
            TargetType.ENDPOINT_SERVICE,
            service_id,
        )

    @classmethod
    def of_record(cls, record: AuditRecord) -> Target:
        return cls(record.cloud, record.region, record.project_id, record.target_type, record.target_id)

    @property
    def key(self) -> str:
        return "/".join((self.cloud, self.region, self.project_id, self.target_type, self.target_id))

    def records(self) -> QuerySet[AuditRecord]:
        return AuditRecord.objects.filter(
            cloud=self.cloud,
            region=self.region,
            project_id=self.project_id,
            target_type=self.target_type,
            target_id=self.target_id,
        )

    def credentials(self) -> QuerySet[CloudCredential]:
        """Every stored account that reaches this target's project."""
        return CloudCredential.objects.filter(
            cloud=self.cloud, region=self.region, project_id=self.project_id
        )


def open_attempts(records: QuerySet[AuditRecord] | None = None) -> QuerySet[AuditRecord]:
    """Attempts (among ``records``) that have no settling outcome yet, oldest first."""
    settled = AuditRecord.objects.filter(attempt=OuterRef("pk"), outcome__in=SETTLING)
    attempts = (AuditRecord.objects.all() if records is None else records).filter(outcome=Outcome.ATTEMPTED)
    return attempts.exclude(Exists(settled)).order_by("seq")


_SETTLED = (
    "SELECT id FROM audit_auditrecord WHERE attempt_id = %s"  # noqa: S608 — constants only
    f" AND outcome IN ({', '.join(['%s'] * len(SETTLING))}) ORDER BY seq LIMIT 1"
)


def settling_outcome(attempt: AuditRecord) -> AuditRecord | None:
    """The outcome that settled ``attempt``, if any (almost always none: only an id is asked for)."""
    with connection.cursor() as cursor:
        cursor.execute(_SETTLED, [attempt.pk, *map(str, SETTLING)])
        found = cursor.fetchone()
    return None if found is None else AuditRecord.objects.get(pk=found[0])


@contextmanager
def ordered(target: Target) -> Iterator[None]:
    """One transaction in which nobody else checks or changes ``target``'s open attempt.

    PostgreSQL: a transaction-level advisory lock (released at commit or when the session dies).
    Other databases (the SQLite demo, one process): a lock per target in this process.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_number(target)])
            yield
            return
        with _local_guard:
            lock = _local_locks.setdefault(target.key, threading.Lock())
        with lock:
            yield


def _lock_number(target: Target) -> int:
    digest = hashlib.sha256(f"vpcepadmin:target:{target.key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_TARGET_COLUMNS = ("cloud", "region", "project_id", "target_type", "target_id")
_WHERE_TARGET = " AND ".join(f"{{alias}}{column} = %s" for column in _TARGET_COLUMNS)
# Where a target stands, in one statement (one snapshot): its oldest open attempt, and its newest
# attempt's number (a change that reads the target first and claims it afterwards knows by it
# whether another change began in between) — two indexed subqueries.
_STANDING = (
    "SELECT (SELECT a.id FROM audit_auditrecord a WHERE "  # noqa: S608 — constants only
    + _WHERE_TARGET.format(alias="a.")
    + " AND a.outcome = %s AND NOT EXISTS (SELECT 1 FROM audit_auditrecord o WHERE o.attempt_id = a.id"
    + f" AND o.outcome IN ({', '.join(['%s'] * len(SETTLING))})) ORDER BY a.seq LIMIT 1),"
    + " (SELECT max(seq) FROM audit_auditrecord WHERE "
    + _WHERE_TARGET.format(alias="")
    + " AND outcome = %s)"
)


def _stands(target: Target) -> tuple[int | None, int]:
    """The id of the attempt that holds ``target`` (None), and its newest attempt's number (0)."""
    keys = [getattr(target, column) for column in _TARGET_COLUMNS]
    attempted = str(Outcome.ATTEMPTED)
    with connection.cursor() as cursor:
        cursor.execute(_STANDING, [*keys, attempted, *map(str, SETTLING), *keys, attempted])
        row = cursor.fetchone()
    return (row[0], row[1] or 0) if row is not None else (None, 0)


def _holder(attempt_id: int | None) -> AuditRecord | None:
    return None if attempt_id is None else AuditRecord.objects.filter(pk=attempt_id).first()


def open_attempt(target: Target) -> AuditRecord | None:
    """The attempt that holds ``target`` now, if any (``_STANDING``'s, as ``standing`` and ``claim`` see it)."""
    return _holder(_stands(target)[0])


def standing(target: Target) -> tuple[AuditRecord | None, int]:
    """Before reading ``target``: the attempt that holds it (then wait), else the newest attempt's
    number, every attempt up to which has its outcome — so a read taken now shows their effect.
    One statement, so both come from one snapshot: a claim that commits meanwhile is either seen
    whole or not at all (then ``claim`` finds it: held, or moved on).

    NOTE: a read taken while an attempt is open may return the state before that attempt's call
    lands; if the attempt then settles before this change claims, nothing newer than the number
    would show it (found by bench/soak.py). So a change reads only when nothing is open.
    """
    holder, newest = _stands(target)
    return _holder(holder), newest


@dataclass(frozen=True)
class Held:
    """``target`` is held by ``attempt`` (its author and time are on the record)."""

    attempt: AuditRecord


@dataclass(frozen=True)
class Moved:
    """Another change began on ``target`` after it was read: read it again."""


def claim(
    target: Target, read_after: int, entry: recorder.Entry, first: Callable[[], None] | None = None
) -> AuditRecord | Held | Moved:
    """Commit the attempt ``entry`` unless ``target`` is held, or another attempt began after the
    one numbered ``read_after`` (so the state the caller compared may be stale). ``first`` runs in
    the same transaction just before the attempt is appended (an outside change found by the read
    is recorded before ours: ``snapshots.catch_up``)."""
    with ordered(target):
        holder_id, newest = _stands(target)
        holder = _holder(holder_id)
        if holder is not None:
            return Held(holder)
        if newest > read_after:
            return Moved()
        if first is not None:
            first()
        return recorder.append(entry)


def after_the_call() -> None:
    """The database session may have died while the cloud call was out (a restart, a terminated
    backend): start the next query on a live one. One ``SELECT 1``; nothing when inside a
    transaction (that one is gone with its session and is not ours to replace)."""
    if not connection.in_atomic_block and connection.connection is not None and not connection.is_usable():
        connection.close()


def settle(
    attempt: AuditRecord, entry: recorder.Entry, took_effect: Callable[[Target], None] | None = None
) -> AuditRecord:
    """Append the one outcome of ``attempt``; when somebody settled it first, return theirs. When
    this outcome says the change took effect, ``took_effect(target)`` runs in the same transaction
    (the target's observed state moves with it: no false drift).

    A database constraint (one settling outcome per attempt) backs this up. Call ``after_the_call``
    first when a cloud call came in between: the session may have died meanwhile.
    """
    target = Target.of_record(attempt)
    with ordered(target):
        existing = settling_outcome(attempt)
        if existing is not None:
            return existing
        record = recorder.append(entry)
        if took_effect is not None and entry.outcome in (Outcome.APPLIED, Outcome.RECONCILED_APPLIED):
            took_effect(target)
        return record


def outcome_entry(
    attempt: AuditRecord,
    outcome: str,
    *,
    context: recorder.Context | None = None,
    credential: CloudCredential | None = None,
    **fields: Any,
) -> recorder.Entry:
    """The record that settles ``attempt``: its target, reason and body repeated, linked to it."""
    return recorder.Entry(
        action=attempt.action,
        target_type=attempt.target_type,
        outcome=outcome,
        context=context or recorder.Context(),
        credential=credential or attempt.credential,
        target_id=attempt.target_id,
        target_name=attempt.target_name,
        reason=attempt.reason,
        request_body=attempt.request_body,
        attempt=attempt,
        restored_from=attempt.restored_from,
        **fields,
    )
