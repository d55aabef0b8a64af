"""CSV and JSON exports: exactly the current filter, a header naming it, streamed in chunks, a
snapshot of the moment they began, no secret, and enough to recompute every hash."""

from __future__ import annotations

import csv
import io
import json
import re
from unittest import mock

import pytest
from django.http import StreamingHttpResponse

from tests import seeds
from tests.auditkit import change, record
from tests.test_credentials_pages import _form
from vpcepadmin.audit import export
from vpcepadmin.audit.chain import HASHED_FIELDS, record_hash
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.credentials.models import CloudCredential

NEW_SECRET = "SKrotatedExampleSecretKey00000000000002"


def _body(response) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def _csv(response) -> tuple[list[str], list[dict[str, str]]]:
    lines = _body(response).splitlines(keepends=True)
    comments = [line.strip() for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("".join(line for line in lines if not line.startswith("#")))))
    return comments, rows


def test_the_csv_export_holds_exactly_the_filtered_records_under_a_header(viewer_client, db) -> None:
    wanted = [
        record(outcome="rejected", reason=f"refused {index}", error_code="EndPoint.0011")
        for index in range(3)
    ]
    record(outcome="applied")
    record(
        outcome="rejected", actor=None, reason="other", action="update_credential", target_type="credential"
    )
    response = viewer_client.get("/audit/export.csv?outcome=rejected&action=modify_endpoint_service")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    comments, rows = _csv(response)
    assert comments[0] == "# vpcepadmin audit export"
    assert comments[1] == "# filter: action=modify_endpoint_service; outcome=rejected"
    assert comments[2].startswith("# exported_at: 20")
    assert comments[3] == f"# last_record: #{wanted[-1].seq} {wanted[-1].hash}"
    assert [int(row["seq"]) for row in rows] == [r.seq for r in wanted]
    assert [row["reason"] for row in rows] == ["refused 0", "refused 1", "refused 2"]
    assert rows[0]["error_code"] == "EndPoint.0011"
    assert json.loads(rows[0]["request_body"]) == {"description": "new"}
    assert rows[0]["hash"] == wanted[0].hash
    assert [row["source"] for row in rows] == ["dashboard"] * 3  # the last column: via vpcepadmin


def test_the_json_export_holds_exactly_the_filtered_records_under_a_header(viewer_client, db) -> None:
    wanted = [record(reason="CHG-7 widen", outcome="applied") for _ in range(2)]
    record(reason="unrelated")
    response = viewer_client.get("/audit/export.json?q=chg-7")
    assert response["Content-Type"] == "application/json"
    document = json.loads(_body(response))
    assert document["export"]["filter"] == {"q": "chg-7"}
    assert document["export"]["filter_text"] == "q=chg-7"
    assert document["export"]["last_record"] == {"seq": wanted[-1].seq, "hash": wanted[-1].hash}
    assert [item["seq"] for item in document["records"]] == [r.seq for r in wanted]
    assert document["records"][0]["request_body"] == {"description": "new"}
    assert document["records"][0]["before"] is None
    assert document["records"][0]["source"] == "dashboard"


def test_an_empty_export_says_there_is_no_last_record(viewer_client, db) -> None:
    document = json.loads(_body(viewer_client.get("/audit/export.json?actor=nobody")))
    assert document["records"] == []
    assert document["export"]["last_record"] is None
    comments, rows = _csv(viewer_client.get("/audit/export.csv?actor=nobody"))
    assert comments[3] == "# last_record: none"
    assert rows == []


def test_exports_stream_in_chunks_and_end_where_they_began(viewer_client, db) -> None:
    first = [record(reason=f"r{index}") for index in range(7)]
    with mock.patch.object(export, "CHUNK", 3):
        response = viewer_client.get("/audit/export.csv?category=cloud")  # the records made here
        pieces = iter(response.streaming_content)
        opening = next(pieces) + next(pieces)  # the header, then the first chunk of three
        record(reason="appended during the export")
        rest = b"".join(pieces)
    body = (opening + rest).decode()
    rows = list(
        csv.DictReader(io.StringIO("".join(ln for ln in body.splitlines(True) if not ln.startswith("#"))))
    )
    assert [int(row["seq"]) for row in rows] == [r.seq for r in first]
    assert "appended during the export" not in body


def test_no_secret_reaches_an_export_after_account_changes(
    admin_client_, viewer_client, simulator, operator
) -> None:
    # Staging: on a production account (of this project) the edit below would need a second person.
    admin_client_.post("/credentials/new/", _form(simulator.url, name="Signing", environment="staging"))
    token_form = _form(
        simulator.url, name="Token", auth_method="password", access_key="", secret_key="",
        iam_username=seeds.USERNAME, domain_name=seeds.DOMAIN_NAME, password=seeds.PASSWORD,
        environment="staging",
    )  # fmt: skip
    admin_client_.post("/credentials/new/", token_form)
    signing = CloudCredential.objects.get(name="Signing")
    admin_client_.post(
        f"/credentials/{signing.pk}/edit/",
        _form(simulator.url, name="Signing", secret_key=NEW_SECRET, environment="staging"),
    )
    change(signing, simulator.seed["endpoint_services"][0]["id"], operator, description="after rotation")
    actions = set(AuditRecord.objects.values_list("action", flat=True))
    assert {"create_credential", "update_credential", "modify_endpoint_service"} <= actions
    exported = _body(viewer_client.get("/audit/export.csv")) + _body(viewer_client.get("/audit/export.json"))
    assert "secret_status" in exported and "changed" in exported
    for secret in (seeds.SECRET_KEY, seeds.PASSWORD, NEW_SECRET, seeds.ACCESS_KEY):
        assert secret not in exported


