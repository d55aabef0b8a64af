"""On a real PostgreSQL database of its own (whatever database the suite runs on — these checks
need PostgreSQL and fail, never skip, without it): raw SQL cannot UPDATE, DELETE or TRUNCATE a
record; pruning opens the trigger's door for its own statement only; several processes verify the
chain; the free-text filter uses the trigram index; the JSON columns are written with LZ4."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.auditkit import ANCHOR_KEY

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
NAME = "vpcepadmin_audit_review_check"
URL = f"postgres://postgres@127.0.0.1:5432/{NAME}"

SCRIPT = """
from datetime import timedelta
from unittest import mock
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from vpcepadmin.audit import verification
from vpcepadmin.audit.recorder import Entry, append

def entry(reason):
    return Entry(action="update_credential", target_type="credential", outcome="recorded", reason=reason)

with mock.patch("django.utils.timezone.now", return_value=timezone.now() - timedelta(days=400)):
    for index in range(5):
        append(entry(f"old {index}"))
for index in range(40):
    append(entry(f"new {index}"))
with transaction.atomic():
    call_command("prune_audit")
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditrecord")
    except DatabaseError as error:
        print("delete after pruning, same transaction:", type(error).__name__, error)
verification.PARALLEL_MIN = 10
start = verification.chain_start()
report = verification.verify_chain(start.seq, start.hash, workers=2)
print("parallel:", report.ok, report.checked, report.last_seq)
"""


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {NAME}")
    var = tmp_path_factory.mktemp("pg-var")
    env = {
        **os.environ,
        "DATABASE_URL": URL,
        "VPCEPADMIN_VAR_DIR": str(var),
        "VPCEPADMIN_AUDIT_ANCHOR_KEY": ANCHOR_KEY,
        "VPCEPADMIN_AUDIT_ANCHOR_FILE": str(var / "anchors.jsonl"),
        "VPCEPADMIN_AUDIT_RETENTION_DAYS": "30",
    }
    try:
        migrated = _run([sys.executable, "manage.py", "migrate", "--no-input"], env)
        assert migrated.returncode == 0, migrated.stderr
        scripted = _run([sys.executable, "manage.py", "shell", "-c", textwrap.dedent(SCRIPT)], env)
        assert scripted.returncode == 0, scripted.stderr
        env["SCRIPT_OUTPUT"] = scripted.stdout
        yield env
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")


def test_raw_sql_cannot_update_delete_or_truncate_a_record(pg) -> None:
    with psycopg.connect(URL, autocommit=True) as conn:
        count = conn.execute("SELECT count(*) FROM audit_auditrecord").fetchone()
        for statement in (
            "UPDATE audit_auditrecord SET reason = 'x'",
            "DELETE FROM audit_auditrecord",
            "TRUNCATE audit_auditrecord",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit_auditrecord").fetchone() == count


def test_pruning_opens_the_door_for_its_own_delete_only(pg) -> None:
    output = pg["SCRIPT_OUTPUT"]
    assert "delete after pruning, same transaction: ProgrammingError audit records are immutable" in output
    with psycopg.connect(URL) as conn:
        reasons = [row[0] for row in conn.execute("SELECT reason FROM audit_auditrecord ORDER BY seq")]
    assert reasons[0] == "new 0" and len(reasons) == 41  # 5 old ones gone, the pruning recorded
    verified = _run(
        [sys.executable, "manage.py", "verify_audit", "--anchors", pg["VPCEPADMIN_AUDIT_ANCHOR_FILE"]], pg
    )
    assert verified.returncode == 0, verified.stderr
    assert "Audit chain verified: 41 records, last #46" in verified.stdout
    assert "Anchors verified: 2 anchors" in verified.stdout


def test_several_processes_verify_the_chain(pg) -> None:
    assert "parallel: True 41 46" in pg["SCRIPT_OUTPUT"]


def test_the_free_text_filter_uses_the_trigram_index(pg) -> None:
    code = textwrap.dedent("""
        from django.db import connection
        from vpcepadmin.audit.filters import AuditFilter
        from vpcepadmin.audit.models import AuditRecord
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
        print(AuditFilter(q="new 3").apply(AuditRecord.objects.order_by("-seq")).explain())
    """)
    explained = _run([sys.executable, "manage.py", "shell", "-c", code], pg)
    assert explained.returncode == 0, explained.stderr
    assert "audit_search_trgm" in explained.stdout


def test_the_json_columns_are_written_with_lz4(pg) -> None:
    """Migration 0009: LZ4 writes a record of 200 port mappings about twice as fast as pglz."""
    with psycopg.connect(URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = 'audit_auditrecord'::regclass "
            "AND attname IN ('before', 'request_body', 'after', 'diff')"
        ).fetchall()
    assert dict(rows) == {"before": "l", "request_body": "l", "after": "l", "diff": "l"}


def test_actor_and_service_name_match_anywhere_through_their_trigram_indexes(pg) -> None:
    """Issue 15: "orders" finds "orders-api", "adm" finds "admin"; a service id still matches exactly;
    keyset pages still walk down ``seq``; on PostgreSQL through the trigram indexes of migration 0016."""
    code = textwrap.dedent("""
        from django.db import connection
        from vpcepadmin.audit.filters import AuditFilter
        from vpcepadmin.audit.models import AuditRecord
        from vpcepadmin.audit.recorder import Context, Entry, append

        ID = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
        for index in range(5):
            append(Entry(action="modify_endpoint_service", target_type="endpoint_service", outcome="applied",
                         target_id=ID, target_name="orders-api", reason=f"pg {index}",
                         context=Context(actor_name="admin")))
        records = AuditRecord.objects.order_by("-seq")
        orders = AuditFilter(service="orders").apply(records)
        mine = list(orders.values_list("seq", flat=True))
        print("orders:", len(mine), set(orders.values_list("target_name", flat=True)))
        print("adm:", AuditFilter(actor="adm", service="ORD").apply(records).count())
        print("id:", AuditFilter(service=ID).apply(records).count())
        older = AuditFilter(service="rders").apply(records).filter(seq__lt=mine[1])[:2]  # a keyset page
        print("page:", list(older.values_list("seq", flat=True)) == mine[2:4])
        with connection.cursor() as cursor:  # a few rows: the planner would rather read them all
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_indexscan = off")
            cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'audit_%%_trgm' ORDER BY 1")
            print("indexes:", [row[0] for row in cursor.fetchall()])
        print(AuditFilter(actor="adm").apply(AuditRecord.objects.order_by("-seq")).explain())
    """)  # fmt: skip
    shown = _run([sys.executable, "manage.py", "shell", "-c", code], pg)
    assert shown.returncode == 0, shown.stderr
    assert "orders: 5 {'orders-api'}" in shown.stdout
    assert "adm: 5" in shown.stdout and "id: 5" in shown.stdout and "page: True" in shown.stdout
    assert "indexes: ['audit_actor_trgm', 'audit_search_trgm', 'audit_target_name_trgm']" in shown.stdout
    # With a few rows the planner would rather read them all; the index serves the ILIKE.
    assert "Bitmap Index Scan on audit_actor_trgm" in shown.stdout
