"""Checking the derived columns while the chain is walked: is each record's stored summary and diff
what its content gives (``changes.derive``)?

The summary and the diff are outside the hash (they were added to records already chained), so
nothing but re-deriving them can tell that somebody changed them. Re-deriving costs more than
hashing (a diff of 200 port mappings reads both lists), so the work is done once per change:

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

from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from vpcepadmin.audit.chainrows import loads
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


def _stored_diff(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return loads(text)
    except ValueError:
        return text  # not JSON at all: certainly not the derived diff


def matches(summary: str | None, diff: str | None, action: str, before: Any, values: dict[str, Any]) -> bool:
    """Whether the stored ``summary`` and ``diff`` (JSON text) are what ``changes.derive`` gives."""
    expected = derive(action, before, values["request_body"], values["after"])
    return summary == expected.summary and _stored_diff(diff) == expected.diff


def problem(seq: int, summary: str | None) -> str:
    if summary is None:
        return f"record #{seq} has no stored summary (it was never derived)"
    return f"the summary or diff stored with record #{seq} is not what its content gives"


class Rederivation:
    """The check of one walk (one range of records, in ``seq`` order)."""

    def __init__(self) -> None:
        # attempt id → (action, before, request body, after, stored summary, stored diff), checked right
        self.attempts: dict[int, tuple[str, Any, Any, Any, str | None, str | None]] = {}
        self.waiting: list[Waiting] = []

    def check(self, record_id: int, values: dict[str, Any], summary: str | None, diff: str | None) -> str:
        """ "" when the derived columns are right, ``LATER`` when the attempt is needed first, else
        what is wrong. ``values`` are the record's hashed values (already checked)."""
        action, before = values["action"], values["before"]
        if before is None and values["attempt_id"] is not None:  # its change starts from its attempt's
            return self._outcome(values, summary, diff)
        if not matches(summary, diff, action, before, values):
            return problem(values["seq"], summary)
        if values["outcome"] == ATTEMPTED:
            if len(self.attempts) >= ATTEMPTS_KEPT:
                del self.attempts[next(iter(self.attempts))]
            self.attempts[record_id] = (
                action,
                before,
                values["request_body"],
                values["after"],
                summary,
                diff,
            )
        return ""

    def _outcome(self, values: dict[str, Any], summary: str | None, diff: str | None) -> str:
        attempt_id = values["attempt_id"]
        attempt = self.attempts.get(attempt_id)
        if attempt is None:
            return LATER
        if values["outcome"] != UNKNOWN:  # the settling outcome: no other comes (one per attempt)
            del self.attempts[attempt_id]
        action, before, body, after, attempt_summary, attempt_diff = attempt
        if (
            summary is not None
            and summary == attempt_summary
            and diff == attempt_diff
            and values["action"] == action
            and (action == MODIFY or values["after"] == after)  # a service's diff ignores "after"
            and values["request_body"] == body
        ):
            return ""  # exactly the attempt's derivation, which was checked
        if not matches(summary, diff, values["action"], before, values):
            return problem(values["seq"], summary)
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
            found.update((int(pk), None if text is None else loads(text)) for pk, text in cursor.fetchall())
    return found
