"""PostgreSQL: compress the audit log's JSON columns with LZ4 instead of pglz.

A record of a change of 200 port mappings holds some 30–40 kB of JSON, which PostgreSQL compresses
as it writes it; with pglz that was about a third of the record's INSERT (bench/page_profile.py, the
apply of 200 mappings). LZ4 writes it about twice as fast. Only values written from now on use it;
reading is unchanged. Skipped where the server cannot (before PostgreSQL 14, or built without LZ4),
and on other databases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, migrations, transaction

COLUMNS = ("before", "request_body", "after", "diff")


def _compress_with(method: str) -> Callable[[Any, Any], None]:
    def run(apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or connection.pg_version < 140000:
            return
        table = apps.get_model("audit", "AuditRecord")._meta.db_table
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                for column in COLUMNS:  # names of the model and of this file, never input
                    cursor.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION {method}')
        except DatabaseError:
            pass  # a server built without LZ4 keeps pglz

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0008_derive_summary_and_diff")]

    operations = [migrations.RunPython(_compress_with("lz4"), _compress_with("pglz"))]
