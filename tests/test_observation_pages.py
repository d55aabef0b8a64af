"""The pages of the observation: one timeline per service (ours and observed, each with its source),
the "Source" filter and the exports, the overview card, and "Check for outside changes".

Outside changes are made through the simulated cloud's own API (``raw_api``), ours through the edit
flow's use case (``auditkit.change``); the observer runs for real against the simulator.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import seeds
from tests.auditkit import change, record
from tests.dashboard import client_for, make_account
from vpcepadmin.audit.models import OBSERVED_ACTIONS, OUTSIDE_ACTOR, Action, AuditRecord, Source
from vpcepadmin.changes.models import ObservationRun
from vpcepadmin.changes.observation import observe_account
from vpcepadmin.changes.overview import observation_overview

TIMEOUT = 10.0  # seconds, for connecting and for each read of a direct call to the simulator
ROW = re.compile(r'aria-label="Record (\d+)".*?source-badge source-(dashboard|outside)', re.S)
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"  # an exact time as the pages write it
SOURCE_OF_ROW = {"dashboard": "via vpcepadmin", "outside": "outside vpcepadmin"}


def _text(response: Any) -> str:
    """What a reader sees: the page without tags, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def _rows(response: Any) -> list[tuple[int, str]]:
    """(seq, source) of each row shown, top to bottom."""
    return [(int(seq), source) for seq, source in ROW.findall(response.content.decode())]


def _change_outside(raw_api: Any, service_id: str, **values: Any) -> None:
    answer = raw_api.put(seeds.service_path(service_id), values, timeout=TIMEOUT)
    assert answer.status == 200, answer.body


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def service_id(simulator: Any) -> str:
    return str(simulator.seed["endpoint_services"][0]["id"])


@pytest.fixture
def timeline(account: Any, simulator: Any, raw_api: Any, operator: Any, service_id: str) -> list[AuditRecord]:
    """Baseline; a change outside, observed; one of ours; another outside, observed. Its records."""
    assert observe_account(account).baseline
    _change_outside(raw_api, service_id, description="theirs, first")
    assert observe_account(account).recorded == 1
    change(account, service_id, operator, description="ours")
    _change_outside(raw_api, service_id, description="theirs, second")
    assert observe_account(account).recorded == 1
    return list(AuditRecord.objects.order_by("seq"))


# --- one timeline per service ---------------------------------------------------------------------


def test_it_shows_our_changes_and_observed_ones_in_one_history_newest_first(
    viewer_client, account, service_id, timeline
) -> None:
    response = viewer_client.get(f"/credentials/{account.pk}/services/{service_id}/?tab=history")
    rows = _rows(response)
    # Newest first: theirs (second), our outcome and attempt, theirs (first); the baseline is the account's.
    assert [source for _seq, source in rows] == ["outside", "dashboard", "dashboard", "outside"]
    assert [seq for seq, _source in rows] == sorted((seq for seq, _source in rows), reverse=True)
    shown = {record.seq: record for record in timeline}
    assert [shown[seq].action for seq, _source in rows] == [
        Action.OBSERVED_CHANGE, Action.MODIFY_ENDPOINT_SERVICE, Action.MODIFY_ENDPOINT_SERVICE,
        Action.OBSERVED_CHANGE,
    ]  # fmt: skip
    page = _text(response)
    assert "outside vpcepadmin" in page and "via vpcepadmin" in page
    assert "“theirs, second”" in page and "“ours”" in page


def test_each_row_of_the_audit_log_says_its_source_in_words(viewer_client, timeline) -> None:
    response = viewer_client.get("/audit/")
    for seq, source in _rows(response):
        expected = Source.of(AuditRecord.objects.get(seq=seq).action)
        assert source == expected.value
    page = response.content.decode()
    assert '<th scope="col">Source</th>' in page
    badges = re.findall(r'source-badge source-(\w+) [^"]*">([^<]+)<', page)
    assert badges and all(label == SOURCE_OF_ROW[source] for source, label in badges)


def test_a_record_page_says_its_source(viewer_client, timeline) -> None:
    observed = next(record for record in timeline if record.action == Action.OBSERVED_CHANGE)
    ours = next(record for record in timeline if record.action == Action.MODIFY_ENDPOINT_SERVICE)
    assert "Source outside vpcepadmin Actor outside vpcepadmin" in _text(
        viewer_client.get(f"/audit/{observed.pk}/")
    )
    assert "Source via vpcepadmin Actor operator" in _text(viewer_client.get(f"/audit/{ours.pk}/"))


# --- the "Source" filter ----------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["outside", "dashboard"])
def test_the_audit_log_filters_by_source(viewer_client, timeline, source) -> None:
    response = viewer_client.get(f"/audit/?source={source}")
    observed = set(AuditRecord.objects.filter(action__in=OBSERVED_ACTIONS).values_list("seq", flat=True))
    everything = set(AuditRecord.objects.values_list("seq", flat=True))
    expected = observed if source == "outside" else everything - observed
    assert {seq for seq, _source in _rows(response)} == expected
    assert {shown for _seq, shown in _rows(response)} == {source}
    page = response.content.decode()
    assert f'href="/audit/export.csv?source={source}"' in page
    assert f'href="/audit/export.json?source={source}"' in page
    assert f'<option value="{source}" selected>' in page


