"""``CanonicalJSONField``: a JSON column that keeps the exact text the hash chain hashes.

An audit record's JSON values are stored as their canonical JSON (``chain.canonical_json``: sorted
keys, no whitespace) — the very text that makes up their part of the record's hashed document. On
PostgreSQL the column is ``json``, which keeps its text as written, instead of ``jsonb``, which
keeps a parsed form and prints it again on every read. So ``verify_audit`` reads the text as it is
and hashes it without decoding and encoding it again (``chainrows``), and PostgreSQL does not print
some 2 kB of JSON per record (about three times its cost of reading the table). Other databases
(the SQLite demo) store JSON as text anyway; there, too, the text is the canonical one.

Reading is unchanged: a value comes back decoded, as from ``JSONField``. Nothing queries inside
these columns (``json`` has no equality or containment operators; the pages filter on other columns).
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.json import Json

from vpcepadmin.audit.chain import canonical_json

TEXTS = "_canonical_texts"  # on a model instance: field name → (value, its canonical JSON), made already


class _Encoded:
    """A value's canonical JSON, made before the save (``recorder.append`` hashes the same text)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _as_is(text: str) -> str:
    return text


class CanonicalJSONField(models.JSONField):
    description = "JSON stored as its canonical text"

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        """The value, or its canonical JSON when the instance carries it for this very value."""
        value = super().pre_save(model_instance, add)
        made = getattr(model_instance, TEXTS, {}).get(self.attname)
        return _Encoded(made[1]) if made is not None and made[0] is value else value

    def get_db_prep_value(self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False) -> Any:
        if isinstance(value, _Encoded):
            return Json(value.text, dumps=_as_is) if connection.vendor == "postgresql" else value.text
        if not prepared:
            value = self.get_prep_value(value)
        if connection.vendor == "postgresql":
            return Json(value, dumps=canonical_json)
        return canonical_json(value)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        if value is None or not isinstance(value, str | bytes):  # the driver decoded ``json`` already
            return value
        return super().from_db_value(value, expression, connection)
