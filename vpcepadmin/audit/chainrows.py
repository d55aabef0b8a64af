"""Reading the chain for verification, fast: rows in ``seq`` order with the values that are hashed.

A row is a ``ChainRow``: the record's id, seq, link and hash, its hashed ``values`` (exactly what
``chain.record_hash`` hashes, ``created_at`` as its canonical text) and its derived columns as
stored (``summary``, and ``diff`` as its JSON text).

On PostgreSQL the rows are streamed from one query with the time already in its canonical form
and the JSON columns as the text they are stored as — their canonical JSON
(``fields.CanonicalJSONField``), which is exactly their part of the hashed document. So the reader
proves a row's hash without decoding its JSON: it splices the texts into the canonical JSON of the
other values (``orjson.Fragment``) and hashes that (``proven``). When that document hashes to the
stored hash it *is* the hashed document — each text is a whole JSON value (PostgreSQL's ``json``
type accepts nothing else), so the record's values are those that were hashed. The JSON is decoded
only when it is needed (``ChainRow.decoded``: re-deriving, or a hash that did not match), with the
standard library, as the application decodes it; a hash that does not match is recomputed by
``chain.record_hash``, the reference, before anything is reported. So the fast path can only save
time, never change a verdict: a text that is not canonical (written before migration 0010 and not
rewritten yet) merely takes the reference's way.

Other databases (the SQLite demo) read through ``values()``, the JSON already decoded.

A record written since migration 0010 also hashes ``derived_hash``, the digest of its summary and
diff: ``ChainRow.derived_matches`` compares the stored ones with it (the same way: spliced text
first, the reference when that misses).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import TextField
from django.db.models.functions import Cast
from psycopg import capabilities

from vpcepadmin.audit.chain import DERIVED_HASH, HASHED_FIELDS, derived_hash, record_hash
from vpcepadmin.audit.models import HASHED_JSON_COLUMNS as JSON_FIELDS
from vpcepadmin.audit.models import AuditRecord

CHUNK = 2000  # rows per read through the ORM
STREAM_CHUNK = 500  # rows per chunk of PostgreSQL's stream
CANONICAL_TIME = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
_SORTED = orjson.OPT_SORT_KEYS


class ChainRow:
    """One record as ``verification.walk`` checks it. ``texts``: the JSON columns' stored texts
    (PostgreSQL), else None; ``proven``: the reader proved the hash from them."""

    __slots__ = (
        "diff",
        "hash",
        "id",
        "is_decoded",
        "prev_hash",
        "proven",
        "seq",
        "summary",
        "texts",
        "values",
    )

    def __init__(
        self,
        record_id: int,
        prev_hash: str,
        record_hash: str,
        values: dict[str, Any],
        summary: str | None,
        diff: str | None,
        texts: dict[str, str | None] | None = None,
    ) -> None:
        self.id, self.seq, self.prev_hash, self.hash = record_id, values["seq"], prev_hash, record_hash
        self.values, self.summary, self.diff, self.texts = values, summary, diff, texts
        self.proven, self.is_decoded = False, texts is None

    def decoded(self) -> dict[str, Any]:
        """The hashed values with the JSON columns decoded (as the application reads them: ``exact``)."""
        if not self.is_decoded and self.texts is not None:
            for name in JSON_FIELDS:
                text = self.texts[name]
                self.values[name] = None if text is None else exact(text)
            self.is_decoded = True
        return self.values

    def is_null(self, name: str) -> bool:
        """Whether JSON column ``name`` holds nothing (SQL NULL, or JSON null), without decoding it."""
        if self.texts is not None and not self.is_decoded:
            return self.texts[name] is None or self.texts[name] == "null"
        return self.values[name] is None

    def derived_matches(self) -> bool:
        """Whether the stored summary and diff are those the record's ``derived_hash`` (hashed with
        it) was made of. Only for a record that has one (``values``)."""
        digest = self.values[DERIVED_HASH]
        try:
            quick = orjson.dumps([self.summary, None if self.diff is None else orjson.Fragment(self.diff)])
            if hashlib.sha256(quick).hexdigest() == digest:
                return True
            return derived_hash(self.summary, None if self.diff is None else json.loads(self.diff)) == str(
                digest
            )
        except (TypeError, ValueError):  # a diff that is no JSON at all
            return False

    def same(self, name: str, text: str | None, other: Any, attribute: str) -> bool:
        """Whether JSON column ``name`` holds what ``other.value(attribute)`` gives, whose stored text
        is ``text`` (None when not known): the same text, else the same value."""
        if self.texts is not None and text is not None and self.texts[name] == text:
            return True
        return bool(self.decoded()[name] == other.value(attribute))


def exact(text: str) -> Any:
    """``json.loads(text)``, computed by orjson when that provably gives the same: when orjson's
    canonical JSON of its value is ``text`` itself. (Both encodings are faithful — a value's text
    decodes to it — so the value's text being ``text`` means it is ``json.loads(text)``. orjson reads
    some texts otherwise: an integer beyond 64 bits becomes a float; such a text never passes.) Any
    other text, canonical or not, is decoded by the standard library."""
    try:
        value = orjson.loads(text)
        if orjson.dumps(value, option=_SORTED) == text.encode():
            return value
    except (orjson.JSONDecodeError, TypeError):
        pass
    return json.loads(text)


def hash_matches(prev_hash: str, values: dict[str, Any], stored: str) -> bool:
    """Whether ``stored`` is the hash of ``values`` linked to ``prev_hash`` — by ``chain.record_hash``,
    the reference (``proven`` is the fast way)."""
    try:
        return record_hash(prev_hash, values) == stored
    except ValueError:  # a link that is not hexadecimal: no hash matches it
        return False


def proven(row: ChainRow) -> bool:
    """True when the row's document, its stored JSON texts spliced in, hashes to its stored hash.
    False says nothing: the reference decides (``hash_matches``)."""
    texts = row.texts
    if texts is None:
        return False
    document = row.values.copy()
    for name in JSON_FIELDS:
        text = texts[name]
        if text is not None:
            document[name] = orjson.Fragment(text)
    try:
        digest = hashlib.sha256(bytes.fromhex(row.prev_hash))
        digest.update(orjson.dumps(document, option=_SORTED))
    except (TypeError, ValueError):  # an integer beyond 64 bits, a link that is not hexadecimal
        return False
    return digest.hexdigest() == row.hash


def canonical_time(value: datetime) -> str:
    """The text ``chain.canonical_json`` makes of a time (hashing text instead of datetimes is the same)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_rows(
    after_seq: int, until_seq: int | None = None, using: BaseDatabaseWrapper | None = None
) -> Iterator[ChainRow]:
    """The records with ``after_seq < seq <= until_seq`` (no upper bound when None), in order."""
    db = using or connections["default"]
    if db.vendor == "postgresql":
        yield from _text_rows(db, after_seq, until_seq)
    else:
        yield from _orm_rows(db, after_seq, until_seq)


