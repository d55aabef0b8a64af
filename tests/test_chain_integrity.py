"""The audit log is append-only and hash-chained: tampering is refused or detected (T26, T27).

(The PostgreSQL trigger itself is tested on a database of its own in test_audit_postgresql.py.)"""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import AuditRecord, ImmutableRecord
from vpcepadmin.audit.verification import verify_chain


def _append(count: int) -> list[AuditRecord]:
    return [
        recorder.append(
            recorder.Entry(
                action="update_credential",
                target_type="credential",
                outcome="recorded",
                target_id=str(i),
                reason=f"reason {i}",
                before={"n": i},
            )
        )
        for i in range(count)
    ]


def _tamper(sql: str, params: list[object] | None = None) -> None:
    """Change the table behind the application's back, as a database owner could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # owner-level: triggers off
        cursor.execute(sql, params or [])


def _verify_error() -> str:
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit")
    return str(caught.value)


def test_a_clean_chain_verifies(db, capsys) -> None:
    _append(5)
    call_command("verify_audit")
    assert "5 records" in capsys.readouterr().out


def test_it_names_an_edited_record(db) -> None:
    _append(5)
    _tamper("UPDATE audit_auditrecord SET reason = 'nothing to see' WHERE seq = 3")
    assert "#3 (content)" in _verify_error()


def test_it_names_a_deleted_record(db) -> None:
    _append(5)
    _tamper("DELETE FROM audit_auditrecord WHERE seq = 2")
    assert "#2 (gap)" in _verify_error()


def test_it_names_swapped_records(db) -> None:
    _append(5)
    _tamper("UPDATE audit_auditrecord SET seq = -1 WHERE seq = 2")
    _tamper("UPDATE audit_auditrecord SET seq = 2 WHERE seq = 3")
    _tamper("UPDATE audit_auditrecord SET seq = 3 WHERE seq = -1")
    assert "#2 (link)" in _verify_error()


def test_it_notices_a_removed_tail_when_the_head_was_left(db) -> None:
    _append(5)
    _tamper("DELETE FROM audit_auditrecord WHERE seq = 5")
    assert "(head)" in _verify_error()


def test_the_orm_refuses_to_change_or_delete_a_record(db) -> None:
    [record] = _append(1)
    record.reason = "changed"
    with pytest.raises(ImmutableRecord):
        record.save()
    with pytest.raises(ImmutableRecord):
        record.delete()
    with pytest.raises(ImmutableRecord):
        AuditRecord.objects.filter(pk=record.pk).update(reason="x")
    with pytest.raises(ImmutableRecord):
        AuditRecord.objects.all().delete()


def test_secrets_are_masked_at_write_time(db) -> None:
    record = recorder.append(
        recorder.Entry(
            action="update_credential",
            target_type="credential",
            outcome="recorded",
            before={"password": "hunter2-but-longer", "nested": [{"secret_key": "SK-xyz", "name": "kept"}]},
            request_body={"Authorization": "SDK-HMAC-SHA256 Access=x", "X-Auth-Token": "tok"},
        )
    )
    stored = str(AuditRecord.objects.filter(pk=record.pk).values("before", "request_body").get())
    for secret in ("hunter2-but-longer", "SK-xyz", "SDK-HMAC", "tok'"):
        assert secret not in stored
    assert "kept" in stored


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_lose_nothing_and_keep_the_chain(db) -> None:
    """T28: without the head lock, concurrent appends collide (reliability.md §4.3)."""
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            _append(25)
        except BaseException as error:  # reported below, with the others
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert AuditRecord.objects.count() == 100
    report = verify_chain()
    assert report.ok, report.first_break
    assert report.checked == 100
