"""Derive the summary and diff of the records written before migration 0007 (``audit.backfill``).

Not atomic: each batch is a transaction of its own (on PostgreSQL with the UPDATE trigger disabled
for that transaction only), so that a table of millions is neither locked nor held in one
transaction all along; interrupted, it carries on where it stopped when run again."""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def derive(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    from vpcepadmin.audit.backfill import fill_derived

    fill_derived(schema_editor.connection)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("audit", "0007_record_summary_and_diff")]

    operations = [migrations.RunPython(derive, migrations.RunPython.noop)]
