"""Integrity beyond the chain: signed anchors outside the database detect a truncated tail and a
rewritten chain; every verification is recorded; a split verification finds the same first break."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests.auditkit import ANCHOR_KEY, record, tamper
from vpcepadmin.audit import chainrows, verification
from vpcepadmin.audit.chain import GENESIS_HASH, hashed_values, record_hash
from vpcepadmin.audit.chainrows import chain_rows
from vpcepadmin.audit.models import AuditRecord, VerificationRun


@pytest.fixture
def anchors(settings, tmp_path):
    settings.AUDIT_ANCHOR_KEY = ANCHOR_KEY
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    return settings.AUDIT_ANCHOR_FILE


def _verify(path=None) -> str:
    """verify_audit's error text (the test fails if it passes)."""
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", *(["--anchors", str(path)] if path else []))
    return str(caught.value)


def _records(count: int) -> list[AuditRecord]:
    return [record(reason=f"change {index}") for index in range(count)]


def test_it_appends_a_signed_anchor_of_the_newest_record(db, anchors, capsys) -> None:
    made = _records(3)
    call_command("anchor_audit")
    [line] = anchors.read_text().splitlines()
    anchor = json.loads(line)
    assert (anchor["kind"], anchor["seq"], anchor["hash"]) == ("head", 3, made[-1].hash)
    signed = json.dumps(
        {k: anchor[k] for k in ("at", "hash", "key_id", "kind", "seq")}, separators=(",", ":")
    )
    assert anchor["hmac"] == hmac.new(ANCHOR_KEY.encode(), signed.encode(), hashlib.sha256).hexdigest()
    assert ANCHOR_KEY not in line
    assert f"Anchored record #3 ({made[-1].hash})" in capsys.readouterr().out


def test_an_intact_chain_matches_its_anchors(db, anchors, capsys) -> None:
    _records(2)
    call_command("anchor_audit")
    _records(2)
    call_command("anchor_audit")
    call_command("verify_audit", "--anchors", str(anchors))
    assert "Anchors verified: 2 anchors" in capsys.readouterr().out


def test_anchors_signed_before_a_key_rotation_verify_while_the_old_key_is_listed(
    db, anchors, settings, capsys
) -> None:
    _records(2)
    call_command("anchor_audit")
    settings.AUDIT_ANCHOR_KEY = "a-newer-anchor-key-0123456789-abcdefghijklmnop"
    _records(2)
    call_command("anchor_audit")
    assert "line 1 (#2) was signed with another key" in _verify(anchors)  # the old key is not listed
    settings.AUDIT_ANCHOR_OLD_KEYS = [ANCHOR_KEY]
    call_command("verify_audit", "--anchors", str(anchors))
    assert "Anchors verified: 2 anchors" in capsys.readouterr().out


def test_anchors_detect_a_truncated_tail_that_the_chain_alone_cannot(db, anchors) -> None:
    made = _records(5)
    call_command("anchor_audit")
    tamper("DELETE FROM audit_auditrecord WHERE seq > 3")
    tamper("UPDATE audit_auditchainhead SET seq = 3, hash = %s", [made[2].hash])
    call_command("verify_audit")  # consistent: three records, head at #3
    error = _verify(anchors)
    assert "truncated: line 1: the anchor of" in error
    assert "names record #5, but the chain ends at #3" in error


def test_anchors_detect_a_rewritten_chain(db, anchors) -> None:
    _records(5)
    call_command("anchor_audit")
    tamper("UPDATE audit_auditrecord SET reason = 'nothing happened' WHERE seq = 2")
    previous = GENESIS_HASH
    for row in AuditRecord.objects.order_by("seq"):  # the owner recomputes every hash after the edit
        new_hash = record_hash(previous, hashed_values(row))
        tamper(
            "UPDATE audit_auditrecord SET prev_hash = %s, hash = %s WHERE seq = %s",
            [previous, new_hash, row.seq],
        )
        previous = new_hash
    tamper("UPDATE audit_auditchainhead SET hash = %s", [previous])
    call_command("verify_audit")
    assert "rewritten: line 1: the anchor of" in _verify(anchors)