def _select(bounded: bool) -> str:
    columns = ", ".join(
        f"to_char(created_at AT TIME ZONE 'UTC', '{CANONICAL_TIME}')"
        if name == "created_at"
        else f"CAST({name} AS TEXT)"
        if name in JSON_FIELDS
        else name
        for name in HASHED_FIELDS
    )
    upper = " AND seq <= %s" if bounded else ""
    return (
        f"SELECT id, prev_hash, hash, summary, CAST(diff AS TEXT), derived_hash, {columns}"  # noqa: S608
        f" FROM audit_auditrecord WHERE seq > %s{upper} ORDER BY seq"
    )


def _text_rows(db: BaseDatabaseWrapper, after_seq: int, until_seq: int | None) -> Iterator[ChainRow]:
    params = (after_seq,) if until_seq is None else (after_seq, until_seq)
    json_at = [(HASHED_FIELDS.index(name), name) for name in JSON_FIELDS]
    # Streamed: the server reads on while the rows are checked. In chunks with libpq 17 or later
    # (psycopg's binary package brings its own), else one row at a time.
    size = STREAM_CHUNK if capabilities.has_stream_chunked() else 1
    with db.cursor() as cursor:
        for raw in cursor.cursor.stream(_select(until_seq is not None), params, size=size):
            hashed = raw[6:]
            values = dict(zip(HASHED_FIELDS, hashed, strict=True))
            if raw[5]:
                values[DERIVED_HASH] = raw[5]
            row = ChainRow(
                raw[0], raw[1], raw[2], values, raw[3], raw[4], {name: hashed[at] for at, name in json_at}
            )
            row.proven = proven(row)
            yield row


def _orm_rows(db: BaseDatabaseWrapper, after_seq: int, until_seq: int | None) -> Iterator[ChainRow]:
    columns = ("id", "prev_hash", "hash", "summary", "diff_text", DERIVED_HASH, *HASHED_FIELDS)
    records = AuditRecord.objects.using(db.alias).filter(seq__gt=after_seq)
    if until_seq is not None:
        records = records.filter(seq__lte=until_seq)
    records = records.annotate(diff_text=Cast("diff", TextField()))
    for row in records.order_by("seq").values(*columns).iterator(chunk_size=CHUNK):
        values = {name: row[name] for name in HASHED_FIELDS}
        values["created_at"] = canonical_time(values["created_at"])
        if row[DERIVED_HASH]:
            values[DERIVED_HASH] = row[DERIVED_HASH]
        yield ChainRow(row["id"], row["prev_hash"], row["hash"], values, row["summary"], row["diff_text"])
