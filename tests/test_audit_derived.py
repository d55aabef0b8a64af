"""Each record's summary and field diff are stored when it is written (outside the hash): they are
what its content gives, every kind of record; the tables read them instead of the JSON columns;
verify_audit re-derives them and names a record whose stored ones were changed ("derived"); the
migration that added them fills them for the records written before."""

from __future__ import annotations

import importlib
import random
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.auditkit import ANCHOR_KEY, SERVICE_ID, change, record, tamper, text
from vpcepadmin.audit import recorder, security, verification
from vpcepadmin.audit.backfill import fill_derived
from vpcepadmin.audit.chain import GENESIS_HASH
from vpcepadmin.audit.chainrows import chain_rows
from vpcepadmin.audit.changes import Derived, _summary, changes_of, derive, derived_of, plain
from vpcepadmin.audit.diff import FieldChange, port_triples, ports_diff
from vpcepadmin.audit.filters import AuditFilter
from vpcepadmin.audit.models import Action, AuditRecord
from vpcepadmin.audit.queries import page, service_history
from vpcepadmin.audit.verification import _stitch, verify_chain, walk
from vpcepadmin.cloud.editable import EDITABLE_FIELDS, Kind, editable_values, port_set
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials import services as credential_services
from vpcepadmin.credentials.models import CloudCredential

JSON_COLUMNS = ("before", "request_body", "after", "diff")
BEFORE = {
    "id": SERVICE_ID,
    "service_name": f"eu-de.web.{SERVICE_ID}",
    "status": "available",
    "server_type": "LB",
    "port_id": "7e271ad3-3c18-52ad-abdc-56a4b3d12b6c",
    "vpc_id": "2d0e4f6a-8b1c-4d3e-9f5a-7b6c8d9e0f1a",
    "approval_enabled": True,
    "description": "old text",
    "tcp_proxy": "close",
    "ports": [
        {"client_port": 1000 + index, "server_port": 2000 + index, "protocol": "TCP"} for index in range(200)
    ],
}
MORE_PORTS = [*BEFORE["ports"][1:], {"client_port": 22, "server_port": 2222, "protocol": "TCP"}]


def _stored(item: AuditRecord) -> Derived:
    return Derived(item.summary or "", item.diff)


def _all_stored_as_derived() -> list[tuple[int, str, str | None]]:
    """(seq, action, summary) of every record, after checking each against a fresh derivation."""
    seen = []
    for item in AuditRecord.objects.select_related("attempt").order_by("seq"):
        assert _stored(item) == derived_of(item), (item.seq, item.action, item.outcome)
        seen.append((item.seq, item.action, item.summary))
    return seen


def _applied(body: dict[str, Any], before: dict[str, Any] = BEFORE, **fields: Any) -> AuditRecord:
    attempt = record(outcome="attempted", before=before, request_body=body, **fields)
    return record(outcome="applied", attempt=attempt, request_body=body, after={**before, **body}, **fields)


