"""CSV and JSON exports of exactly the current filter, streamed with constant memory.

Guarantees: the export is a snapshot — it ends at the newest record that matched when it began
(named with its hash in the header), so records appended meanwhile do not slip in; records come
oldest first in keyset chunks of ``CHUNK`` (one indexed query each, nothing held but the chunk);
values are written as stored — secrets were masked before they were ever stored — with the time in
the chain's canonical form and the JSON columns as JSON, so that an auditor can recompute every
record's hash from the JSON export alone.

The CSV is meant to be opened in a spreadsheet, so no cell of it reads as a formula (OWASP "CSV
injection", ASVS 1.2.10): every text cell — and every value in a ``# …`` header line — that starts
with ``= + - @``, a tab, a carriage return or a NUL, or with blanks and then ``= + - @``, gets a
leading ``'``. Numbers (ids, ``seq``, ``http_status``, ``duration_ms``, ``attempt_id``,
``restored_from_id``) are written as they are: they are never text, so a ``-1`` there stays a
number. The JSON export keeps every value exactly; it is the one to recompute hashes from.

Both end each record with its ``source`` (``dashboard`` or ``outside``, ``Source.of`` its action):
derived, not stored, so not hashed — it is the filter "Source" of the list, spelled as its values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection
from django.db.models import F, Func, TextField
from django.db.models.functions import Cast
from django.http import StreamingHttpResponse

from vpcepadmin.audit.chainrows import CANONICAL_TIME, canonical_time
from vpcepadmin.audit.filters import AuditFilter
from vpcepadmin.audit.models import HASHED_JSON_COLUMNS as JSON_COLUMNS
from vpcepadmin.audit.models import Action, AuditRecord, Source

CSV, JSON = "csv", "json"
CHUNK = 2000
SCALARS = (
    "id", "seq", "created_at", "actor_id", "actor_username", "source_ip", "request_id", "credential_id",
    "credential_name", "cloud", "region", "project_id", "target_type", "target_id", "target_name", "action",
    "reason", "outcome", "http_status", "error_code", "error_message", "cloud_request_id", "duration_ms",
    "attempt_id", "restored_from_id",
)  # fmt: skip
HASHES = (
    "derived_hash",
    "prev_hash",
    "hash",
)  # derived_hash: hashed when not empty (``chain.hashed_values``)
DERIVED = ("source",)  # computed from the action as each row is written (``Source.of``)
COLUMNS = (*SCALARS, *JSON_COLUMNS, *HASHES, *DERIVED)
_ACTION_AT = SCALARS.index("action")
# One lookup per row: an action no longer known (none is removed, but an export must not fail) is
# the dashboard's, as ``Source.of`` says.
_SOURCES: dict[str, str] = {action: Source.of(action).value for action in Action.values}
MEDIA_TYPES = {CSV: "text/csv; charset=utf-8", JSON: "application/json"}

# A cell starting with one of these is a formula to a spreadsheet (OWASP; NUL from ASVS 1.2.10).
FORMULA_STARTS = frozenset("=+-@\t\r\0")
# Blanks a spreadsheet may skip before it looks for a formula: " =1+1" is one to some of them.
BLANKS = " \t\r\n"
_LOOK_CLOSER = FORMULA_STARTS | frozenset(BLANKS)
# Where a spreadsheet may start a new cell inside a header line: the comma, and the semicolon
# that spreadsheets in many locales split on instead.
_HEADER_CELL_BREAK = re.compile(r"([,;])")


def response(audit_filter: AuditFilter, kind: str) -> StreamingHttpResponse:
    records = audit_filter.apply(AuditRecord.objects.all())
    last = records.order_by("-seq").values_list("seq", "hash").first()
    exported_at = canonical_time(datetime.now(UTC))
    header: dict[str, Any] = {
        "filter": audit_filter.params(),
        "filter_text": audit_filter.describe(),
        "exported_at": exported_at,
        "last_record": {"seq": last[0], "hash": last[1]} if last else None,
    }
    body = (
        _csv(records, _filter_text(audit_filter), exported_at, last)
        if kind == CSV
        else _json(records, header, last)
    )
    streamed = StreamingHttpResponse(body, content_type=MEDIA_TYPES[kind])
    stamp = exported_at.replace(":", "").replace("-", "")[:15]
    streamed["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{kind}"'
    if last is not None:
        streamed["X-Audit-Last-Record"] = f"{last[0]} {last[1]}"
    return streamed


def _created_at_text() -> Any:
    """``created_at`` as the chain's canonical text, made by PostgreSQL (cheaper than a datetime);
    elsewhere the datetime, formatted in Python."""
    if connection.vendor != "postgresql":
        return F("created_at")
    template = f"to_char(%(expressions)s AT TIME ZONE 'UTC', '{CANONICAL_TIME}')"
    return Func(F("created_at"), template=template, output_field=TextField())


def _chunks(records: Any, last: tuple[int, str] | None) -> Iterator[list[tuple[Any, ...]]]:
    if last is None:
        return
    text = {f"{name}_text": Cast(name, TextField()) for name in JSON_COLUMNS}
    computed = {"created_at_text": _created_at_text(), **text}
    scalars = ["created_at_text" if name == "created_at" else name for name in SCALARS]
    fields = (*scalars, *text, *HASHES)
    cursor = 0
    while True:
        window = records.filter(seq__gt=cursor, seq__lte=last[0]).annotate(**computed).order_by("seq")
        chunk = list(window.values_list(*fields)[:CHUNK])
        if not chunk:
            return
        yield chunk
        cursor = chunk[-1][1]


def reads_as_formula(text: str) -> bool:
    """True when a spreadsheet would read ``text``, as a cell, as a formula.

    The common case (a first character that is neither a formula start nor a blank) costs one
    slice and one set lookup: this runs for every text cell of a million-record export.
    """
    return text[:1] in _LOOK_CLOSER and (
        text[0] in FORMULA_STARTS or text.lstrip(BLANKS)[:1] in FORMULA_STARTS
    )


def formula_safe(text: str) -> str:
    """``text``, or ``'`` + ``text`` when a spreadsheet would read it as a formula."""
    return "'" + text if reads_as_formula(text) else text


