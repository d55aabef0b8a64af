"""Walking the hash chain: the first broken record, if any (reliability.md §4.2)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vpcepadmin.audit.chain import GENESIS_HASH, HASHED_FIELDS, record_hash
from vpcepadmin.audit.models import AuditChainHead, AuditRecord

CHUNK = 5000


@dataclass(frozen=True)
class Break:
    """Where the chain stops verifying: ``kind`` is gap, link, content or head."""

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

    @property
    def ok(self) -> bool:
        return self.first_break is None


def _rows(after_seq: int) -> Iterator[dict[str, Any]]:
    columns = ("id", "seq", "prev_hash", "hash", *[f for f in HASHED_FIELDS if f != "seq"])
    query = AuditRecord.objects.filter(seq__gt=after_seq).order_by("seq").values(*columns)
    yield from query.iterator(chunk_size=CHUNK)


def verify_chain(
    start_seq: int = 0, start_hash: str = GENESIS_HASH, until_seq: int | None = None
) -> ChainReport:
    """Recompute every hash from ``start_seq`` on; stop at the first break.

    ``start_seq``/``start_hash`` let verification begin at an anchor (after pruning); ``until_seq``
    stops early (for "does the chain verify up to this record?").
    """
    expected_seq, prev_hash, checked = start_seq + 1, start_hash, 0
    for row in _rows(start_seq):
        if until_seq is not None and row["seq"] > until_seq:
            break
        found = _check(row, expected_seq, prev_hash)
        if found is not None:
            return ChainReport(checked, expected_seq - 1, prev_hash, found)
        expected_seq, prev_hash, checked = row["seq"] + 1, row["hash"], checked + 1
    if until_seq is None:
        head = AuditChainHead.objects.filter(id=1).first()
        if head is not None and (head.seq, head.hash) != (expected_seq - 1, prev_hash):
            detail = f"the chain head says #{head.seq} but the last record is #{expected_seq - 1}"
            return ChainReport(checked, expected_seq - 1, prev_hash, Break("head", head.seq, None, detail))
    return ChainReport(checked, expected_seq - 1, prev_hash, None)


def _check(row: dict[str, Any], expected_seq: int, prev_hash: str) -> Break | None:
    seq, record_id = row["seq"], row["id"]
    if seq != expected_seq:
        return Break("gap", expected_seq, record_id, f"record #{expected_seq} is missing (next is #{seq})")
    if row["prev_hash"] != prev_hash:
        return Break("link", seq, record_id, f"record #{seq} does not link to the record before it")
    values = {name: row[name] for name in HASHED_FIELDS}
    if record_hash(prev_hash, values) != row["hash"]:
        return Break("content", seq, record_id, f"record #{seq} was changed after it was written")
    return None