def test_every_kind_of_record_stores_what_its_content_gives(
    db, account, simulator, operator, settings, tmp_path
) -> None:
    settings.AUDIT_ANCHOR_KEY, settings.AUDIT_ANCHOR_FILE = ANCHOR_KEY, tmp_path / "anchors.jsonl"
    settings.AUDIT_RETENTION_DAYS = 30
    with mock.patch("django.utils.timezone.now", return_value=datetime.now(UTC) - timedelta(days=90)):
        record(reason="old")
    call_command("prune_audit")  # first: it removes every record up to the old one
    service_id = simulator.seed["endpoint_services"][0]["id"]
    applied = change(account, service_id, operator, description="through the edit flow").record
    simulator.add_fault(
        match={"method": "PUT"}, action="status", status=400, error_code="EndPoint.0011", count=1
    )
    rejected = change(account, service_id, operator, description="refused").record
    assert (applied.outcome, rejected.outcome) == ("applied", "rejected")
    attempt = record(outcome="attempted", before=BEFORE, request_body={"ports": MORE_PORTS})
    for outcome in ("unknown", "reconciled_applied"):
        record(outcome=outcome, attempt=attempt, request_body={"ports": MORE_PORTS})
    record(
        outcome="conflict", before=BEFORE, request_body={"approval_enabled": False, "tcp_proxy": "toa_open"}
    )
    context = recorder.Context(actor=operator)
    created = CloudCredential(
        name="Other", cloud="otc", region="eu-de", project_id="a" * 32, access_key="AK1"
    )
    credential_services.create_credential(created, "secret", context)
    before = credential_services.snapshot(created)
    created.name = "Other EU"
    credential_services.update_credential(created, before, "new secret", False, context)
    credential_services.delete_credential(created, context)
    security.record(Action.SIGN_IN, username="operator", actor=operator)
    security.record(Action.SIGN_IN_FAILED, username="nobody")

    summaries: dict[str, set[str]] = {}
    for _, action, summary in _all_stored_as_derived():
        summaries.setdefault(action, set()).add(summary)
    assert summaries["modify_endpoint_service"] == {
        "description “” → “through the edit flow”",
        "description “through the edit flow” → “refused”",
        "port mappings +1 −1",
        "connection approval required on → off; tcp proxy “close” → “toa_open”",
    }
    assert summaries["create_credential"] == {"account added"}
    assert summaries["delete_credential"] == {"account deleted"}
    assert [text.split(";")[0] for text in summaries["update_credential"]] == [
        "display name “Other” → “Other EU”"
    ]
    assert summaries["sign_in"] == summaries["sign_in_failed"] == {"no field change"}
    assert [re.sub(r"\d+", "n", text) for text in summaries["prune_audit"]] == ["removed n records up to #n"]
    assert {item.outcome for item in AuditRecord.objects.all()} >= {
        "attempted", "applied", "rejected", "unknown", "reconciled_applied", "conflict", "recorded",
    }  # fmt: skip
    call_command("verify_audit")


def test_an_outcome_stores_the_diff_from_its_attempts_before_state(db) -> None:
    outcome = _applied({"ports": MORE_PORTS})
    assert outcome.before is None
    assert outcome.summary == "port mappings +1 −1"
    ports = outcome.diff[0]
    assert (ports["name"], ports["added"], ports["removed"]) == (
        "ports",
        [[22, 2222, "TCP"]],
        [[1000, 2000, "TCP"]],
    )
    assert len(ports["unchanged"]) == 199
    fresh = AuditRecord.objects.get(pk=outcome.pk)
    assert (fresh.summary, fresh.diff) == (outcome.summary, outcome.diff)


def test_no_secret_reaches_the_stored_diff(db) -> None:
    item = record(
        action="update_credential", target_type="credential", outcome="recorded", request_body=None,
        before={"name": "a", "password": "hunter2"}, after={"name": "a", "password": "correct horse"},
    )  # fmt: skip
    assert "hunter2" not in str(item.diff) and "correct horse" not in str(item.diff)
    assert "hunter2" not in str(item.summary) and "correct horse" not in str(item.summary)


def test_the_list_and_the_history_do_not_read_the_json_columns(db, viewer_client, account) -> None:
    for index in range(3):
        _applied({"description": f"text {index}"}, credential=account)
    with CaptureQueriesContext(connection) as listed:
        shown = page(AuditFilter(), 50)
        history = service_history(account, SERVICE_ID)
    with CaptureQueriesContext(connection) as requested:
        response = viewer_client.get("/audit/")
    assert len(shown.rows) >= 6 and len(history) == 6
    assert [row.summary for row in history[:2]] == ["description “old text” → “text 2”"] * 2
    assert "description “old text” → “text 2”" in text(response)
    sql = [query["sql"] for query in (*listed.captured_queries, *requested.captured_queries)]
    for column in JSON_COLUMNS:
        assert not [statement for statement in sql if f'."{column}"' in statement], column
    assert len(listed.captured_queries) == 2  # one query a page, one the history: no attempt, no lazy load