def test_the_source_filter_works_with_htmx_and_combines_with_the_others(
    viewer_client, account, timeline, service_id
) -> None:
    response = viewer_client.get(
        f"/audit/?source=outside&service={service_id}&account={account.pk}", HTTP_HX_REQUEST="true"
    )
    assert "<html" not in response.content.decode()
    wanted = AuditRecord.objects.filter(action=Action.OBSERVED_CHANGE, target_id=service_id)
    assert [seq for seq, _source in _rows(response)] == sorted(
        wanted.values_list("seq", flat=True), reverse=True
    )
    assert "Records where account=" in _text(response) and "source=outside" in _text(response)


def test_the_pages_of_a_source_keep_it(viewer_client, timeline, settings) -> None:
    settings.AUDIT_PAGE_SIZE = 1
    page = viewer_client.get("/audit/?source=outside").content.decode()
    older = re.search(r'href="(\?[^"]*before=\d+[^"]*)"', page)
    assert older is not None and "source=outside" in older.group(1)
    second = viewer_client.get("/audit/" + html.unescape(older.group(1)))
    assert [source for _seq, source in _rows(second)] == ["outside"]


@pytest.mark.parametrize("value", ["elsewhere", "OUTSIDE", "%00", "outside%0A"])
def test_an_unknown_source_is_ignored_and_said_so(viewer_client, timeline, value) -> None:
    response = viewer_client.get(f"/audit/?source={value}")
    assert response.status_code == 200
    assert "Ignored 1 filter: Source — Select a valid choice." in _text(response)
    assert {seq for seq, _source in _rows(response)} == set(AuditRecord.objects.values_list("seq", flat=True))
    assert viewer_client.get(f"/audit/export.json?source={value}").status_code == 200


# --- the exports ------------------------------------------------------------------------------------


def test_the_csv_export_ends_each_record_with_its_source(viewer_client, timeline) -> None:
    lines = _body(viewer_client.get("/audit/export.csv")).splitlines(keepends=True)
    rows = list(csv.DictReader(io.StringIO("".join(line for line in lines if not line.startswith("#")))))
    header = next(line for line in lines if not line.startswith("#"))
    assert header.rstrip("\r\n").endswith(",hash,source")
    assert len(rows) == AuditRecord.objects.count()
    for row in rows:
        assert row["source"] == Source.of(row["action"]).value
    assert {row["source"] for row in rows} == {"dashboard", "outside"}
    outside = [row for row in rows if row["source"] == "outside"]
    assert {row["actor_username"] for row in outside} == {OUTSIDE_ACTOR}


def test_the_json_export_of_a_source_holds_exactly_its_records(viewer_client, timeline) -> None:
    document = json.loads(_body(viewer_client.get("/audit/export.json?source=outside")))
    assert document["export"]["filter"] == {"source": "outside"}
    observed = AuditRecord.objects.filter(action__in=OBSERVED_ACTIONS).order_by("seq")
    assert [item["seq"] for item in document["records"]] == list(observed.values_list("seq", flat=True))
    assert {item["source"] for item in document["records"]} == {"outside"}
    ours = json.loads(_body(viewer_client.get("/audit/export.json?source=dashboard")))["records"]
    assert ours and {item["source"] for item in ours} == {"dashboard"}


# --- the overview card --------------------------------------------------------------------------------


def _summary(client: Client, account: Any) -> Any:
    return client.get(f"/credentials/{account.pk}/services/summary/", HTTP_HX_REQUEST="true")


def test_the_card_counts_the_outside_changes_of_the_last_day_and_says_when_observed(
    viewer_client, account, simulator, raw_api
) -> None:
    first = _text(_summary(viewer_client, account))
    assert "0 outside changes observed in the last 24 h Not observed yet" in first
    observe_account(account)
    services = [service["id"] for service in simulator.seed["endpoint_services"]]
    for service_id in services[:2]:
        _change_outside(raw_api, service_id, description="x")
    assert observe_account(account).recorded == 2
    long_ago = timezone.now() - timedelta(hours=25)
    with mock.patch("django.utils.timezone.now", return_value=long_ago):  # outside the window
        record(action=Action.OBSERVED_CHANGE, credential=account, target_id=services[2], actor=None)
    response = _summary(viewer_client, account)
    page = _text(response)
    assert "3 endpoint services" in page
    assert "2 outside changes observed in the last 24 h" in page
    assert re.search(rf"Last observed {STAMP} \( ?(now|less than a minute ago) ?\)", page)
    assert "Last observation failed" not in page
    link = re.search(r'href="(/audit/\?[^"]*)"><strong>2</strong>', response.content.decode())
    assert link is not None
    listed = viewer_client.get(html.unescape(link.group(1)))
    shown = AuditRecord.objects.filter(seq__in=[seq for seq, _source in _rows(listed)])
    assert sorted(shown.values_list("action", flat=True)) == [
        Action.OBSERVATION_BASELINE,
        Action.OBSERVED_CHANGE,
        Action.OBSERVED_CHANGE,
    ]  # the baseline of this day is listed too; it is no change