def test_forged_foreign_and_garbled_anchor_lines_are_reported(db, anchors) -> None:
    _records(2)
    call_command("anchor_audit")
    good = json.loads(anchors.read_text())
    forged = dict(good, hash="0" * 64)
    with override_settings(AUDIT_ANCHOR_KEY="another-key-of-sufficient-length-0123456789"):
        call_command("anchor_audit")
    with anchors.open("a") as sink:
        sink.write(json.dumps(forged) + "\nnot json at all\n")
    error = _verify(anchors)
    assert "signature: line 2 (#2) was signed with another key" in error
    assert "signature: line 3 (#2) has a wrong signature" in error
    assert "malformed: line 4 is not an anchor" in error


def test_anchoring_needs_its_key_and_none_of_the_apps_secrets(db, anchors, settings) -> None:
    _records(1)
    settings.AUDIT_ANCHOR_KEY = ""
    with pytest.raises(CommandError, match="VPCEPADMIN_AUDIT_ANCHOR_KEY must be set"):
        call_command("anchor_audit")
    settings.AUDIT_ANCHOR_KEY = ANCHOR_KEY
    with override_settings(SECRET_KEY="", FERNET_KEYS=[]):  # reading SECRET_KEY would now raise
        call_command("anchor_audit")
        call_command("verify_audit", "--anchors", str(anchors))
    assert len(anchors.read_text().splitlines()) == 1


def test_every_verification_is_recorded(db) -> None:
    _records(4)
    call_command("verify_audit")
    tamper("UPDATE audit_auditrecord SET reason = 'x' WHERE seq = 3")
    _verify()
    ok, broken = VerificationRun.objects.order_by("id")
    assert (ok.ok, ok.checked, ok.last_seq, ok.break_kind) == (True, 4, 4, "")
    assert (broken.ok, broken.checked, broken.break_kind, broken.break_seq) == (False, 2, "content", 3)


def _stitched(ranges: list[tuple[int, int | None]]) -> verification.ChainReport:
    segments = [verification.walk(chain_rows(low, high), None, None) for low, high in ranges]
    return verification._stitch(segments, 0, GENESIS_HASH)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("UPDATE audit_auditrecord SET reason = 'x' WHERE seq = 17", ("content", 17)),
        ("DELETE FROM audit_auditrecord WHERE seq = 11", ("gap", 11)),
        ("DELETE FROM audit_auditrecord WHERE seq = 10", ("gap", 10)),
        ("UPDATE audit_auditrecord SET prev_hash = hash WHERE seq = 21", ("link", 21)),
        ("UPDATE audit_auditrecord SET reason = 'x' WHERE seq = 25", ("content", 25)),
    ],
)
def test_a_split_verification_finds_the_same_first_break_as_one_walk(db, sql, expected) -> None:
    _records(30)
    ranges = [(0, 10), (10, 20), (20, None)]
    assert _stitched(ranges).ok
    assert _stitched(ranges).checked == 30
    tamper(sql)
    whole = verification.verify_chain()
    split = _stitched(ranges)
    assert whole.first_break is not None and split.first_break is not None
    assert (whole.first_break.kind, whole.first_break.seq) == expected
    assert (split.first_break.kind, split.first_break.seq) == expected
    assert split.checked == whole.checked


@pytest.mark.django_db(transaction=True)
def test_several_processes_verify_a_committed_chain(monkeypatch) -> None:
    """On PostgreSQL this forks two workers; elsewhere it is one walk — the verdict is the same."""
    _records(40)
    monkeypatch.setattr(verification, "PARALLEL_MIN", 10)
    report = verification.verify_chain(workers=2)
    assert report.ok and report.checked == 40
    tamper("UPDATE audit_auditrecord SET reason = 'x' WHERE seq = 33")
    broken = verification.verify_chain(workers=2).first_break
    assert broken is not None and (broken.kind, broken.seq) == ("content", 33)


@pytest.mark.parametrize("fast", [True, False])
def test_the_fast_hash_never_changes_a_verdict(db, monkeypatch, fast) -> None:
    """``chainrows.proven`` (PostgreSQL's stored texts hashed as they are) only ever saves time."""
    if not fast:
        monkeypatch.setattr(chainrows, "proven", lambda row: False)
    _records(6)
    assert verification.verify_chain().ok
    tamper("UPDATE audit_auditrecord SET reason = 'x' WHERE seq = 4")
    broken = verification.verify_chain().first_break
    assert broken is not None and (broken.kind, broken.seq) == ("content", 4)
