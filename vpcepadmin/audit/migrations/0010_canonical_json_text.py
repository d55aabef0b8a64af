"""The audit log's JSON columns keep their canonical text (``audit.fields.CanonicalJSONField``),
and records from now on hash the digest of their derived columns (``derived_hash``; empty on the
records already written, whose hashes stay as they are).

On PostgreSQL the columns become ``json`` (the text as written) instead of ``jsonb``; then every
value not stored as its canonical text is rewritten (``audit.backfill.canonicalize``: batches, each
its own transaction, so not atomic; run again, it carries on). No hashed value changes. The columns
keep LZ4 compression (migration 0009), set again because changing their type rewrote them.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.db import migrations, models

from vpcepadmin.audit.fields import CanonicalJSONField


def canonicalize(apps: Any, schema_editor: Any) -> None:
    from vpcepadmin.audit.backfill import canonicalize

    canonicalize(schema_editor.connection)


def _compress(apps: Any, schema_editor: Any) -> None:
    earlier = importlib.import_module("vpcepadmin.audit.migrations.0009_lz4_json_columns")
    earlier._compress_with("lz4")(apps, schema_editor)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audit", "0009_lz4_json_columns")]

    operations = [
        migrations.AddField(
            model_name="auditrecord",
            name="derived_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        *(
            migrations.AlterField(
                model_name="auditrecord",
                name=name,
                field=CanonicalJSONField(
                    blank=True, null=True, **({"editable": False} if name == "diff" else {})
                ),
            )
            for name in ("after", "before", "diff", "request_body")
        ),
        migrations.RunPython(_compress, migrations.RunPython.noop),
        migrations.RunPython(canonicalize, migrations.RunPython.noop),
    ]