def test_the_card_reads_the_observation_in_two_queries_whatever_was_recorded(
    account, simulator, raw_api
) -> None:
    observe_account(account)
    with CaptureQueriesContext(connection) as few:
        observation_overview(account)
    for service in simulator.seed["endpoint_services"]:
        _change_outside(raw_api, service["id"], description="many")
    observe_account(account)
    with CaptureQueriesContext(connection) as many:
        overview = observation_overview(account)
    assert overview.outside_changes == 3
    assert len(few) == len(many) == 2


def test_a_failed_run_shows_its_error_on_the_card_and_keeps_the_last_success(
    viewer_client, account, simulator
) -> None:
    observe_account(account)
    simulator.add_fault(match={"path": "vpc-endpoint-services"}, action="status", status=500, count=50)
    report = observe_account(account)
    assert report.error
    run = ObservationRun.objects.filter(credential=account).latest("started_at")
    page = _text(_summary(viewer_client, account))
    assert "Could not load" in page  # the service counts: the cloud still fails
    assert re.search(rf"Last observed {STAMP}", page)
    assert re.search(rf"Last observation failed {STAMP} \(.+?\) ?: ", page)
    assert run.error in page


def test_an_account_never_read_says_so_with_its_error(viewer_client, db, simulator) -> None:
    broken = make_account(simulator.url, name="Broken", secret="wrong-secret")
    assert observe_account(broken).error
    page = _text(_summary(viewer_client, broken))
    assert "Never observed successfully" in page and "Last observation failed" in page


# --- "Check for outside changes" ------------------------------------------------------------------


def _observe(client: Client, account: Any, **headers: Any) -> Any:
    return client.post(f"/credentials/{account.pk}/services/observe/", **headers)


def test_the_account_page_offers_the_check_to_operators_with_progress(operator_client, account) -> None:
    page = operator_client.get(f"/credentials/{account.pk}/").content.decode()
    url = f"/credentials/{account.pk}/services/observe/"
    button = re.search(r"<button[^>]*>Check for outside changes</button>", page, re.S)
    assert button is not None
    for attribute in (
        f'formaction="{url}"', f'hx-post="{url}"', 'hx-target="#observe-result"',
        'hx-indicator="#observe-progress"', 'hx-disabled-elt="this"',
    ):  # fmt: skip
        assert attribute in button.group(0)
    assert re.search(r'id="observe-progress" class="htmx-indicator[^"]*">.*Checking the cloud…', page)
    assert 'name="csrfmiddlewaretoken"' in page


def test_an_operator_checks_and_is_told_what_was_found(operator_client, account, raw_api, service_id) -> None:
    first = _observe(operator_client, account, HTTP_HX_REQUEST="true")
    assert first.status_code == 200 and "<html" not in first.content.decode()
    assert "“Test account”: baseline of 3 services recorded" in _text(first)
    _change_outside(raw_api, service_id, description="x")
    second = _observe(operator_client, account, HTTP_HX_REQUEST="true")
    assert "“Test account”: 3 services, 1 outside change(s) recorded" in _text(second)
    assert f'href="/audit/?source=outside&amp;account={account.pk}"' in second.content.decode()
    assert ObservationRun.objects.filter(credential=account).count() == 2
    [seen] = AuditRecord.objects.filter(action=Action.OBSERVED_CHANGE)
    assert (seen.target_id, seen.actor_username) == (service_id, OUTSIDE_ACTOR)


def test_without_javascript_the_check_renders_the_account_page_with_the_result(
    admin_client_, account
) -> None:
    response = _observe(admin_client_, account)
    assert response.status_code == 200
    page = _text(response)
    assert "<html" in response.content.decode() and "Check for outside changes" in page
    assert "“Test account”: baseline of 3 services recorded" in page


def test_an_unreadable_account_is_reported_and_nothing_recorded(operator_client, db, simulator) -> None:
    broken = make_account(simulator.url, name="Broken", secret="wrong-secret")
    response = _observe(operator_client, broken, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "“Broken”: could not be read" in _text(response) and "nothing recorded" in _text(response)
    assert not AuditRecord.objects.filter(action__in=OBSERVED_ACTIONS).exists()


def test_a_viewer_has_no_button_and_is_refused(viewer_client, account, simulator) -> None:
    assert (
        "Check for outside changes" not in viewer_client.get(f"/credentials/{account.pk}/").content.decode()
    )
    assert _observe(viewer_client, account).status_code == 403
    assert _observe(viewer_client, account, HTTP_HX_REQUEST="true").status_code == 403
    assert not ObservationRun.objects.exists()
    assert simulator.journal() == []


def test_the_check_is_a_post_with_its_csrf_token(operator, account, simulator) -> None:
    strict = client_for(operator, Client(enforce_csrf_checks=True))
    assert _observe(strict, account).status_code == 403
    assert strict.get(f"/credentials/{account.pk}/services/observe/").status_code == 405
    assert not ObservationRun.objects.exists() and simulator.journal() == []