def test_the_record_page_shows_the_stored_diff(db, viewer_client) -> None:
    outcome = _applied({"ports": MORE_PORTS})
    html = viewer_client.get(f"/audit/{outcome.pk}/").content.decode()
    assert '<tr class="diff-added"><td>added</td><td>22</td><td>2222</td><td>TCP</td></tr>' in html
    assert '<tr class="diff-removed"><td>removed</td><td>1000</td><td>2000</td><td>TCP</td></tr>' in html
    assert html.count('<tr class="diff-unchanged">') == 199


def _verify_error() -> str:
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit")
    return str(caught.value)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("summary", "'description “old text” → “harmless”'"),
        ("summary", "NULL"),
        ("diff", "'[]'"),
    ],
)
def test_verify_audit_names_a_record_whose_stored_summary_or_diff_was_changed(db, column, value) -> None:
    records = [_applied({"description": f"text {index}"}) for index in range(3)]
    call_command("verify_audit")
    attempt = records[1].attempt
    assert attempt is not None
    tamper(f"UPDATE audit_auditrecord SET {column} = {value} WHERE seq = {attempt.seq}")
    assert f"#{attempt.seq} (derived)" in _verify_error()


def test_a_changed_summary_of_an_outcome_is_named_too(db, viewer_client) -> None:
    records = [_applied({"ports": MORE_PORTS}) for _ in range(2)]
    tamper("UPDATE audit_auditrecord SET summary = 'no field change' WHERE seq = %s", [records[0].seq])
    assert f"#{records[0].seq} (derived)" in _verify_error()
    shown = text(viewer_client.get(f"/audit/{records[0].pk}/"))
    assert f"(derived): the summary or diff stored with record #{records[0].seq}" in shown


def test_the_record_page_names_its_own_changed_summary(db, viewer_client, settings) -> None:
    settings.AUDIT_LIVE_VERIFY_LIMIT = 0  # no walk: the record's own check only
    outcome = _applied({"description": "x"})
    tamper("UPDATE audit_auditrecord SET summary = 'no field change' WHERE seq = %s", [outcome.seq])
    shown = text(viewer_client.get(f"/audit/{outcome.pk}/"))
    assert f"The summary or diff stored with record #{outcome.seq} is not what its content gives" in shown


def test_an_outcome_whose_attempt_is_in_another_range_is_checked_against_it(db) -> None:
    records = [_applied({"ports": MORE_PORTS}) for _ in range(3)]
    attempt, outcome = records[1].attempt, records[1]
    assert attempt is not None and outcome.seq == attempt.seq + 1
    ranges = [(0, attempt.seq), (attempt.seq, None)]  # the outcome opens the second range
    report = _stitch([walk(chain_rows(low, high), None, None) for low, high in ranges], 0, GENESIS_HASH)
    assert report.ok and report.checked == verify_chain().checked
    tamper("UPDATE audit_auditrecord SET summary = 'port mappings +0 −0' WHERE seq = %s", [outcome.seq])
    split = _stitch([walk(chain_rows(low, high), None, None) for low, high in ranges], 0, GENESIS_HASH)
    whole = verify_chain()
    for found in (split, whole):
        assert found.first_break is not None
        assert (found.first_break.kind, found.first_break.seq) == ("derived", outcome.seq)
    assert split.checked == whole.checked == outcome.seq - 1


def test_an_outcome_whose_attempt_was_removed_cannot_be_rederived_and_is_not_reported(db) -> None:
    outcome = _applied({"description": "x"})
    tamper("DELETE FROM audit_auditrecord WHERE seq < %s", [outcome.seq])
    report = verify_chain(outcome.seq - 1, outcome.prev_hash)
    assert report.ok and report.checked == 1