def test_an_auditor_can_recompute_every_hash_from_the_json_export(
    viewer_client, account, simulator, operator
) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change(account, service_id, operator, description="ünïcode ✓", approval_enabled=False)
    record(outcome="rejected", error_message='quote " and backslash \\', source_ip="2001:db8::1")
    document = json.loads(_body(viewer_client.get("/audit/export.json")))
    previous = "0" * 64
    for item in document["records"]:
        assert item["prev_hash"] == previous
        assert item["derived_hash"]  # every record written now hashes its summary and diff (README)
        values = {name: item[name] for name in HASHED_FIELDS} | {"derived_hash": item["derived_hash"]}
        assert record_hash(item["prev_hash"], values) == item["hash"]
        previous = item["hash"]
    # Every record, the security events of the personas included (3 are the change and the record).
    assert len(document["records"]) == AuditRecord.objects.count()
    assert len([item for item in document["records"] if item["action"] == "modify_endpoint_service"]) == 3


def test_csv_fields_with_commas_quotes_and_line_breaks_read_back_exactly(viewer_client, db) -> None:
    tricky = 'CHG-5, "urgent"\nsecond line\r\nand ünïcode ✓'
    made = record(reason=tricky, error_message='say "no"', request_body={"description": 'a "b", c'})
    _, [row] = _csv(viewer_client.get("/audit/export.csv?category=cloud"))
    assert row["reason"] == tricky
    assert row["error_message"] == 'say "no"'
    assert json.loads(row["request_body"]) == {"description": 'a "b", c'}
    assert row["hash"] == made.hash


def test_an_export_leaves_out_an_invalid_filter_exactly_as_the_list_does(viewer_client, db) -> None:
    kept = [record(outcome="rejected", reason="refused"), record(outcome="rejected", reason="again")]
    record(outcome="applied")
    query = "outcome=rejected&until=9999-12-31T23:59&since=%C2%B2"
    document = json.loads(_body(viewer_client.get(f"/audit/export.json?{query}")))
    assert document["export"]["filter"] == {"outcome": "rejected"}
    assert [item["seq"] for item in document["records"]] == [r.seq for r in kept]
    comments, rows = _csv(viewer_client.get(f"/audit/export.csv?{query}"))
    assert comments[1] == "# filter: outcome=rejected"
    assert [int(row["seq"]) for row in rows] == [r.seq for r in kept]


# --- the CSV is safe to open in a spreadsheet (OWASP CSV injection) ----------------------------------
FORMULAS = ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1+2", "\r=1+2", "  =HYPERLINK(x)", "-"]
PAYLOAD = "=cmd|' /C calc'!A0"


def _spreadsheet_cells(line: str) -> list[str]:
    """The cells a spreadsheet may make of an unquoted line: split on commas, or on semicolons."""
    return [cell.lstrip(' "') for cell in re.split(r"[,;]", line)]


def test_it_prefixes_a_quote_to_every_csv_cell_a_spreadsheet_would_read_as_a_formula(
    viewer_client, db
) -> None:
    made = [
        record(reason=value, target_name=value, error_message=value, http_status=400, duration_ms=7)
        for value in FORMULAS
    ]
    plain = record(reason="CHG-9: a - in the middle = fine", error_message="x")
    _, rows = _csv(viewer_client.get("/audit/export.csv?category=cloud"))
    for value, row in zip(FORMULAS, rows[: len(FORMULAS)], strict=True):
        for column in ("reason", "target_name", "error_message"):
            assert row[column] == "'" + value, (column, value)
        assert (row["http_status"], row["duration_ms"]) == ("400", "7")  # numbers stay numbers
    assert rows[-1]["reason"] == plain.reason
    assert rows[-1]["error_message"] == "x"
    assert [row["hash"] for row in rows] == [r.hash for r in (*made, plain)]


def test_it_keeps_the_exact_values_in_the_json_export(viewer_client, db) -> None:
    made = [record(reason=value, target_name=value, error_message=value) for value in FORMULAS]
    document = json.loads(_body(viewer_client.get("/audit/export.json?category=cloud")))
    assert [item["reason"] for item in document["records"]] == FORMULAS
    assert [item["target_name"] for item in document["records"]] == FORMULAS
    assert [item["error_message"] for item in document["records"]] == FORMULAS
    for item, kept in zip(document["records"], made, strict=True):
        values = {name: item[name] for name in HASHED_FIELDS} | {"derived_hash": item["derived_hash"]}
        assert record_hash(item["prev_hash"], values) == kept.hash


def test_it_neutralises_the_filter_header_line_too(viewer_client, db) -> None:
    comments, _ = _csv(viewer_client.get("/audit/export.csv", {"q": PAYLOAD}))
    assert comments[1] == f"# filter: q='{PAYLOAD}"
    document = json.loads(_body(viewer_client.get("/audit/export.json", {"q": PAYLOAD})))
    assert document["export"]["filter"] == {"q": PAYLOAD}
    assert document["export"]["filter_text"] == f"q={PAYLOAD}"


@pytest.mark.parametrize("typed", [f"x,{PAYLOAD}", f'x;"{PAYLOAD}"', "x, +1;@SUM(A1)", f"x,\t{PAYLOAD}"])
def test_it_lets_no_cell_of_a_header_line_read_as_a_formula(viewer_client, db, typed) -> None:
    comments, _ = _csv(viewer_client.get("/audit/export.csv", {"q": typed, "actor": "-alice"}))
    line = comments[1]
    assert line.startswith("# filter: ")
    for cell in _spreadsheet_cells(line):
        assert cell[:1] not in set("=+-@\t\r"), (line, cell)
    assert "actor='-alice" in line
