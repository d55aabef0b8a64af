"""One record's page: the field-level diff of every kind of field, the request and its result, the
links to the attempt, the outcome, the same request and the neighbouring changes, restore, and
whether the chain verifies up to the record."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.core.management import call_command

from tests.auditkit import SERVICE_ID, change, record, tamper, text
from vpcepadmin.audit.models import AuditRecord

PORT_ID = "7e271ad3-3c18-52ad-abdc-56a4b3d12b6c"
NEW_PORT_ID = "11111111-2222-4333-8444-555555555555"
BEFORE = {
    "id": SERVICE_ID,
    "service_name": f"eu-de.web.{SERVICE_ID}",
    "status": "available",
    "server_type": "VIP",
    "port_id": PORT_ID,
    "vip_port_id": "",
    "vpc_id": "2d0e4f6a-8b1c-4d3e-9f5a-7b6c8d9e0f1a",
    "approval_enabled": True,
    "description": "old text",
    "tcp_proxy": "close",
    "ports": [
        {"client_port": 443, "server_port": 8443, "protocol": "TCP"},
        {"client_port": 80, "server_port": 8080, "protocol": "TCP"},
    ],
}


def _applied(body: dict, **fields) -> AuditRecord:
    attempt = record(outcome="attempted", before=BEFORE, request_body=body, **fields)
    return record(outcome="applied", request_body=body, attempt=attempt, after={**BEFORE, **body}, **fields)


def _diff_rows(response) -> list[str]:
    html = response.content.decode()
    table = html[html.index('<caption class="visually-hidden">Changes</caption>') :].split(
        "</table>\n</div>"
    )[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", "<tr" + row).split()) for row in table.split("<tr")[2:]]


@pytest.mark.parametrize(
    ("body", "row"),
    [
        ({"service_name": "web-2"}, "Service name changed web web-2"),
        ({"description": ""}, "Description changed old text (empty)"),
        ({"approval_enabled": False}, "Connection approval required changed on off"),
        ({"port_id": NEW_PORT_ID}, f"Backend port ID changed {PORT_ID} {NEW_PORT_ID}"),
        ({"vip_port_id": NEW_PORT_ID}, f"Virtual IP port ID changed (empty) {NEW_PORT_ID}"),
        ({"tcp_proxy": "toa_open"}, "TCP proxy changed close toa_open"),
    ],
)
def test_it_shows_the_diff_of_every_kind_of_service_field(viewer_client, db, body, row) -> None:
    outcome = _applied(body)
    assert _diff_rows(viewer_client.get(f"/audit/{outcome.pk}/")) == [row]


def test_port_mappings_are_a_set_diff_of_added_removed_and_unchanged_rows(viewer_client, db) -> None:
    ports = [
        {"client_port": 80, "server_port": 8080, "protocol": "TCP"},
        {"client_port": 22, "server_port": 2222, "protocol": "TCP"},
    ]
    outcome = _applied({"ports": ports})
    response = viewer_client.get(f"/audit/{outcome.pk}/")
    html = response.content.decode()
    assert '<tr class="diff-added"><td>added</td><td>22</td><td>2222</td><td>TCP</td></tr>' in html
    assert '<tr class="diff-removed"><td>removed</td><td>443</td><td>8443</td><td>TCP</td></tr>' in html
    assert '<tr class="diff-unchanged"><td>unchanged</td><td>80</td><td>8080</td><td>TCP</td></tr>' in html
    assert "port mappings +1 −1" in text(viewer_client.get("/audit/"))


def test_an_account_change_is_diffed_key_by_key(viewer_client, db) -> None:
    outcome = record(
        action="update_credential", target_type="credential", outcome="recorded", request_body=None,
        before={"name": "Prod", "region": "eu-de", "environment": "staging", "access_key": "AKIA…0001"},
        after={"name": "Prod EU", "region": "eu-de", "environment": "production", "access_key": "AKIA…0001",
               "secret_status": "changed"},
    )  # fmt: skip
    rows = _diff_rows(viewer_client.get(f"/audit/{outcome.pk}/"))
    assert rows == [
        "Display name changed Prod Prod EU",
        "Environment changed staging production",
        "Secret changed (empty) changed",
    ]


def test_it_shows_the_request_and_its_result(viewer_client, db) -> None:
    attempt = record(outcome="attempted", before=BEFORE, request_body={"description": "x"})
    failed = record(
        outcome="rejected", attempt=attempt, request_body={"description": "x"}, http_status=400,
        error_code="EndPoint.0024", error_message="description is invalid", cloud_request_id="cafe0123beef",
        duration_ms=87,
    )  # fmt: skip
    shown = text(viewer_client.get(f"/audit/{failed.pk}/"))
    for part in (
        "HTTP status 400",
        "Error EndPoint.0024 description is invalid",
        "Cloud request ID cafe0123beef",
        f"Our request ID {failed.request_id}",
        "Duration 87 ms",
        "Source IP 192.0.2.10",
        f"Hash {failed.hash}",
        f"Previous record's hash {failed.prev_hash}",
        '"description": "x"',
        f"Before (kept by the attempt, #{attempt.seq} )",
        '"description": "old text"',
    ):
        assert part in shown.replace("&quot;", '"'), part


def test_attempt_outcome_and_same_request_link_each_other(
    viewer_client, account, simulator, operator
) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    result = change(account, service_id, operator, description="linked")
    outcome = result.record
    attempt = outcome.attempt
    outcome_page = viewer_client.get(f"/audit/{outcome.pk}/").content.decode()
    attempt_page = viewer_client.get(f"/audit/{attempt.pk}/").content.decode()
    assert f'<a href="/audit/{attempt.pk}/">record #{attempt.seq}</a> (before state' in outcome_page
    assert f'<a href="/audit/{outcome.pk}/">record #{outcome.seq}</a> (applied)' in attempt_page
    assert f'<a href="/audit/{attempt.pk}/">#{attempt.seq}</a> attempted' in outcome_page
    assert f'href="/credentials/{account.pk}/services/{service_id}/"' in outcome_page


def test_it_links_the_previous_and_next_change_of_the_same_service(viewer_client, db) -> None:
    first = _applied({"description": "1"})
    record(target_id="99999999-8888-4777-8666-555555555555", reason="another service")
    middle = _applied({"description": "2"})
    last = _applied({"description": "3"})
    shown = viewer_client.get(f"/audit/{middle.pk}/").content.decode()
    assert (
        f'<a href="/audit/{first.pk}/">← Previous change of this endpoint service (#{first.seq})</a>' in shown
    )
    assert f'<a href="/audit/{last.pk}/">Next change of this endpoint service (#{last.seq}) →</a>' in shown
    assert "No earlier change" in text(viewer_client.get(f"/audit/{first.pk}/"))


def test_restore_is_offered_to_operators_on_applied_changes_only(
    viewer_client, operator_client, account, simulator, operator
) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    applied = change(account, service_id, operator, description="to be undone").record
    edit = f"/credentials/{account.pk}/services/{service_id}/edit/?restore={applied.pk}"
    assert (
        f'href="{edit}">Restore these values</a>'
        in operator_client.get(f"/audit/{applied.pk}/").content.decode()
    )
    assert edit in operator_client.get(f"/audit/{applied.attempt_id}/").content.decode()
    assert "Restore these values" not in viewer_client.get(f"/audit/{applied.pk}/").content.decode()
    simulator.add_fault(
        match={"method": "PUT"}, action="status", status=400, error_code="EndPoint.0011", count=1
    )
    rejected = change(account, service_id, operator, description="refused").record
    assert rejected.outcome == "rejected"
    assert "Restore these values" not in operator_client.get(f"/audit/{rejected.pk}/").content.decode()


def test_a_restoring_change_and_the_restored_one_link_each_other(
    viewer_client, account, simulator, operator
) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    old = change(account, service_id, operator, description="mistake").record
    new = change(account, service_id, operator, description="", restored_from=old).record
    assert new.restored_from_id == old.pk
    new_page = text(viewer_client.get(f"/audit/{new.pk}/"))
    old_page = text(viewer_client.get(f"/audit/{old.pk}/"))
    assert re.search(rf"This change restored the values from before record #{old.seq} ?\.", new_page)
    assert f"The values from before this change were restored by record #{new.seq} (applied)" in old_page


def test_it_says_whether_the_chain_verifies_up_to_the_record(viewer_client, db) -> None:
    records = [record(reason=f"r{index}") for index in range(6)]
    # No verify_audit run yet: "not verified yet", as /audit/'s badge says, and what this page re-checked.
    assert (
        "Unverified — Not verified yet: no verify_audit run has checked it yet. Re-checked here just now "
        "from #1 up to this record: intact."
    ) in text(viewer_client.get(f"/audit/{records[4].pk}/"))
    second = records[1].seq  # after the viewer's own security events
    tamper(f"UPDATE audit_auditrecord SET reason = 'rewritten' WHERE seq = {second}")
    assert f"Broken — The chain is broken at #{second} (content)" in text(
        viewer_client.get(f"/audit/{records[4].pk}/")
    )
    assert f"Broken — Record #{second} does not match its hash" in text(
        viewer_client.get(f"/audit/{records[1].pk}/")
    )


def test_past_the_live_limit_it_relies_on_the_last_verification_run(viewer_client, db, settings) -> None:
    settings.AUDIT_LIVE_VERIFY_LIMIT = 3
    records = [record(reason=f"r{index}") for index in range(6)]
    assert (
        f"Not verified yet: no verify_audit run has checked it yet, and {records[4].seq} records are too many"
    ) in text(viewer_client.get(f"/audit/{records[4].pk}/"))
    call_command("verify_audit")
    later = [record(reason=f"later {index}") for index in range(5)]
    assert "Verified: the run of" in text(viewer_client.get(f"/audit/{records[4].pk}/"))
    assert "and 5 records are too many to re-check here" in text(viewer_client.get(f"/audit/{later[-1].pk}/"))
    assert f"Re-checked here just now from #{later[0].seq}" in text(
        viewer_client.get(f"/audit/{later[1].pk}/")
    )
    tamper(f"UPDATE audit_auditrecord SET reason = 'rewritten' WHERE seq = {records[4].seq}")
    assert f"Broken — Record #{records[4].seq} does not match its hash" in text(
        viewer_client.get(f"/audit/{records[4].pk}/")
    )


def test_an_unknown_record_is_not_found(viewer_client, db) -> None:
    assert viewer_client.get("/audit/999999/").status_code == 404


def test_the_page_makes_a_fixed_number_of_queries(viewer_client, db, django_assert_max_num_queries) -> None:
    outcome = _applied({"description": "q"})
    viewer_client.get(f"/audit/{outcome.pk}/")
    # 15: one is the second-factor middleware's, asking whether this user (a viewer, not verified) owes one.
    with mock.patch("django.conf.settings.AUDIT_LIVE_VERIFY_LIMIT", 0), django_assert_max_num_queries(15):
        viewer_client.get(f"/audit/{outcome.pk}/")
