"""The audit log keeps its JSON as the canonical text the chain hashes (migration 0010), and
``verify_audit`` hashes that text as stored — only ever saving time, never changing a verdict.

The PostgreSQL checks run on a database of their own (whatever database the suite runs on: they
need PostgreSQL and fail, never skip, without it): records written while the columns were
``jsonb`` (migration 0009) are rewritten by the migration and verify; every record then stores
canonical text and is proven by the fast path; a text reformatted to the same value still
verifies (the reference decides it); a value changed inside the JSON is a content break, and a
changed stored diff a derived break. The SQLite checks below cover ``backfill.canonicalize``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.auditkit import tamper
from vpcepadmin.audit import verification
from vpcepadmin.audit.backfill import canonicalize
from vpcepadmin.audit.chain import canonical_document, canonical_json, record_hash
from vpcepadmin.audit.chainrows import chain_rows
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.audit.recorder import Entry, append

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
NAME = "vpcepadmin_audit_json_text_check"
URL = f"postgres://postgres@127.0.0.1:5432/{NAME}"
PORTS = [{"client_port": port, "server_port": port + 1000, "protocol": "TCP"} for port in range(1, 201)]

# Records as the release before migration 0010 wrote them: JSON in jsonb, hashed without a digest
# of the derived columns (the model of this release has a column that table lacks: raw SQL).
WRITE = """
import json
from datetime import UTC, datetime, timedelta
from django.db import connection
from vpcepadmin.audit.chain import GENESIS_HASH, HASHED_FIELDS, record_hash
from vpcepadmin.audit.changes import derive

snapshot = {"id": "svc-1", "service_name": "alpha", "ports": PORTS, "description": "Grüße \\"quoted\\"\\n",
            "tenant": {"nested": [1, -2, 3.5, None, True]}}
JSON = ("before", "request_body", "after", "diff")
texts = ("actor_username", "request_id", "credential_name", "cloud", "region", "project_id", "target_name",
         "reason", "error_code", "error_message", "cloud_request_id")
prev, seq, start = GENESIS_HASH, 0, datetime(2026, 1, 1, tzinfo=UTC)
with connection.cursor() as cursor:
    for index in range(6):
        body = {"ports": PORTS[: 200 - index]}
        for outcome in ("attempted", "applied"):
            seq += 1
            values = dict.fromkeys(HASHED_FIELDS) | dict.fromkeys(texts, "") | {
                "seq": seq, "created_at": start + timedelta(seconds=seq), "target_type": "endpoint_service",
                "target_id": "svc-1", "action": "modify_endpoint_service", "reason": f"change {index}",
                "outcome": outcome, "request_body": body,
            }
            if outcome == "attempted":
                values["before"] = snapshot
            else:
                values["after"], values["attempt_id"] = {**snapshot, **body}, seq - 1
            digest = record_hash(prev, values)
            derived = derive(values["action"], snapshot, body, values["after"])
            row = {**values, "id": seq, "prev_hash": prev, "hash": digest, "summary": derived.summary,
                   "diff": derived.diff}
            for name in ("before", "request_body", "after", "diff"):
                row[name] = None if row[name] is None else json.dumps(row[name])
            names = ", ".join(row)
            marks = ", ".join("%s::jsonb" if name in JSON else "%s" for name in row)
            cursor.execute(f"INSERT INTO audit_auditrecord ({names}) VALUES ({marks})", list(row.values()))
            prev = digest
    cursor.execute("INSERT INTO audit_auditchainhead (id, seq, hash) VALUES (1, %s, %s)", [seq, prev])
print("written")
""".replace("PORTS", repr(PORTS))

INSPECT = """
import json
from django.db import connection
from vpcepadmin.audit import verification
from vpcepadmin.audit.chain import canonical_document, canonical_json, record_hash
from vpcepadmin.audit.chainrows import chain_rows

with connection.cursor() as cursor:
    cursor.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
                   "'audit_auditrecord'::regclass AND attname IN ('before', 'request_body', 'after', 'diff')")
    print("types:", sorted(cursor.fetchall()))
    cursor.execute("SELECT before::text, request_body::text, after::text, diff::text FROM audit_auditrecord")
    texts = [text for row in cursor.fetchall() for text in row if text is not None]
print("canonical:", all(canonical_json(json.loads(text)) == text for text in texts), len(texts))
rows = list(chain_rows(0))
print("proven:", sum(row.proven for row in rows), "of", len(rows))
report = verification.verify_chain()
print("verified:", report.ok, report.checked, report.first_break and (report.first_break.kind, report.first_break.seq))
"""


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=300)


def _shell(code: str, env: dict[str, str]) -> str:
    done = _run([sys.executable, "manage.py", "shell", "-c", textwrap.dedent(code)], env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _sql(statement: str) -> None:
    """As the table's owner with the triggers off: what an attacker with the database would do."""
    with psycopg.connect(URL) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement)


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {NAME}")
    env = {**os.environ, "DATABASE_URL": URL, "VPCEPADMIN_VAR_DIR": str(tmp_path_factory.mktemp("pg-var"))}
    try:
        for target in (["audit", "0009"], []):  # first the jsonb era, written to; then migration 0010
            migrated = _run([sys.executable, "manage.py", "migrate", "--no-input", *target], env)
            assert migrated.returncode == 0, migrated.stderr
            if target:
                assert "written" in _shell(WRITE, env)
                with psycopg.connect(URL) as conn:
                    row = conn.execute(
                        "SELECT request_body::text FROM audit_auditrecord WHERE seq = 1"
                    ).fetchone()
                env["JSONB_TEXT"] = row[0] if row else ""
        env["AFTER_MIGRATION"] = _shell(INSPECT, env)
        yield env
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {NAME} WITH (FORCE)")


