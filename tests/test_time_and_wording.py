"""How pages show times (absolute in UTC, relative beside it), a cloud error said once, and the
accounts list showing only an error newer than the last success (issue 15, item 8)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.template import Context, Template

from tests.auditkit import record, text
from tests.dashboard import make_account
from vpcepadmin.cloud.errors import CloudRejected, CloudUnavailable
from vpcepadmin.cloud.failures import READ_TIMEOUT
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints.services import ReadProblem
from vpcepadmin.times import when_html

MOMENT = datetime(2026, 11, 29, 5, 24, tzinfo=UTC)
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(.+?\)"


def test_it_shows_the_absolute_utc_time_with_the_relative_one_beside_it() -> None:
    html = when_html(MOMENT, now=MOMENT + timedelta(hours=3))
    assert html == (
        '<time datetime="2026-11-29T05:24:00Z">2026-11-29 05:24:00 UTC</time>'
        ' <span class="text-muted small">(3 hours ago)</span>'
    )
    assert "(in 14 minutes)" in when_html(MOMENT, now=MOMENT - timedelta(minutes=14, seconds=5))


def test_it_says_what_the_caller_says_for_no_time() -> None:
    rendered = Template('{% load times %}[{% when none %}] [{% when none "never" %}]').render(Context({}))
    assert rendered == "[—] [never]"


def test_the_accounts_pages_show_utc_times_not_the_local_format(admin_client, simulator) -> None:
    account = make_account(simulator.url)
    CloudCredential.objects.filter(pk=account.pk).update(last_success_at=MOMENT)
    listed = text(admin_client.get("/credentials/"))
    assert "2026-11-29 05:24:00 UTC (" in listed
    detail = text(admin_client.get(f"/credentials/{account.pk}/"))
    assert "Last success 2026-11-29 05:24:00 UTC (" in detail
    assert re.search(rf"Created {STAMP} by", detail)
    assert "a.m." not in detail and "p.m." not in detail


def test_the_audit_list_shows_absolute_times_too(viewer_client, db) -> None:
    record()
    assert re.search(STAMP, text(viewer_client.get("/audit/")))


def test_the_accounts_list_shows_an_error_only_when_it_is_newer_than_the_last_success(
    admin_client, simulator
) -> None:
    account = make_account(simulator.url)
    older_error = {
        "last_error": "APIGW.0301: Incorrect IAM authentication information",
        "last_error_at": MOMENT,
    }
    CloudCredential.objects.filter(pk=account.pk).update(
        **older_error, last_success_at=MOMENT + timedelta(minutes=5)
    )
    assert "Incorrect IAM authentication" not in text(admin_client.get("/credentials/"))
    assert "none since the last success" in text(admin_client.get("/credentials/"))
    CloudCredential.objects.filter(pk=account.pk).update(last_error_at=MOMENT + timedelta(minutes=10))
    assert "Incorrect IAM authentication" in text(admin_client.get("/credentials/"))


def test_a_cloud_error_says_its_summary_once_and_its_detail_only_when_it_adds_something() -> None:
    assert CloudUnavailable().explained == "The cloud API is unavailable."
    assert CloudUnavailable("Service temporarily unavailable").explained == "The cloud API is unavailable."
    assert CloudUnavailable(READ_TIMEOUT).explained == f"The cloud API is unavailable. {READ_TIMEOUT}"
    rejected = CloudRejected("Port 8443 is already used", error_code="EndPoint.0011")
    assert rejected.explained == "The cloud rejected the request. Port 8443 is already used"
    problem = ReadProblem.from_error(CloudUnavailable("The cloud API is unavailable."))
    assert problem.message == "The cloud API is unavailable."


def test_the_connection_test_says_the_cloud_is_unavailable_once(admin_client, simulator) -> None:
    account = make_account(simulator.url)
    simulator.add_fault(match={"path": "quotas"}, action="status", status=503, count=5)
    shown = text(admin_client.post(f"/credentials/{account.pk}/test/", follow=True))
    assert "The cloud API is unavailable." in shown
    assert "Backend unavailable" not in shown  # the simulator's 503 message says nothing more
    account.refresh_from_db()
    assert account.current_error.endswith("The cloud API is unavailable."), account.current_error
