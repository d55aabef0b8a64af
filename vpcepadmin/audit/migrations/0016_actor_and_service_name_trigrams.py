"""Trigram indexes for the actor and service-name filters, which match anywhere in the value
("adm" finds "admin"): ``ILIKE '%adm%'`` on PostgreSQL (``vpcepadmin.audit.filters._contains``).

PostgreSQL only (``pg_trgm`` is installed by 0003); SQLite has no such index and is left alone.
Built ``CONCURRENTLY`` so that appending records goes on meanwhile on a large log, hence not atomic.
The (column, seq) b-tree indexes stay: they order a service id's and the other filters' pages.
"""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

INDEXES = {"audit_actor_trgm": "actor_username", "audit_target_name_trgm": "target_name"}


def install(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON audit_auditrecord USING gin ({column} gin_trgm_ops)",
            params=None,
        )


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}", params=None)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("audit", "0015_policy_actions")]

    operations = [migrations.RunPython(install, remove)]
