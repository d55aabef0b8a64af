"""Reading the chain for verification, fast: rows in ``seq`` order with the values that are hashed.

On PostgreSQL, ``COPY … TO STDOUT`` streams the rows with the JSON columns as text and the time
already in the canonical form, about three times cheaper than the ORM; other databases (the SQLite
demo) read through ``values()``. Either way a row is ``(id, seq, prev_hash, hash, values, summary,
diff)`` where ``values`` are exactly what ``chain.record_hash`` hashes, with ``created_at`` as its
canonical text, and ``summary`` and ``diff`` are the derived columns outside the hash as stored
(``diff`` as its JSON text, decoded only when it must be: ``loads``).

Hashing uses ``orjson`` when it is installed (several times faster than the standard library);
a hash that does not match is always recomputed with ``chain.record_hash``, the reference, before
anything is reported — so the accelerator can only ever save time, never change a verdict.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import TextField
from django.db.models.functions import Cast

from vpcepadmin.audit.chain import HASHED_FIELDS, record_hash
from vpcepadmin.audit.models import AuditRecord

Row = tuple[int, int, str, str, dict[str, Any], str | None, str | None]
CHUNK = 5000
INT_FIELDS = frozenset(
    {"seq", "actor_id", "credential_id", "http_status", "duration_ms", "attempt_id", "restored_from_id"}
)
JSON_FIELDS = frozenset({"before", "request_body", "after"})
CANONICAL_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


def _accelerator() -> Any:
    try:
        return importlib.import_module("orjson")
    except ImportError:
        return None


_ORJSON = _accelerator()


def loads(text: str) -> Any:
    """JSON text to values, with the accelerator when there is one."""
    if _ORJSON is None:
        return json.loads(text)
    try:
        return _ORJSON.loads(text)
    except _ORJSON.JSONDecodeError:  # e.g. an integer beyond 64 bits: the standard library copes
        return json.loads(text)


def quick_hash(prev_hash: str, values: dict[str, Any]) -> str:
    """``chain.record_hash`` computed with the accelerator when there is one (see the module doc)."""
    if _ORJSON is None:
        return record_hash(prev_hash, values)
    try:
        body = _ORJSON.dumps(values, option=_ORJSON.OPT_SORT_KEYS)
    except TypeError:
        return record_hash(prev_hash, values)
    digest = hashlib.sha256(bytes.fromhex(prev_hash))
    digest.update(body)
    return digest.hexdigest()


def hash_matches(prev_hash: str, values: dict[str, Any], stored: str) -> bool:
    """True when the record's stored hash is its hash; a miss is confirmed by the reference code."""
    return quick_hash(prev_hash, values) == stored or record_hash(prev_hash, values) == stored


def canonical_time(value: datetime) -> str:
    """The text ``chain.canonical_json`` makes of a time (hashing text instead of datetimes is the same)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_rows(
    after_seq: int, until_seq: int | None = None, using: BaseDatabaseWrapper | None = None
) -> Iterator[Row]:
    """The records with ``after_seq < seq <= until_seq`` (no upper bound when None), in order."""
    db = using or connections["default"]
    if db.vendor == "postgresql":
        yield from _copied_rows(db, after_seq, until_seq)
    else:
        yield from _orm_rows(db, after_seq, until_seq)


def _copied_rows(db: BaseDatabaseWrapper, after_seq: int, until_seq: int | None) -> Iterator[Row]:
    columns = ", ".join(
        f"to_char(created_at AT TIME ZONE 'UTC', '{CANONICAL_TIME}')" if name == "created_at" else name
        for name in HASHED_FIELDS
    )
    upper = "" if until_seq is None else " AND seq <= %s"
    select = (
        f"SELECT id, prev_hash, hash, summary, diff, {columns} FROM audit_auditrecord"  # noqa: S608
        f" WHERE seq > %s{upper} ORDER BY seq"
    )
    query = f"COPY ({select}) TO STDOUT"
    params = (after_seq,) if until_seq is None else (after_seq, until_seq)
    ints = [index for index, name in enumerate(HASHED_FIELDS) if name in INT_FIELDS]
    texts = [index for index, name in enumerate(HASHED_FIELDS) if name in JSON_FIELDS]
    with db.cursor() as cursor, cursor.copy(query, params) as copy:
        for raw in copy.rows():
            values = list(raw[5:])
            for index in ints:
                if values[index] is not None:
                    values[index] = int(values[index])
            for index in texts:
                if values[index] is not None:
                    values[index] = loads(values[index])
            record = dict(zip(HASHED_FIELDS, values, strict=True))
            yield int(raw[0]), record["seq"], raw[1], raw[2], record, raw[3], raw[4]


def _orm_rows(db: BaseDatabaseWrapper, after_seq: int, until_seq: int | None) -> Iterator[Row]:
    columns = ("id", "prev_hash", "hash", "summary", "diff_text", *HASHED_FIELDS)
    records = AuditRecord.objects.using(db.alias).filter(seq__gt=after_seq)
    if until_seq is not None:
        records = records.filter(seq__lte=until_seq)
    records = records.annotate(diff_text=Cast("diff", TextField()))
    for row in records.order_by("seq").values(*columns).iterator(chunk_size=CHUNK):
        values = {name: row[name] for name in HASHED_FIELDS}
        values["created_at"] = canonical_time(values["created_at"])
        yield row["id"], row["seq"], row["prev_hash"], row["hash"], values, row["summary"], row["diff_text"]