def test_the_migration_fills_the_records_written_before_it(db) -> None:
    records = [_applied({"ports": MORE_PORTS}), _applied({"description": "y"})]
    record(action="update_credential", target_type="credential", outcome="recorded", before={"name": "a"},
           after={"name": "b"})  # fmt: skip
    expected = [(item.seq, item.summary) for item in AuditRecord.objects.order_by("seq")]
    tamper("UPDATE audit_auditrecord SET summary = NULL, diff = NULL")
    assert "(derived)" in _verify_error()
    migration = importlib.import_module("vpcepadmin.audit.migrations.0008_derive_summary_and_diff")
    migration.derive(None, SimpleNamespace(connection=connection))
    assert [(item.seq, item.summary) for item in AuditRecord.objects.order_by("seq")] == expected
    _all_stored_as_derived()
    call_command("verify_audit")
    assert records[0].summary == "port mappings +1 −1"
    assert fill_derived(connection, batch=2) == 0  # nothing left; batches of two went over the rest


def test_the_backfill_leaves_the_table_as_protected_as_before(db) -> None:
    _applied({"description": "x"})
    tamper("UPDATE audit_auditrecord SET summary = NULL, diff = NULL")
    assert fill_derived(connection, batch=1) == 2
    if connection.vendor == "postgresql":  # the trigger is back: raw SQL is refused again
        with connection.cursor() as cursor:
            cursor.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_record_no_update_delete'")
            assert cursor.fetchall() == [("O",)]
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")  # tamper()'s lasts the test
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditrecord SET summary = 'x'")


# The derivation takes quicker roads than the review step's (parsing 200 mappings once, or not at
# all); the reference is the plain one: the typed service's values, cloud.editable's comparison.
def _reference(before: Any, requested: Any) -> list[FieldChange]:
    if not isinstance(requested, dict):
        return []
    editable: dict[str, Any] = {}
    if isinstance(before, dict):
        try:
            editable = editable_values(EndpointService.from_api(before))
        except ValueError:
            editable = dict(before)
    changes = []
    for field in EDITABLE_FIELDS:
        if field.name not in requested or field.same(editable.get(field.name), requested[field.name]):
            continue
        ports = None
        if field.kind is Kind.PORTS:
            ports = ports_diff(editable.get(field.name), requested[field.name])
            old, new = set(port_set(editable.get(field.name))), set(port_set(requested[field.name]))
            assert ports.added == sorted(new - old) and ports.removed == sorted(old - new)
            assert ports.unchanged == sorted(old & new)
        changes.append(
            FieldChange(field.name, field.label, editable.get(field.name), requested[field.name], ports)
        )
    return changes


ODD_ITEMS: list[Any] = [
    {"client_port": "443", "server_port": 8443, "protocol": "TCP"},
    {"client_port": True, "server_port": 8443, "protocol": "TCP"},
    {"client_port": 1.0, "server_port": 2, "protocol": "UDP"},
    {"client_port": 5, "server_port": 6},
    {"client_port": 5, "server_port": 6, "protocol": ""},
    {"client_port": 5, "server_port": 6, "protocol": None},
    {"client_port": 7, "server_port": 8, "protocol": ["TCP"]},
    [1, 2, "TCP"],
]


def _ports(rng: random.Random, odd: bool) -> list[Any]:
    ports: list[Any] = [
        {
            "client_port": rng.randrange(1, 30),
            "server_port": rng.randrange(1, 4),
            "protocol": rng.choice(["TCP", "UDP"]),
        }
        for _ in range(rng.randrange(0, 12))
    ]
    if odd:
        ports.insert(rng.randrange(len(ports) + 1), rng.choice(ODD_ITEMS))
    return ports


