"""Storing the derived columns (summary and diff) of records written without them.

Records are immutable, so this is the one UPDATE of audit records the application ever makes: it
runs from a migration (0008, and again from any migration that changes the derivation), as the
database owner, and sets nothing but the two columns outside the hash — the chain is untouched.
On PostgreSQL the trigger that refuses UPDATE (migration 0002) is disabled for each batch's own
transaction only: other sessions never see the table without it (DDL is transactional there), and
a failure leaves it in place. Batches of ``BATCH`` records keep the memory and each lock short on a
table of millions; appends wait at most one batch. Records appended meanwhile by processes that
still run the previous release (they leave the columns empty) are picked up by the last sweep.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import JSONField

from vpcepadmin.audit.chainrows import loads
from vpcepadmin.audit.changes import derive
from vpcepadmin.audit.rederive import read_befores

BATCH = 2000
TRIGGER = "audit_record_no_update_delete"
COLUMNS = "id, action, CAST(before AS TEXT), CAST(request_body AS TEXT), CAST(after AS TEXT), attempt_id"
NEXT = f"SELECT {COLUMNS} FROM audit_auditrecord WHERE id > %s AND diff IS NULL ORDER BY id LIMIT %s"  # noqa: S608
LEFT = f"SELECT {COLUMNS} FROM audit_auditrecord WHERE diff IS NULL ORDER BY id LIMIT %s"  # noqa: S608
UPDATE = "UPDATE audit_auditrecord SET summary = %s, diff = %s WHERE id = %s"


def fill_derived(db: BaseDatabaseWrapper, batch: int = BATCH) -> int:
    """Derive and store the summary and diff of every record without them; how many were filled."""
    filled, after_id = 0, 0
    while True:  # in id order, once over the table
        rows = _read(db, NEXT, [after_id, batch])
        if not rows:
            break
        filled += _store(db, rows)
        after_id = rows[-1][0]
    while True:  # then whatever is still empty (an id handed out earlier but committed later)
        rows = _read(db, LEFT, [batch])
        if not rows:
            return filled
        filled += _store(db, rows)


def _read(db: BaseDatabaseWrapper, sql: str, params: list[int]) -> list[tuple[Any, ...]]:
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            (pk, action, *(None if text is None else loads(text) for text in texts), attempt_id)
            for pk, action, *texts, attempt_id in cursor.fetchall()
        ]


def _store(db: BaseDatabaseWrapper, rows: list[tuple[Any, ...]]) -> int:
    wanted = sorted({row[5] for row in rows if row[2] is None and row[5] is not None})
    befores = read_befores(wanted, db) if wanted else {}
    field = JSONField()
    updates = []
    for pk, action, before, request_body, after, attempt_id in rows:
        if before is None and attempt_id is not None:
            before = befores.get(attempt_id)  # as ``changes.state_before``: None when it is gone
        derived = derive(action, before, request_body, after)
        updates.append((derived.summary, field.get_db_prep_save(derived.diff, db), pk))
    trigger = db.vendor == "postgresql" and _has_trigger(db)
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        if trigger:
            cursor.execute(f"ALTER TABLE audit_auditrecord DISABLE TRIGGER {TRIGGER}")
        cursor.executemany(UPDATE, updates)
        if trigger:
            cursor.execute(f"ALTER TABLE audit_auditrecord ENABLE TRIGGER {TRIGGER}")
    return len(updates)


def _has_trigger(db: BaseDatabaseWrapper) -> bool:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = 'audit_auditrecord'::regclass",
            [TRIGGER],
        )
        return cursor.fetchone() is not None