def header_value(text: str) -> str:
    """A ``# …`` header line's value that no spreadsheet reads a formula from.

    The line is not a quoted CSV field (it must start with ``#`` for ``comment="#"``), so a
    spreadsheet splits it wherever a comma or semicolon stands: every piece after one is made
    formula-safe, quotes that may open it included. Line breaks become spaces (a typed line break
    cannot start a row).
    """
    pieces = _HEADER_CELL_BREAK.split(" ".join(text.split()))
    for index in range(2, len(pieces), 2):
        if reads_as_formula(pieces[index].lstrip(' "')):
            pieces[index] = "'" + pieces[index]
    return "".join(pieces)


def _filter_text(audit_filter: AuditFilter) -> str:
    """The filter as ``describe()`` names it, each typed value formula-safe (``q='=cmd``)."""
    typed: dict[str, Any] = {
        item.name: formula_safe(value)
        for item in fields(audit_filter)
        if isinstance(value := getattr(audit_filter, item.name), str)
    }
    return replace(audit_filter, **typed).describe()


def _csv(records: Any, filter_text: str, exported_at: str, last: tuple[int, str] | None) -> Iterator[str]:
    stamp = f"#{last[0]} {last[1]}" if last else "none"
    yield (
        "# vpcepadmin audit export\r\n"
        f"# filter: {header_value(filter_text)}\r\n"
        f"# exported_at: {header_value(exported_at)}\r\n"
        f"# last_record: {header_value(stamp)}\r\n"
    )
    yield ",".join(COLUMNS) + "\r\n"
    sources, dashboard = _SOURCES, Source.DASHBOARD.value
    for chunk in _chunks(records, last):
        yield "".join(
            [
                ",".join([_csv_field(value) for value in row])
                + f",{sources.get(row[_ACTION_AT], dashboard)}\r\n"
                for row in chunk
            ]
        )


def _source(action: str) -> str:
    return _SOURCES.get(action, Source.DASHBOARD.value)


def _csv_field(value: Any) -> str:
    """One field as the csv module's minimal quoting writes it (several times faster here)."""
    if value is None:
        return ""
    if value.__class__ is int:
        return str(value)
    text: str = value if value.__class__ is str else canonical_time(value)  # nothing else is stored
    if text[:1] in _LOOK_CLOSER and reads_as_formula(text):  # the first test inline: no call per cell
        text = "'" + text
    if '"' in text:
        return '"' + text.replace('"', '""') + '"'
    if "," in text or "\n" in text or "\r" in text:
        return '"' + text + '"'
    return text


def _json(records: Any, header: dict[str, Any], last: tuple[int, str] | None) -> Iterator[str]:
    yield '{"export":' + json.dumps(header, ensure_ascii=False) + ',"records":['
    separator = "\n"
    scalars, json_at = len(SCALARS), len(SCALARS) + len(JSON_COLUMNS)
    for chunk in _chunks(records, last):
        parts = []
        for row in chunk:
            values = dict(zip(SCALARS, row[:scalars], strict=True))
            if not isinstance(values["created_at"], str):
                values["created_at"] = canonical_time(values["created_at"])
            values.update(zip(HASHES, row[json_at:], strict=True))
            values["source"] = _source(values["action"])
            embedded = "".join(
                f',"{name}":{text if text is not None else "null"}'
                for name, text in zip(JSON_COLUMNS, row[scalars:json_at], strict=True)
            )
            # orjson: the scalars are texts and integers of at most 64 bits, which it writes as exactly
            # (a third of the export's time with json.dumps); the JSON columns are embedded as stored.
            parts.append(separator + orjson.dumps(values).decode()[:-1] + embedded + "}")
            separator = ",\n"
        yield "".join(parts)
    yield "\n]}\n"
