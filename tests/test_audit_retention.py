"""Retention: for ever by default; when set, pruning removes old records, keeps attempts with their
outcomes, anchors the new start, records itself, and leaves a chain that verifies from there."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.auditkit import ANCHOR_KEY, record, tamper, text
from tests.dashboard import client_for, make_user
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.audit.verification import chain_start

NOW = datetime.now(UTC)


@pytest.fixture
def retention(settings, tmp_path):
    settings.AUDIT_ANCHOR_KEY = ANCHOR_KEY
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    settings.AUDIT_RETENTION_DAYS = 30
    return settings.AUDIT_ANCHOR_FILE


def _aged(days: int, **fields) -> AuditRecord:
    with mock.patch("django.utils.timezone.now", return_value=NOW - timedelta(days=days)):
        return record(**fields)


def test_records_are_kept_for_ever_by_default(db, settings, capsys) -> None:
    assert settings.AUDIT_RETENTION_DAYS == 0
    _aged(4000)
    call_command("prune_audit")
    assert "Retention is for ever" in capsys.readouterr().out
    assert AuditRecord.objects.count() == 1


def test_pruning_removes_old_records_and_the_chain_verifies_from_the_anchored_start(
    db, retention, capsys
) -> None:
    old = [_aged(90, reason=f"old {index}") for index in range(4)]
    kept = [_aged(5, reason=f"recent {index}") for index in range(2)]
    call_command("prune_audit")
    assert "Removed 4 records up to #4" in capsys.readouterr().out
    assert list(AuditRecord.objects.order_by("seq").values_list("reason", flat=True)) == [
        "recent 0", "recent 1", "Retention: records are kept for 30 days.",
    ]  # fmt: skip
    pruning = AuditRecord.objects.get(action="prune_audit")
    assert pruning.outcome == "recorded" and pruning.actor_username == "system"
    assert pruning.after["chain_start_seq"] == 4 and pruning.after["chain_start_hash"] == old[-1].hash
    assert pruning.after["removed_records"] == 4
    assert chain_start().seq == 4
    anchors = [json.loads(line) for line in retention.read_text().splitlines()]
    assert [(a["kind"], a["seq"], a["hash"]) for a in anchors] == [
        ("start", 4, old[-1].hash), ("head", pruning.seq, pruning.hash),
    ]  # fmt: skip
    call_command("verify_audit", "--anchors", str(retention))
    assert "Audit chain verified: 3 records, last #7" in capsys.readouterr().out
    assert kept[0].seq == 5


def test_an_attempt_and_its_outcome_are_pruned_together(db, retention) -> None:
    _aged(60, reason="old alone")
    attempt = _aged(31, outcome="attempted", reason="straddles")
    with mock.patch("django.utils.timezone.now", return_value=NOW - timedelta(days=29)):
        record(outcome="applied", attempt=attempt, reason="straddles")
    call_command("prune_audit")
    assert list(AuditRecord.objects.exclude(action="prune_audit").values_list("reason", flat=True)) == [
        "straddles", "straddles",
    ]  # fmt: skip


def test_pruning_is_refused_without_the_key_and_on_a_broken_chain(db, retention, settings) -> None:
    _aged(90)
    _aged(90)
    settings.AUDIT_ANCHOR_KEY = ""
    with pytest.raises(CommandError, match="Not pruned: VPCEPADMIN_AUDIT_ANCHOR_KEY"):
        call_command("prune_audit")
    settings.AUDIT_ANCHOR_KEY = ANCHOR_KEY
    tamper("UPDATE audit_auditrecord SET reason = 'x' WHERE seq = 1")
    with pytest.raises(CommandError, match=r"Not pruned: the chain is broken at #1 \(content\)"):
        call_command("prune_audit")
    assert AuditRecord.objects.count() == 2
    assert not retention.exists()


def test_a_dry_run_removes_nothing(db, retention, capsys) -> None:
    _aged(90)
    _aged(1)
    call_command("prune_audit", "--dry-run")
    assert "Would remove 1 records up to #1" in capsys.readouterr().out
    assert AuditRecord.objects.count() == 2


def test_a_start_that_no_anchor_vouches_for_is_reported(db, retention) -> None:
    made = [_aged(1, reason=f"r{index}") for index in range(4)]
    call_command("anchor_audit")
    tamper("DELETE FROM audit_auditrecord WHERE seq <= 2")  # then pretend retention did it
    record(action="prune_audit", target_type="audit_log", outcome="recorded",
           after={"chain_start_seq": 2, "chain_start_hash": made[1].hash})  # fmt: skip
    call_command("verify_audit")  # the chain alone is consistent from the claimed start
    with pytest.raises(
        CommandError, match=r"start: the chain starts after #2 \(pruned\), but no signed anchor"
    ):
        call_command("verify_audit", "--anchors", str(retention))


def test_pages_survive_the_removal_of_what_a_record_points_to(db, retention) -> None:
    restored = _aged(90, reason="old change")
    newer = _aged(1, restored_from=restored, reason="undo")
    call_command("prune_audit")
    viewer_client = client_for(make_user("viewer"))  # after: creating it is recorded (security events)
    page = text(viewer_client.get(f"/audit/{newer.pk}/"))
    assert "This change restored the values from before a record that retention has removed" in page
    assert "removed 1 records up to #1" in text(viewer_client.get("/audit/"))
