"""Storing what records written by an earlier release lack: the derived columns (summary and diff),
and the canonical text of the JSON columns (``fields.CanonicalJSONField``).

Records are immutable, so these are the only UPDATEs of audit records the application ever makes:
they run from migrations (0008 and 0010, and again from any migration that changes the derivation),
as the database owner, and change no hashed value — the derived columns are outside the hash, and
a canonical text is the same value written as the hash reads it — so the chain is untouched.
On PostgreSQL the trigger that refuses UPDATE (migration 0002) is disabled for each batch's own
transaction only: other sessions never see the table without it (DDL is transactional there), and
a failure leaves it in place. Batches of ``BATCH`` records keep the memory and each lock short on a
table of millions; appends wait at most one batch. Records appended meanwhile by processes that
still run the previous release (they leave the columns empty) are picked up by the last sweep.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from vpcepadmin.audit.chain import canonical_json
from vpcepadmin.audit.changes import derive
from vpcepadmin.audit.fields import CanonicalJSONField
from vpcepadmin.audit.models import JSON_COLUMNS
from vpcepadmin.audit.rederive import read_befores

BATCH = 2000
TRIGGER = "audit_record_no_update_delete"
COLUMNS = "id, action, CAST(before AS TEXT), CAST(request_body AS TEXT), CAST(after AS TEXT), attempt_id"
NEXT = f"SELECT {COLUMNS} FROM audit_auditrecord WHERE id > %s AND diff IS NULL ORDER BY id LIMIT %s"  # noqa: S608
LEFT = f"SELECT {COLUMNS} FROM audit_auditrecord WHERE diff IS NULL ORDER BY id LIMIT %s"  # noqa: S608
UPDATE = "UPDATE audit_auditrecord SET summary = %s, diff = %s WHERE id = %s"
TEXTS = ", ".join(f"CAST({name} AS TEXT)" for name in JSON_COLUMNS)
TEXTS_AFTER = f"SELECT id, {TEXTS} FROM audit_auditrecord WHERE id > %s ORDER BY id LIMIT %s"  # noqa: S608


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
            (pk, action, *(None if text is None else json.loads(text) for text in texts), attempt_id)
            for pk, action, *texts, attempt_id in cursor.fetchall()
        ]


def _store(db: BaseDatabaseWrapper, rows: list[tuple[Any, ...]]) -> int:
    wanted = sorted({row[5] for row in rows if row[2] is None and row[5] is not None})
    befores = read_befores(wanted, db) if wanted else {}
    field = CanonicalJSONField()
    updates = []
    for pk, action, before, request_body, after, attempt_id in rows:
        if before is None and attempt_id is not None:
            before = befores.get(attempt_id)  # as ``changes.state_before``: None when it is gone
        derived = derive(action, before, request_body, after)
        updates.append((derived.summary, field.get_db_prep_save(derived.diff, db), pk))
    return _update(db, UPDATE, updates)


def canonicalize(db: BaseDatabaseWrapper, batch: int = BATCH) -> int:
    """Rewrite every JSON value not stored as its canonical text (written before migration 0010:
    as ``JSONField`` encoded it, or as PostgreSQL printed its ``jsonb``); how many records changed."""
    cast = "CAST(%s AS json)" if db.vendor == "postgresql" else "%s"
    sql = "UPDATE audit_auditrecord SET " + ", ".join(f"{name} = {cast}" for name in JSON_COLUMNS)  # noqa: S608
    sql += " WHERE id = %s"
    rewritten, after_id = 0, 0
    while True:
        with db.cursor() as cursor:
            cursor.execute(TEXTS_AFTER, [after_id, batch])
            rows = cursor.fetchall()
        if not rows:
            return rewritten
        updates = []
        for pk, *texts in rows:
            canonical = [None if text is None else canonical_json(json.loads(text)) for text in texts]
            if canonical != texts:
                updates.append((*canonical, pk))
        if updates:
            rewritten += _update(db, sql, updates)
        after_id = rows[-1][0]


def _update(db: BaseDatabaseWrapper, sql: str, updates: list[tuple[Any, ...]]) -> int:
    """Run ``sql`` with each of ``updates`` in one transaction, the UPDATE trigger off for it alone."""
    trigger = db.vendor == "postgresql" and _has_trigger(db)
    with transaction.atomic(using=db.alias), db.cursor() as cursor:
        if trigger:
            cursor.execute(f"ALTER TABLE audit_auditrecord DISABLE TRIGGER {TRIGGER}")
        cursor.executemany(sql, updates)
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