def test_records_of_the_jsonb_era_are_rewritten_canonical_and_verify(pg) -> None:
    assert pg["JSONB_TEXT"].startswith('{"ports": [{"protocol": "TCP"')  # jsonb's own printing before
    output = pg["AFTER_MIGRATION"]
    assert (
        "types: [('after', 'json'), ('before', 'json'), ('diff', 'json'), ('request_body', 'json')]" in output
    )
    assert (
        "canonical: True 36" in output
    )  # 6 attempts × (before, body, diff), 6 outcomes × (body, after, diff)
    assert "proven: 12 of 12" in output
    assert "verified: True 12 None" in output


@contextmanager
def _changed(seq: int, column: str, expression: str) -> Iterator[None]:
    """Record ``seq``'s ``column`` set to ``expression`` (SQL) for the block, then put back."""
    with psycopg.connect(URL) as conn:
        row = conn.execute(f"SELECT {column}::text FROM audit_auditrecord WHERE seq = %s", [seq]).fetchone()
    assert row is not None
    _sql(f"UPDATE audit_auditrecord SET {column} = {expression} WHERE seq = {seq}")
    try:
        yield
    finally:
        with psycopg.connect(URL) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute(f"UPDATE audit_auditrecord SET {column} = %s::json WHERE seq = %s", [row[0], seq])


def test_a_value_changed_inside_the_json_is_a_content_break(pg) -> None:
    changed = "jsonb_set(request_body::jsonb, '{ports,0,server_port}', '9')::json"
    with _changed(5, "request_body", changed):
        assert "verified: False 4 ('content', 5)" in _shell(INSPECT, pg)
    with _changed(5, "request_body", "NULL"):
        assert "verified: False 4 ('content', 5)" in _shell(INSPECT, pg)
    assert "verified: True 12 None" in _shell(INSPECT, pg)


def test_a_text_reformatted_to_the_same_value_still_verifies(pg) -> None:
    with _changed(3, "request_body", "request_body::jsonb::json"):
        output = _shell(INSPECT, pg)
    assert "canonical: False" in output
    assert "proven: 11 of 12" in output  # record 3 is decided by the reference
    assert "verified: True 12 None" in output


def test_a_changed_stored_diff_is_a_derived_break(pg) -> None:
    with _changed(7, "diff", "'[]'"):
        assert "verified: False 6 ('derived', 7)" in _shell(INSPECT, pg)
    with _changed(7, "diff", "diff::jsonb::json"):  # the same diff, printed otherwise
        assert "verified: True 12 None" in _shell(INSPECT, pg)


# -- SQLite (and the suite's own database): backfill.canonicalize ---------------------------------


def _texts() -> list[str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CAST(before AS TEXT), CAST(request_body AS TEXT) FROM audit_auditrecord ORDER BY seq"
        )
        return [text for row in cursor.fetchall() for text in row]


def test_new_records_store_canonical_text(db) -> None:
    before = {"b": 1, "a": ["é", 'say "hi"\n']}
    append(Entry(action="update_credential", target_type="credential", outcome="recorded", before=before))
    assert _texts() == ['{"a":["é","say \\"hi\\"\\n"],"b":1}', None]


def test_canonicalize_rewrites_what_is_not_canonical_and_the_chain_still_verifies(db) -> None:
    for index in range(3):
        append(
            Entry(
                action="update_credential", target_type="credential", outcome="recorded",
                before={"name": f"n{index}", "ports": PORTS[:3]}, request_body={"x": index},
            )
        )  # fmt: skip
    reformatted = json.dumps({"name": "n1", "ports": PORTS[:3]}, indent=2)
    cast = "CAST(%s AS json)" if connection.vendor == "postgresql" else "%s"
    tamper(f"UPDATE audit_auditrecord SET before = {cast} WHERE seq = 2", [reformatted])
    assert reformatted in _texts()
    assert verification.verify_chain().ok  # the reference decides a text that is not canonical
    assert canonicalize(connection, batch=2) == 1
    texts = _texts()
    assert all(text is None or canonical_json(json.loads(text)) == text for text in texts)
    assert canonicalize(connection) == 0  # nothing left to do
    assert verification.verify_chain().ok
    assert AuditRecord.objects.get(seq=2).before == {"name": "n1", "ports": PORTS[:3]}
    if connection.vendor == "postgresql":
        assert all(row.proven for row in chain_rows(0))


def test_the_hashed_document_made_from_column_texts_is_the_canonical_json() -> None:
    """``recorder.append`` makes each JSON value's text once and splices it into the hashed document."""
    rng = random.Random(3)
    alphabet = ["a", "é", '"', "\\", "\n", "\x1f", "✓", "1"]
    for _ in range(500):
        values: dict[str, object] = {
            "seq": rng.randrange(10**12),
            "created_at": datetime(2026, 1, 2, 3, 4, 5, rng.randrange(10**6), tzinfo=UTC),
            "reason": "".join(rng.choices(alphabet, k=rng.randrange(8))),
            "before": {"ports": PORTS[: rng.randrange(4)], "x": [1.5, None, True, {"é": "\\"}]},
            "request_body": rng.choice([None, {"b": 1, "a": [2, "3"]}, [], "text", 7]),
            "after": None,
        }
        texts = {
            name: canonical_json(values[name])
            for name in ("before", "request_body")
            if values[name] is not None
        }
        assert canonical_document(values, texts) == canonical_json(values)
        assert record_hash("0" * 64, values, texts) == record_hash("0" * 64, values)
