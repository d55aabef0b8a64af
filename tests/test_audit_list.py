"""The audit log page: filters (each and combined, kept in the URL, with and without htmx), the rows,
keyset pages that stay stable while records are appended, and the verification badge."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.auditkit import record, tamper, text
from tests.dashboard import make_account
from vpcepadmin.audit.models import SECURITY_ACTIONS, AuditRecord
from vpcepadmin.credentials.models import Environment

OTHER_SERVICE = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(.+?\)"


def _seqs(response) -> list[int]:
    """The sequence numbers of the rows shown, top to bottom — without the security events that
    creating the personas and signing them in leave (these tests look at the records they made)."""
    shown = [int(seq) for seq in re.findall(r'aria-label="Record (\d+)"', response.content.decode())]
    security = set(AuditRecord.objects.filter(action__in=SECURITY_ACTIONS).values_list("seq", flat=True))
    return [seq for seq in shown if seq not in security]


@pytest.fixture
def log(db, operator, admin_user, simulator):
    """Two accounts (one production) and records that differ in one filter each."""
    prod = make_account(simulator.url, name="Prod EU", environment=Environment.PRODUCTION)
    test = make_account(simulator.url, name="Test EU", project_id="f" * 32)
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    made = {}
    specs = {
        "prod_applied": {"actor": operator, "credential": prod, "reason": "CHG-100 open 8443"},
        "test_applied": {"actor": admin_user, "credential": test, "target_id": OTHER_SERVICE, "target_name": "api"},
        "rejected": {"actor": operator, "credential": test, "outcome": "rejected", "error_code": "EndPoint.0011",
                     "error_message": "The port mapping conflicts with service payments"},
        "account": {"actor": admin_user, "credential": prod, "action": "update_credential", "target_type": "credential",
                    "target_id": "1", "target_name": "Prod EU", "outcome": "recorded", "reason": "",
                    "before": {"name": "Prod"}, "after": {"name": "Prod EU"}, "request_body": None},
    }  # fmt: skip
    for offset, (name, fields) in enumerate(specs.items()):
        with mock.patch("django.utils.timezone.now", return_value=at + timedelta(days=offset)):
            made[name] = record(**fields)
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=operator", {"prod_applied", "rejected"}),
        ("service=" + OTHER_SERVICE, {"test_applied"}),
        ("service=api", {"test_applied"}),
        ("action=update_credential", {"account"}),
        ("outcome=rejected", {"rejected"}),
        ("since=2026-03-02T12:00", {"test_applied", "rejected", "account"}),
        ("until=2026-03-02T12:00", {"prod_applied", "test_applied"}),
        ("since=2026-03-02T00:00&until=2026-03-03T23:59", {"test_applied", "rejected"}),
        ("q=chg-100", {"prod_applied"}),
        ("q=payments", {"rejected"}),
        ("q=EndPoint.0011", {"rejected"}),
        ("q=Test EU", {"test_applied", "rejected"}),
        ("q=100%", set()),
        ("actor=operator&outcome=applied", {"prod_applied"}),
        ("actor=admin&q=prod", {"account"}),
        # Actor and service name match anywhere in the value, whatever the case (issue 15).
        ("actor=adm", {"test_applied", "account"}),
        ("actor=PERAT", {"prod_applied", "rejected"}),
        ("service=AP", {"test_applied"}),
        ("service=we", {"prod_applied", "rejected"}),
    ],
)
def test_it_filters_by_each_field_and_by_several_at_once(viewer_client, log, query, expected) -> None:
    response = viewer_client.get(f"/audit/?{query}")
    assert response.status_code == 200
    assert set(_seqs(response)) == {log[name].seq for name in expected}


def test_it_filters_by_account(viewer_client, log) -> None:
    prod = log["prod_applied"].credential
    response = viewer_client.get(f"/audit/?account={prod.pk}")
    assert set(_seqs(response)) == {log["prod_applied"].seq, log["account"].seq}


def test_an_invalid_filter_is_ignored_and_said_so(viewer_client, log) -> None:
    response = viewer_client.get("/audit/?since=yesterday&outcome=rejected")
    assert _seqs(response) == [log["rejected"].seq]
    assert "Ignored 1 filter: From (UTC) — Enter a valid date/time." in text(response)


def test_every_row_shows_what_an_auditor_needs(viewer_client, log) -> None:
    page = viewer_client.get("/audit/").content.decode()
    rejected = log["rejected"]
    row = page[page.index(f'aria-label="Record {rejected.seq}"') :].split("</tr>")[0]
    # Absolute in UTC with the relative time beside it (it was relative only, absolute on hover).
    assert '<time datetime="2026-03-03T12:00:00Z">2026-03-03 12:00:00 UTC</time>' in row
    assert "months ago)" in row
    for shown in (
        "operator",
        "Test EU",
        "Modify endpoint service",
        "text-bg-danger",
        "Rejected",
        "CHG-1: routine",
    ):
        assert shown in row
    assert "description “” → “new”" in row
    assert f'href="/audit/{rejected.pk}/"' in row
    prod_row = page[page.index(f'aria-label="Record {log["prod_applied"].seq}"') :].split("</tr>")[0]
    assert "env-badge env-red" in prod_row
    assert "Production" in prod_row


def test_the_filters_live_in_the_url_and_every_link_keeps_them(viewer_client, log) -> None:
    for _ in range(3):
        record(outcome="rejected")
    with mock.patch("django.conf.settings.AUDIT_PAGE_SIZE", 2):
        page = viewer_client.get("/audit/?outcome=rejected&q=routine").content.decode()
    assert 'value="routine"' in page
    assert '<option value="rejected" selected>' in page
    older = re.search(r'href="(\?[^"]*before=\d+[^"]*)"', page)
    assert older is not None and "outcome=rejected" in older.group(1) and "q=routine" in older.group(1)
    assert 'href="/audit/export.csv?q=routine&amp;outcome=rejected"' in page
    assert 'href="/audit/export.json?q=routine&amp;outcome=rejected"' in page


def test_htmx_gets_the_table_and_a_browser_without_javascript_the_page(viewer_client, log) -> None:
    partial = viewer_client.get("/audit/?outcome=rejected", HTTP_HX_REQUEST="true")
    full = viewer_client.get("/audit/?outcome=rejected")
    assert "<form" not in partial.content.decode() and "<html" not in partial.content.decode()
    assert _seqs(partial) == _seqs(full) == [log["rejected"].seq]
    form = full.content.decode()
    assert 'method="get" action="/audit/"' in form
    assert 'hx-get="/audit/" hx-target="#audit-results" hx-push-url="true"' in form
    assert "Apply filters" in form
    assert full["Vary"].count("HX-Request") == 1


def test_keyset_pages_skip_and_repeat_nothing_while_records_are_appended(viewer_client, db) -> None:
    for index in range(23):
        record(reason=f"first {index}")
    before = set(AuditRecord.objects.exclude(action__in=SECURITY_ACTIONS).values_list("seq", flat=True))
    seen: list[int] = []
    url = "/audit/"
    with mock.patch("django.conf.settings.AUDIT_PAGE_SIZE", 5):
        while url:
            response = viewer_client.get(url)
            seen += _seqs(response)
            record(reason="appended while paging")  # lands on top, never in a later (older) page
            older = re.search(r'href="\?([^"]*before=\d+)"', response.content.decode())
            url = "/audit/?" + older.group(1).replace("&amp;", "&") if older else ""
    assert len(seen) == len(set(seen))
    assert set(seen) >= before
    assert seen == sorted(seen, reverse=True)


def _walk(client, url: str) -> list[int]:
    """The rows of every page from ``url`` on, following "Older"."""
    seen: list[int] = []
    while url:
        response = client.get(url)
        seen += _seqs(response)
        older = re.search(r'href="\?([^"]*before=\d+)"', response.content.decode())
        url = "/audit/?" + older.group(1).replace("&amp;", "&") if older else ""
    return seen


def test_a_prefix_or_part_of_a_service_name_or_actor_finds_it_page_by_page(viewer_client, admin_user) -> None:
    orders = [record(target_name="orders-api", target_id=OTHER_SERVICE, actor=admin_user) for _ in range(7)]
    others = [record(target_name="payments") for _ in range(3)]
    expected = sorted((r.seq for r in orders), reverse=True)
    with mock.patch("django.conf.settings.AUDIT_PAGE_SIZE", 3):
        assert _walk(viewer_client, "/audit/?service=orders") == expected
        assert _walk(viewer_client, "/audit/?service=rs-AP") == expected
        assert _walk(viewer_client, "/audit/?actor=adm&service=orders") == expected
        assert _walk(viewer_client, f"/audit/?service={OTHER_SERVICE}") == expected  # an exact id
    assert set(_walk(viewer_client, "/audit/?service=pay")) == {r.seq for r in others}
    assert _walk(viewer_client, "/audit/?service=orders_") == []  # "_" is a character, not a wildcard


def test_newer_links_walk_back_to_the_top(viewer_client, db) -> None:
    base = AuditRecord.objects.count()  # the viewer's own security events come first
    for index in range(12):
        record(reason=f"r{index}")
    with mock.patch("django.conf.settings.AUDIT_PAGE_SIZE", 5):
        deep = viewer_client.get(f"/audit/?before={base + 3}")
        assert _seqs(deep) == [base + 2, base + 1]
        newer = viewer_client.get(f"/audit/?after={base + 2}")
        assert _seqs(newer) == [base + n for n in (7, 6, 5, 4, 3)]
        top = viewer_client.get(f"/audit/?after={base + 7}")
        assert _seqs(top) == [base + n for n in (12, 11, 10, 9, 8)]
        assert "?after=" not in top.content.decode()  # nothing newer: the link is off
        assert f"before={base + 8}" in top.content.decode()


def test_pages_cost_the_same_queries_at_any_depth_and_size_without_offset_or_count(viewer_client, db) -> None:
    def measure(url: str) -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            assert viewer_client.get(url).status_code == 200
        return len(queries), [query["sql"].upper() for query in queries.captured_queries]

    for _ in range(30):
        record()
    viewer_client.get("/audit/")  # the session's first request also stamps it
    small_first, _ = measure("/audit/")
    small_deep, _ = measure("/audit/?before=10&outcome=applied")
    for _ in range(150):
        record()
    big_first, _ = measure("/audit/")
    big_deep, sql = measure("/audit/?before=10&outcome=applied")
    assert small_first == big_first
    assert small_deep == big_deep == big_first + 1  # the one EXISTS for the "newer" link
    assert not any(" OFFSET " in query or "COUNT(" in query for query in sql)


def test_the_badge_shows_the_last_verification(viewer_client, db, settings) -> None:
    first = record()
    assert "Chain not verified yet" in text(viewer_client.get("/audit/"))
    call_command("verify_audit")
    record()
    shown = text(viewer_client.get("/audit/"))
    assert re.search(rf"Chain verified {STAMP} · up to #{first.seq} · 1 newer not yet", shown), shown
    tamper(f"UPDATE audit_auditrecord SET reason = 'rewritten' WHERE seq = {first.seq}")
    with pytest.raises(CommandError, match="content"):
        call_command("verify_audit")
    assert f"Chain broken at #{first.seq} (content)" in text(viewer_client.get("/audit/"))


def test_the_badge_and_a_records_page_tell_the_same(viewer_client, db, settings) -> None:
    """A record no verify_audit run has reached is "not verified yet" on both pages (the record's page
    adds what it re-checked itself); one a run has checked is "verified" on both."""
    newest = record()
    page = text(viewer_client.get(f"/audit/{newest.pk}/"))
    assert "Not verified yet: no verify_audit run has checked it yet. Re-checked here just now" in page
    assert "Verified" not in page.replace("Not verified", "")
    assert "Chain not verified yet" in text(viewer_client.get("/audit/"))
    call_command("verify_audit")
    assert "Verified: the run of" in text(viewer_client.get(f"/audit/{newest.pk}/"))
    assert f"· up to #{newest.seq}" in text(viewer_client.get("/audit/"))
    newer = record()
    assert "Not verified yet: the last verify_audit run checked the chain up to" in text(
        viewer_client.get(f"/audit/{newer.pk}/")
    )
    assert "1 newer not yet" in text(viewer_client.get("/audit/"))
    tamper(f"UPDATE audit_auditrecord SET reason = 'rewritten' WHERE seq = {newer.seq}")
    assert "Broken" in text(viewer_client.get(f"/audit/{newer.pk}/"))


@pytest.mark.parametrize("narrow", [0, 5000], ids=["wide range", "narrow range"])
def test_a_time_range_gives_the_same_records_bounded_by_sequence_or_not(viewer_client, log, narrow) -> None:
    with mock.patch("vpcepadmin.audit.filters.NARROW_TIME", narrow):
        response = viewer_client.get("/audit/?since=2026-03-02T00:00&until=2026-03-03T23:59")
        assert set(_seqs(response)) == {log["test_applied"].seq, log["rejected"].seq}
        assert _seqs(viewer_client.get("/audit/?since=2027-01-01T00:00")) == []


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("until=9999-12-31T23:59", "To (UTC) — Enter a date/time between 2000-01-01 and 9000-12-31."),
        ("since=0001-01-01T00:00", "From (UTC) — Enter a date/time between 2000-01-01 and 9000-12-31."),
        ("until=10000-01-01T00:00", "To (UTC) — Enter a valid date/time."),
        ("since=%D9%A2%D9%A0%D9%A2%D9%A6-03-02T12:00", "From (UTC) — Enter a valid date/time."),
        ("until=2026-03-02T12:00%2B99:00", "To (UTC) — Enter a valid date/time."),
    ],
)
def test_it_says_so_above_the_table_when_a_date_is_out_of_range_or_not_ascii(
    viewer_client, log, query, said
) -> None:
    response = viewer_client.get(f"/audit/?{query}&outcome=rejected")
    assert response.status_code == 200
    assert f"Ignored 1 filter: {said}" in text(response)
    assert _seqs(response) == [log["rejected"].seq]


@pytest.mark.parametrize("cursor", ["²", "١٢", "-1", "0", "1_0", str(10**30), " 3", ""])
def test_it_shows_the_newest_page_for_a_cursor_that_is_not_a_sequence_number(
    viewer_client, log, cursor
) -> None:
    for name in ("before", "after"):
        response = viewer_client.get("/audit/", {name: cursor})
        assert response.status_code == 200
        assert set(_seqs(response)) == {made.seq for made in log.values()}


def test_a_date_with_an_offset_is_read_in_utc_and_kept_in_utc(viewer_client, log) -> None:
    response = viewer_client.get("/audit/?since=2026-03-02T14:00%2B02:00&until=2026-03-03T23:59Z")
    assert set(_seqs(response)) == {log["test_applied"].seq, log["rejected"].seq}
    assert "since=2026-03-02T12%3A00" in response.content.decode()
