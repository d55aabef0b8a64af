"""Checking the derived columns while the chain is walked: is each record's stored summary and diff
what its content gives (``changes.derive``)?

A record written since migration 0010 hashes the digest of its summary and diff (``derived_hash``):
those are only compared with it. The records written before have no digest — the summary and the
diff were added to records already chained, outside their hash — so nothing but re-deriving them
can tell that somebody changed them. Re-deriving costs more than hashing (a diff of 200 port
mappings reads both lists), so the work is done once per change:

- an attempt is derived from its own values and then remembered until its outcome comes;
- an outcome records no before-state (its change starts from its attempt's) and repeats the
  attempt's body, so its derivation *is* the attempt's: when it stores exactly what the attempt
  (already checked) stores, it is right without deriving anything; otherwise it is derived in full;
- an outcome whose attempt the walk did not see (verification split into ranges, or the attempt
  before the range) waits until the rows are read, and its attempt is then read from the database
  (``resolve``). An attempt that no longer exists (removed by retention) leaves nothing to derive
  from: such an outcome is not checked (it was derived from the attempt when it was written).

Whichever way a record is checked, the verdict is the one ``changes.derive`` gives; a difference is
reported as a break of kind ``derived``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from vpcepadmin.audit.chain import DERIVED_HASH, canonical_json
from vpcepadmin.audit.chainrows import ChainRow, exact
from vpcepadmin.audit.changes import derive
from vpcepadmin.audit.models import Action, Outcome

ATTEMPTS_KEPT = 10_000  # attempts waiting for their outcome; one forgotten is read back (``resolve``)
LATER = "later"  # the verdict must wait for the attempt (``resolve``)
MODIFY = str(Action.MODIFY_ENDPOINT_SERVICE)
ATTEMPTED, UNKNOWN = str(Outcome.ATTEMPTED), str(Outcome.UNKNOWN)


@dataclass(frozen=True)
class Waiting:
    """An outcome waiting for its attempt, and where the walk stood before it (for the report)."""

    seq: int
    record_id: int
    values: dict[str, Any]
    summary: str | None
    diff: str | None
    checked: int
    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class Attempt:
    """What an outcome is compared with: its attempt's values (checked right) — JSON as its stored
    texts where there are some (decoded only when needed: kept decoded, thousands of waiting
    attempts would make every garbage collection walk them)."""

    action: str
    before: Any
    request_body: Any
    after: Any
    summary: str | None
    diff: str | None
    texts: dict[str, str | None] | None

    @classmethod
    def of(cls, row: ChainRow) -> Attempt:
        if row.texts is not None:  # the values are re-read from the texts if ever needed
            return cls(row.values["action"], None, None, None, row.summary, row.diff, row.texts)
        values = row.values
        return cls(
            values["action"], values["before"], values["request_body"], values["after"],
            row.summary, row.diff, None,
        )  # fmt: skip

    def value(self, name: str) -> Any:
        if self.texts is None:
            return getattr(self, name)
        text = self.texts[name]
        return None if text is None else exact(text)


def _canonical(value: Any) -> str | None:
    """``chain.canonical_json(value)``, by orjson when it can (its canonical JSON of strings, integers
    up to 64 bits, lists and dicts is the reference's; a value it cannot encode is left to the caller)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return canonical_json(value)


def _diff_is(stored: str | None, expected: list[dict[str, Any]]) -> bool:
    """Whether the stored diff (JSON text) is ``expected``: its canonical text (how it is written)
    or, for any other text, its decoded value."""
    if stored is None:
        return False
    if stored == _canonical(expected):
        return True
    try:
        return bool(json.loads(stored) == expected)
    except ValueError:
        return False  # not JSON at all: certainly not the derived diff


def matches(summary: str | None, diff: str | None, action: str, before: Any, values: dict[str, Any]) -> bool:
    """Whether the stored ``summary`` and ``diff`` (JSON text) are what ``changes.derive`` gives."""
    expected = derive(action, before, values["request_body"], values["after"])
    return summary == expected.summary and _diff_is(diff, expected.diff)


def problem(seq: int, summary: str | None) -> str:
    if summary is None:
        return f"record #{seq} has no stored summary (it was never derived)"
    return f"the summary or diff stored with record #{seq} is not what its content gives"


class Rederivation:
    """The check of one walk (one range of records, in ``seq`` order)."""

    def __init__(self) -> None:
        self.attempts: dict[int, Attempt] = {}  # attempt id → the attempt, checked right
        self.waiting: list[Waiting] = []

    def check(self, row: ChainRow) -> str:
        """ "" when the row's derived columns are right, ``LATER`` when the attempt is needed first,
        else what is wrong. The row's hash was checked already."""
        meta = row.values
        if DERIVED_HASH in meta:  # hashed with the record (checked already): compared, not re-derived
            return "" if row.derived_matches() else problem(row.seq, row.summary)
        if meta["attempt_id"] is not None and row.is_null("before"):  # it starts from its attempt's
            return self._outcome(row)
        values = row.decoded()
        if not matches(row.summary, row.diff, meta["action"], values["before"], values):
            return problem(row.seq, row.summary)
        if meta["outcome"] == ATTEMPTED:
            if len(self.attempts) >= ATTEMPTS_KEPT:
                del self.attempts[next(iter(self.attempts))]
            self.attempts[row.id] = Attempt.of(row)
        return ""

    def _outcome(self, row: ChainRow) -> str:
        meta = row.values
        attempt = self.attempts.get(meta["attempt_id"])
        if attempt is None:
            return LATER
        if meta["outcome"] != UNKNOWN:  # the settling outcome: no other comes (one per attempt)
            del self.attempts[meta["attempt_id"]]
        texts = attempt.texts or {}
        if (
            row.summary is not None
            and row.summary == attempt.summary
            and row.diff == attempt.diff
            and meta["action"] == attempt.action
            and (attempt.action == MODIFY or row.same("after", texts.get("after"), attempt, "after"))
            and row.same("request_body", texts.get("request_body"), attempt, "request_body")
        ):
            return ""  # exactly the attempt's derivation, which was checked (a service's ignores "after")
        values = row.decoded()
        if not matches(row.summary, row.diff, meta["action"], attempt.value("before"), values):
            return problem(row.seq, row.summary)
        return ""

    def wait(self, waiting: Waiting) -> None:
        self.waiting.append(waiting)

    def resolve(self, until_seq: int | None, using: BaseDatabaseWrapper | None = None) -> Waiting | None:
        """The first waiting outcome (below ``until_seq``) whose derived columns are wrong, reading
        the attempts from the database; None when all are right or cannot be checked."""
        waiting = [item for item in self.waiting if until_seq is None or item.seq < until_seq]
        if not waiting:
            return None
        befores = read_befores(sorted({item.values["attempt_id"] for item in waiting}), using)
        for item in waiting:
            attempt_id = item.values["attempt_id"]
            if attempt_id not in befores:
                continue  # removed by retention: nothing to derive from
            if not matches(item.summary, item.diff, item.values["action"], befores[attempt_id], item.values):
                return item
        return None


def read_befores(ids: list[int], using: BaseDatabaseWrapper | None) -> dict[int, Any]:
    """The before-state of each of these records that exists, through the walk's own connection
    (a verifying process has one of its own: ``verification._verify_range``)."""
    db = using if using is not None else connections[DEFAULT_DB_ALIAS]
    found: dict[int, Any] = {}
    with db.cursor() as cursor:
        for offset in range(0, len(ids), 1000):
            chunk = ids[offset : offset + 1000]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT id, CAST(before AS TEXT) FROM audit_auditrecord WHERE id IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update(
                (int(pk), None if text is None else json.loads(text)) for pk, text in cursor.fetchall()
            )
    return found
