"""Retention: removing records older than the configured number of days (design.md §4).

Guarantees of ``prune``:
- it refuses to run without the anchor key, and refuses when the chain does not verify (pruning
  must never destroy the evidence of tampering);
- an attempt and its outcome are kept or removed together;
- before anything is deleted, a signed ``start`` anchor names the last removed record (seq, hash):
  verification then starts there, and a start that no anchor vouches for is reported;
- the deletion and the ``prune_audit`` record that says what was removed commit together; on
  PostgreSQL the trigger's ``vpcepadmin.allow_prune`` door is opened with ``SET LOCAL`` for this
  transaction only, and closed again right after the DELETE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.anchors import HEAD, START, signing_key, write_anchor
from vpcepadmin.audit.models import Action, AuditChainHead, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.verification import ChainStart, chain_start, verify_chain

# How far back an attempt is looked for whose outcome lies after the boundary.
PAIR_WINDOW = 1000


class PruneRefused(Exception):
    """Pruning would be unsafe; nothing was removed."""


@dataclass(frozen=True)
class PruneResult:
    through_seq: int
    through_hash: str
    removed: int
    cutoff: datetime
    record: AuditRecord | None = None


def prune(
    days: int, *, dry_run: bool = False, workers: int = 1, now: datetime | None = None
) -> PruneResult | None:
    """Remove the records older than ``days`` days; None when none is that old."""
    signing_key()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    start = chain_start()
    report = verify_chain(start.seq, start.hash, workers=workers)
    if report.first_break is not None:
        broken = report.first_break
        raise PruneRefused(f"the chain is broken at #{broken.seq} ({broken.kind}); nothing was pruned")
    with transaction.atomic():
        AuditChainHead.objects.select_for_update().get_or_create(id=1)
        through = _boundary(cutoff, start)
        if through is None:
            return None
        through_hash = AuditRecord.objects.filter(seq=through).values_list("hash", flat=True).get()
        if dry_run:
            return PruneResult(through, through_hash, through - start.seq, cutoff)
        write_anchor(START, through, through_hash)
        removed = _delete_through(through)
        record = recorder.append(_entry(days, cutoff, start, through, through_hash, removed))
    write_anchor(HEAD, record.seq, record.hash)
    return PruneResult(through, through_hash, removed, cutoff, record)


def _boundary(cutoff: datetime, start: ChainStart) -> int | None:
    """The last record to remove: the newest one older than ``cutoff``, moved back so that no
    outcome loses its attempt."""
    through = AuditRecord.objects.filter(created_at__lt=cutoff).aggregate(last=Max("seq"))["last"]
    if through is None or through <= start.seq:
        return None
    attempts = AuditRecord.objects.filter(
        seq__gt=max(start.seq, through - PAIR_WINDOW), seq__lte=through, outcome=Outcome.ATTEMPTED
    ).values_list("id", flat=True)
    split = AuditRecord.objects.filter(attempt_id__in=list(attempts), seq__gt=through).aggregate(
        first=Min("attempt__seq")
    )["first"]
    if split is not None:
        through = split - 1
    return through if through > start.seq else None


def _delete_through(through: int) -> int:
    table = connection.ops.quote_name(AuditRecord._meta.db_table)
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute("SET LOCAL vpcepadmin.allow_prune = 'on'")
        cursor.execute(f"DELETE FROM {table} WHERE seq <= %s", [through])  # noqa: S608
        removed = int(cursor.rowcount)
        if postgresql:
            cursor.execute("SET LOCAL vpcepadmin.allow_prune = 'off'")
    return removed


def _entry(
    days: int, cutoff: datetime, start: ChainStart, through: int, through_hash: str, removed: int
) -> recorder.Entry:
    return recorder.Entry(
        action=Action.PRUNE_AUDIT,
        target_type=TargetType.AUDIT_LOG,
        outcome=Outcome.RECORDED,
        target_name="audit log",
        reason=f"Retention: records are kept for {days} days.",
        request_body={"retention_days": days, "cutoff": cutoff.isoformat()},
        after={
            "chain_start_seq": through,
            "chain_start_hash": through_hash,
            "removed_records": removed,
            "removed_from_seq": start.seq + 1,
        },
    )