def test_the_derivation_matches_the_plain_comparison_on_any_snapshot() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        before: Any = {**BEFORE, "ports": _ports(rng, rng.random() < 0.3)}
        if rng.random() < 0.1:
            before["tags"] = "not a list"  # the typed service does not read: raw values are compared
        if rng.random() < 0.3:  # values the typed service reads otherwise than they are stored
            before["description"] = rng.choice([None, "", 5, ["x"], "stored"])
            before["approval_enabled"] = rng.choice([None, 0, 1, "yes", True, False])
        if rng.random() < 0.1:
            del before["description"]
        if rng.random() < 0.05:
            before = None
        requested: dict[str, Any] = {}
        for name in rng.sample(["ports", "description", "approval_enabled", "service_name", "tcp_proxy"], 2):
            if rng.random() < 0.5:
                requested[name] = {
                    "ports": _ports(rng, rng.random() < 0.3),
                    "description": rng.choice(["", "old text", "new"]),
                    "approval_enabled": rng.choice([True, False, 0]),
                    "service_name": rng.choice(["web", "api"]),
                    "tcp_proxy": rng.choice(["close", "toa_open", None]),
                }[name]
        found = changes_of(Action.MODIFY_ENDPOINT_SERVICE, before, requested, None)  # never raises
        try:
            expected = _reference(before, requested)
        except AttributeError:  # an item that is no mapping: the typed service cannot even be read
            continue
        assert plain(found) == plain(expected), (before, requested)
        assert derive(Action.MODIFY_ENDPOINT_SERVICE, before, requested, None).diff == plain(expected)


@pytest.mark.django_db(transaction=True)
def test_several_processes_find_a_changed_summary_across_their_border(monkeypatch) -> None:
    """On PostgreSQL two processes verify (the second reads the first one's attempt itself); elsewhere
    it is one walk — the verdict is the same."""
    record(action="update_credential", target_type="credential", outcome="recorded", before={"name": "a"})
    changes = [_applied({"description": f"text {index}"}) for index in range(20)]
    monkeypatch.setattr(verification, "PARALLEL_MIN", 10)
    assert verify_chain(workers=2).ok
    border = changes[9]  # seq 21: the first record of the second range, its attempt the last of the first
    assert border.seq == 21 and border.attempt is not None and border.attempt.seq == 20
    tamper("UPDATE audit_auditrecord SET summary = 'no field change' WHERE seq = 21")
    broken = verify_chain(workers=2).first_break
    assert broken is not None and (broken.kind, broken.seq) == ("derived", 21)


def test_a_change_of_the_port_mappings_alone_derives_as_its_field_changes_do() -> None:
    """``derive``'s way for the most frequent change (the two sets of triples) gives what the
    ``FieldChange`` path gives, on any lists (odd items too) and any before-state."""
    rng = random.Random(7)
    modify = Action.MODIFY_ENDPOINT_SERVICE
    for _ in range(2000):
        before: Any = {**BEFORE, "ports": _ports(rng, rng.random() < 0.3)}
        if rng.random() < 0.1:
            before = rng.choice([None, "not a dict", {"ports": "not a list"}, {}])
        requested: dict[str, Any] = {"ports": _ports(rng, rng.random() < 0.3)}
        if rng.random() < 0.2:
            requested["not_a_field"] = 1  # ignored by both
        if rng.random() < 0.1:
            requested["ports"] = rng.choice(
                [None, "x", [], before.get("ports") if isinstance(before, dict) else []]
            )
        changes = changes_of(modify, before, requested, None)
        expected = Derived(_summary(modify, None, changes), plain(changes))
        assert derive(modify, before, requested, None) == expected, (before, requested)


def test_the_triples_of_a_list_are_those_of_its_port_set() -> None:
    rng = random.Random(11)
    for index in range(2000):
        ports = _ports(rng, rng.random() < 0.5)
        if index % 2:  # long lists are read a column at a time
            ports = ports + _ports(rng, False) + _ports(rng, False) + [ODD_ITEMS[0]] * (rng.random() < 0.2)
        assert port_triples(ports) == {(m.client_port, m.server_port, m.protocol) for m in port_set(ports)}


@pytest.mark.parametrize("digest", ["''", "'" + "0" * 64 + "'"])
def test_a_removed_or_replaced_digest_of_the_derived_columns_is_a_content_break(db, digest) -> None:
    """The digest is hashed with the record: without it (as if written before it existed, to be
    re-derived instead) or with another, the record is not the one written."""
    records = [_applied({"description": f"text {index}"}) for index in range(2)]
    assert all(item.derived_hash for item in AuditRecord.objects.all())
    tamper(f"UPDATE audit_auditrecord SET derived_hash = {digest} WHERE seq = %s", [records[0].seq])
    assert f"#{records[0].seq} (content)" in _verify_error()
