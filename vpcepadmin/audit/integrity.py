"""What the auditor is told about integrity: verification runs, anchors against the chain, the
badge on ``/audit/`` and "does the chain verify up to this record?" on a record's page.

Guarantees: ``run_verification`` walks the whole chain from its start, compares every readable
anchor with the records it names, and stores one ``VerificationRun`` with the verdict, whatever
it is. ``record_status`` answers in bounded time: it trusts the newest run for the records it
covered (re-checking the record's own hash and link now) and walks at most
``AUDIT_LIVE_VERIFY_LIMIT`` records itself (their hashes and links; the derived columns of the
record shown); beyond that it says the record is not verified yet.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from vpcepadmin.audit.anchors import AnchorFile, AnchorProblem, read_anchors
from vpcepadmin.audit.chain import hashed_values, record_hash
from vpcepadmin.audit.changes import stored_as_derived
from vpcepadmin.audit.models import AuditChainHead, AuditRecord, Outcome, VerificationRun
from vpcepadmin.audit.verification import ChainReport, ChainStart, chain_start, verify_chain


@dataclass(frozen=True)
class Verification:
    report: ChainReport
    anchor_problems: list[AnchorProblem] = field(default_factory=list)
    anchors_checked: int | None = None

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.anchor_problems


def run_verification(anchors_path: Path | None = None, workers: int = 1) -> Verification:
    """Verify the chain (and the anchors in ``anchors_path``) and record the run."""
    started, clock = timezone.now(), time.monotonic()
    start = chain_start()
    report = verify_chain(start.seq, start.hash, workers=workers)
    problems: list[AnchorProblem] = []
    checked: int | None = None
    if anchors_path is not None:
        anchor_file = read_anchors(anchors_path)
        problems = check_anchors(anchor_file, start)
        checked = len(anchor_file.anchors)
    verification = Verification(report, problems, checked)
    _record_run(verification, started, int((time.monotonic() - clock) * 1000))
    return verification


def check_anchors(anchor_file: AnchorFile, start: ChainStart) -> list[AnchorProblem]:
    """Each anchored (seq, hash) must still be in the chain; pruned ones are past checking."""
    problems = list(anchor_file.problems)
    last = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or start.seq
    stored = {start.seq: start.hash}
    wanted = sorted({anchor.seq for anchor in anchor_file.anchors if anchor.seq > start.seq})
    for offset in range(0, len(wanted), 1000):
        chunk = wanted[offset : offset + 1000]
        stored.update(AuditRecord.objects.filter(seq__in=chunk).values_list("seq", "hash"))
    for anchor in anchor_file.anchors:
        if anchor.seq < start.seq:
            continue
        found = stored.get(anchor.seq)
        where = f"line {anchor.line}: the anchor of {anchor.at} names record #{anchor.seq}"
        if found is None and anchor.seq > last:
            detail = f"{where}, but the chain ends at #{last}"
            problems.append(AnchorProblem("truncated", anchor.line, anchor.seq, detail))
        elif found is None:
            problems.append(AnchorProblem("missing", anchor.line, anchor.seq, f"{where}, which is missing"))
        elif found != anchor.hash:
            problems.append(AnchorProblem("rewritten", anchor.line, anchor.seq, f"{where} with another hash"))
    vouched = any(a.seq == start.seq and a.hash == start.hash for a in anchor_file.anchors)
    if start.seq > 0 and not vouched:
        detail = f"the chain starts after #{start.seq} (pruned), but no signed anchor vouches for that start"
        problems.append(AnchorProblem("start", 0, start.seq, detail))
    return problems


def _record_run(verification: Verification, started: datetime, duration_ms: int) -> VerificationRun:
    report, first_problem = verification.report, next(iter(verification.anchor_problems), None)
    broken = report.first_break
    return VerificationRun.objects.create(
        started_at=started,
        duration_ms=duration_ms,
        ok=verification.ok,
        start_seq=report.start_seq,
        checked=report.checked,
        last_seq=report.last_seq,
        last_hash=report.last_hash,
        break_kind=broken.kind if broken else (f"anchor:{first_problem.kind}" if first_problem else ""),
        break_seq=broken.seq if broken else (first_problem.seq if first_problem else None),
        detail=broken.detail if broken else (first_problem.detail if first_problem else ""),
        anchors_checked=verification.anchors_checked,
    )


@dataclass(frozen=True)
class Badge:
    """The newest verification run and how many records were appended since it."""

    run: VerificationRun | None
    newer: int = 0
    needs_review: int = 0  # outcomes recorded as undetermined: a person must look at the service


REVIEW_SHOWN = 100


def badge() -> Badge:
    run = VerificationRun.objects.order_by("-id").first()
    head = AuditChainHead.objects.filter(id=1).values_list("seq", flat=True).first() or 0
    # Bounded and through the (outcome, seq) index, never a COUNT: the page stays flat at any size.
    undetermined = AuditRecord.objects.filter(outcome=Outcome.UNDETERMINED).values_list("pk", flat=True)
    needs_review = len(undetermined[:REVIEW_SHOWN])
    return Badge(run, max(0, head - run.last_seq) if run and run.ok else 0, needs_review)


@dataclass(frozen=True)
class RecordChainStatus:
    """``state``: verified, broken or unverified; ``message`` says on what grounds."""

    state: str
    message: str


def record_status(record: AuditRecord) -> RecordChainStatus:
    run = VerificationRun.objects.order_by("-id").first()
    if run is not None and not run.ok and run.break_seq is not None and run.break_seq <= record.seq:
        when = f"{run.started_at:%Y-%m-%d %H:%M} UTC"
        message = f"The verification of {when} found the chain broken at #{run.break_seq} ({run.break_kind})"
        return RecordChainStatus("broken", f"{message}: {run.detail}.")
    own = _own_problem(record)
    if own:
        return RecordChainStatus("broken", own)
    if run is not None and run.start_seq < record.seq <= run.last_seq:
        message = (
            f"Verified: the run of {run.started_at:%Y-%m-%d %H:%M} UTC checked the chain up to #{run.last_seq}; "
            "this record's hash and link were re-checked just now."
        )
        return RecordChainStatus("verified", message)
    return _live_status(record.seq, run, "this record")


def _own_problem(record: AuditRecord) -> str:
    if record_hash(record.prev_hash, hashed_values(record)) != record.hash:
        return f"Record #{record.seq} does not match its hash: it was changed after it was written."
    if not stored_as_derived(record):
        return f"The summary or diff stored with record #{record.seq} is not what its content gives."
    previous = AuditRecord.objects.filter(seq=record.seq - 1).values_list("hash", flat=True).first()
    if previous is None:
        start = chain_start()
        previous = start.hash if start.seq == record.seq - 1 else None
    if previous != record.prev_hash:
        return f"Record #{record.seq} does not link to record #{record.seq - 1}."
    return ""


def _live_status(seq: int, run: VerificationRun | None, subject: str) -> RecordChainStatus:
    """The chain from the last good run (or its start) up to ``seq``, checked now when that is
    at most ``AUDIT_LIVE_VERIFY_LIMIT`` records; the record's page and the badge both ask this."""
    start = chain_start()
    if run is not None and run.ok and start.seq <= run.last_seq < seq:
        start = ChainStart(run.last_seq, run.last_hash)
    distance = seq - start.seq
    # The badge of /audit/ tells the runs' truth alone (it never reads records); this page says the
    # same first, then what it checked itself — the same state on both pages, never "verified" here
    # for a record no run has reached.
    ran = (
        f"the last verify_audit run checked the chain up to #{run.last_seq}"
        if run is not None and run.ok
        else "no verify_audit run has checked it yet"
    )
    if distance > settings.AUDIT_LIVE_VERIFY_LIMIT:
        message = f"Not verified yet: {ran}, and {distance} records are too many to re-check here."
        return RecordChainStatus("unverified", message)
    # The chain up to here; the derived columns of this record only (``_own_problem``): those of the
    # others are re-derived by ``verify_audit``'s runs, which the page reports as well.
    report = verify_chain(start.seq, start.hash, until_seq=seq, rederive=False)
    if report.first_break is not None:
        broken = report.first_break
        return RecordChainStatus(
            "broken", f"The chain is broken at #{broken.seq} ({broken.kind}): {broken.detail}."
        )
    return RecordChainStatus(
        "unverified",
        f"Not verified yet: {ran}. Re-checked here just now from #{start.seq + 1} up to {subject}: intact.",
    )
