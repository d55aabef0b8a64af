"""On PostgreSQL, a trigger refuses UPDATE, DELETE and TRUNCATE of audit records.

The trigger stops accidents by the table's owner; the real barrier is that the application's
runtime role gets only SELECT and INSERT on the table (README, "Deployment"). Two narrow doors stay
open on purpose, each set per session by our own code only: ``vpcepadmin.allow_prune`` lets the
retention command delete the oldest records (and records that it did), and
``vpcepadmin.allow_truncate`` lets a test database be flushed between tests.
"""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

INSTALL = """
CREATE OR REPLACE FUNCTION audit_record_is_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('vpcepadmin.allow_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'TRUNCATE' AND current_setting('vpcepadmin.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit records are immutable: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_record_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_auditrecord
    FOR EACH ROW EXECUTE FUNCTION audit_record_is_immutable();
CREATE TRIGGER audit_record_no_truncate
    BEFORE TRUNCATE ON audit_auditrecord
    FOR EACH STATEMENT EXECUTE FUNCTION audit_record_is_immutable();
"""

REMOVE = """
DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_auditrecord;
DROP TRIGGER IF EXISTS audit_record_no_update_delete ON audit_auditrecord;
DROP FUNCTION IF EXISTS audit_record_is_immutable();
"""


def install(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def remove(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REMOVE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
