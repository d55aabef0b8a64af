"""Audit review: verification runs, indexes for the service-name and time-range filters and, on
PostgreSQL, a trigram index for the free-text filter (names, reasons, error messages).

The trigram index needs the ``pg_trgm`` extension, which is "trusted" since PostgreSQL 13: the
owner of the database may create it. Its expression must stay identical to
``vpcepadmin.audit.filters.SEARCH_SQL`` (a test compares the two), or PostgreSQL will not use it.
"""

from __future__ import annotations

import django.utils.timezone
from django.apps.registry import Apps
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

SEARCH_SQL = (
    "(actor_username || chr(10) || credential_name || chr(10) || target_name || chr(10) || reason"
    " || chr(10) || error_code || chr(10) || error_message)"
)
INSTALL = f"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS audit_search_trgm ON audit_auditrecord USING gin ({SEARCH_SQL} gin_trgm_ops);
"""
REMOVE = "DROP INDEX IF EXISTS audit_search_trgm;"


def install(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_protect_on_postgresql")]

    operations = [
        migrations.CreateModel(
            name="VerificationRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("duration_ms", models.PositiveIntegerField(default=0)),
                ("ok", models.BooleanField()),
                ("start_seq", models.BigIntegerField(default=0)),
                ("checked", models.BigIntegerField(default=0)),
                ("last_seq", models.BigIntegerField(default=0)),
                ("last_hash", models.CharField(blank=True, max_length=64)),
                ("break_kind", models.CharField(blank=True, max_length=16)),
                ("break_seq", models.BigIntegerField(blank=True, null=True)),
                ("detail", models.TextField(blank=True)),
                ("anchors_checked", models.PositiveIntegerField(blank=True, null=True)),
            ],
            options={"ordering": ["-id"]},
        ),
        migrations.AddIndex(
            model_name="auditrecord",
            index=models.Index(fields=["target_name", "-seq"], name="audit_target_name_seq"),
        ),
        migrations.AddIndex(
            model_name="auditrecord",
            index=models.Index(fields=["created_at", "seq"], name="audit_created_seq"),
        ),
        migrations.RunPython(install, remove),
    ]
