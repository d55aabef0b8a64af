"""Walking the hash chain: the first broken record, if any (reliability.md §4.2).

Guarantees of ``verify_chain``: every record from the start on is checked for its position (no
gap), its link (``prev_hash`` is the previous record's hash), its content (the stored hash is
the hash of what is stored) and its derived columns (the stored summary and diff are what its
content gives: ``rederive``); the first break by sequence number is reported, whichever way the
work was split. Long chains on PostgreSQL are split into ranges verified by several processes at
once; the ranges are then stitched together, checking the links across their borders.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from vpcepadmin.audit.chain import GENESIS_HASH
from vpcepadmin.audit.chainrows import ChainRow, chain_rows, hash_matches
from vpcepadmin.audit.models import Action, AuditChainHead, AuditRecord
from vpcepadmin.audit.rederive import LATER, Rederivation, Waiting, problem

# Below this many records one process is quicker than starting several.
PARALLEL_MIN = 100_000
MAX_WORKERS = 4


@dataclass(frozen=True)
class Break:
    """Where the chain stops verifying: ``kind`` is gap, link, content, derived or head."""

    kind: str
    seq: int
    record_id: int | None
    detail: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    last_seq: int
    last_hash: str
    first_break: Break | None
    start_seq: int = 0

    @property
    def ok(self) -> bool:
        return self.first_break is None


@dataclass(frozen=True)
class ChainStart:
    """Where verification begins: the genesis, or the last record removed by retention."""

    seq: int = 0
    hash: str = GENESIS_HASH


@dataclass(frozen=True)
class Segment:
    """The verdict on one range of records; ``first_*`` describe its first row (None if empty)."""

    first_seq: int | None
    first_prev_hash: str
    last_seq: int
    last_hash: str
    checked: int
    first_break: Break | None


def chain_start() -> ChainStart:
    """The start set by the newest pruning (``prune_audit`` records it in the chain), else genesis."""
    after = (
        AuditRecord.objects.filter(action=Action.PRUNE_AUDIT)
        .order_by("-seq")
        .values_list("after", flat=True)
        .first()
    )
    if isinstance(after, dict) and isinstance(after.get("chain_start_seq"), int):
        return ChainStart(after["chain_start_seq"], str(after.get("chain_start_hash", "")))
    return ChainStart()


def walk(
    rows: Iterable[ChainRow],
    expected_seq: int | None,
    prev_hash: str | None,
    using: BaseDatabaseWrapper | None = None,
    rederive: bool = True,
) -> Segment:
    """Check rows in order; ``None`` for ``expected_seq``/``prev_hash`` accepts the first row's own.

    ``using`` is the connection the rows come from; once they are read, it fetches the attempts of
    outcomes whose attempt was not among them (``rederive.Rederivation.resolve``).
    """
    first_seq: int | None = None
    first_prev, last_seq, last_hash, checked = "", (expected_seq or 1) - 1, prev_hash or "", 0
    derivation = Rederivation()
    found: Break | None = None
    iterator = iter(rows)
    for row in iterator:
        if first_seq is None:
            first_seq, first_prev = row.seq, row.prev_hash
            expected_seq = row.seq if expected_seq is None else expected_seq
            prev_hash = row.prev_hash if prev_hash is None else prev_hash
        found = _check(row, expected_seq, prev_hash)
        if found is None and rederive:
            derived = derivation.check(row)
            if derived == LATER:
                waiting = Waiting(
                    row.seq, row.id, row.decoded(), row.summary, row.diff, checked, last_seq, last_hash
                )
                derivation.wait(waiting)
            elif derived:
                found = Break("derived", row.seq, row.id, derived)
        if found is not None:
            break
        expected_seq, prev_hash = row.seq + 1, row.hash
        last_seq, last_hash, checked = row.seq, row.hash, checked + 1
    close = getattr(iterator, "close", None)
    if close is not None:
        close()  # the rows' query must end before the connection can read attempts
    wrong = derivation.resolve(found.seq if found is not None else None, using)
    if wrong is not None:
        found = Break("derived", wrong.seq, wrong.record_id, problem(wrong.seq, wrong.summary))
        last_seq, last_hash, checked = wrong.last_seq, wrong.last_hash, wrong.checked
    return Segment(first_seq, first_prev, last_seq, last_hash, checked, found)


def _check(row: ChainRow, expected_seq: int | None, prev_hash: str | None) -> Break | None:
    record_id, seq, row_prev = row.id, row.seq, row.prev_hash
    if seq != expected_seq:
        detail = f"record #{expected_seq} is missing (next is #{seq})"
        return Break("gap", expected_seq or seq, record_id, detail)
    if row_prev != prev_hash:
        return Break("link", seq, record_id, f"record #{seq} does not link to the record before it")
    if not (row.proven or hash_matches(row_prev, row.decoded(), row.hash)):
        return Break("content", seq, record_id, f"record #{seq} was changed after it was written")
    return None


def verify_chain(
    start_seq: int = 0,
    start_hash: str = GENESIS_HASH,
    until_seq: int | None = None,
    workers: int = 1,
    rederive: bool = True,
) -> ChainReport:
    """Recompute every hash from ``start_seq`` on; report the first break.

    ``start_seq``/``start_hash`` let verification begin at an anchor (after pruning); ``until_seq``
    stops early (for "does the chain verify up to this record?"); ``workers`` > 1 lets a long chain
    on PostgreSQL be verified by that many processes. Without ``rederive`` only the chain is checked,
    not the derived columns (a record page checks its own record's: ``integrity.record_status``).
    """
    ranges = _ranges(start_seq, until_seq, workers)
    if len(ranges) == 1:
        segments = [walk(chain_rows(start_seq, until_seq), start_seq + 1, start_hash, rederive=rederive)]
    else:
        segments = _in_parallel([(low, high, rederive) for low, high in ranges])
    report = _stitch(segments, start_seq, start_hash)
    if until_seq is None and report.ok:
        report = _check_head(report)
    return report


def default_workers(setting: int) -> int:
    """``setting`` processes, or for 0 one per CPU (at most ``MAX_WORKERS``)."""
    return setting if setting > 0 else max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def _ranges(start_seq: int, until_seq: int | None, workers: int) -> list[tuple[int, int | None]]:
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return [(start_seq, until_seq)]
    last = (
        until_seq
        if until_seq is not None
        else AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first()
    )
    if last is None or last - start_seq < PARALLEL_MIN:
        return [(start_seq, until_seq)]
    step = (last - start_seq) // workers
    bounds = [start_seq + step * index for index in range(workers)] + [last]
    # The last range is open-ended (when no end was asked), so records appended meanwhile are walked too.
    return [(bounds[i], bounds[i + 1] if i < workers - 1 else until_seq) for i in range(workers)]


def _in_parallel(ranges: list[tuple[int, int | None, bool]]) -> list[Segment]:
    # NOTE: "fork" keeps the test database's settings; each child opens its own connection.
    with multiprocessing.get_context("fork").Pool(len(ranges)) as pool:
        return pool.map(_verify_range, ranges)


def _verify_range(bounds: tuple[int, int | None, bool]) -> Segment:
    own = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        return walk(chain_rows(bounds[0], bounds[1], using=own), None, None, own, rederive=bounds[2])
    finally:
        own.close()


def _stitch(segments: list[Segment], start_seq: int, start_hash: str) -> ChainReport:
    """The sequential verdict from the segments: borders first, then each segment's own break."""
    expected, prev_hash, checked = start_seq + 1, start_hash, 0
    for segment in segments:
        if segment.first_seq is not None:
            border = _border(segment, expected, prev_hash)
            if border is not None:
                return ChainReport(checked, expected - 1, prev_hash, border, start_seq)
        if segment.first_break is not None:
            last_hash = segment.last_hash if segment.checked else prev_hash
            last_seq = segment.last_seq if segment.checked else expected - 1
            return ChainReport(checked + segment.checked, last_seq, last_hash, segment.first_break, start_seq)
        if segment.checked:
            expected, prev_hash = segment.last_seq + 1, segment.last_hash
            checked += segment.checked
    return ChainReport(checked, expected - 1, prev_hash, None, start_seq)


def _border(segment: Segment, expected: int, prev_hash: str) -> Break | None:
    seq = segment.first_seq
    assert seq is not None
    if seq != expected:
        return Break("gap", expected, None, f"record #{expected} is missing (next is #{seq})")
    if segment.first_prev_hash != prev_hash:
        return Break("link", seq, None, f"record #{seq} does not link to the record before it")
    return None


def _check_head(report: ChainReport) -> ChainReport:
    """The head row must name the last record — or a record appended while we were walking."""
    head = AuditChainHead.objects.filter(id=1).first()
    if head is None or (head.seq, head.hash) == (report.last_seq, report.last_hash):
        return report
    if head.seq > report.last_seq and AuditRecord.objects.filter(seq=head.seq, hash=head.hash).exists():
        return report
    detail = f"the chain head says #{head.seq} but the last record is #{report.last_seq}"
    head_break = Break("head", head.seq, None, detail)
    return ChainReport(report.checked, report.last_seq, report.last_hash, head_break, report.start_seq)
