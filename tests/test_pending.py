"""The pending queue across accounts (/connections/pending/) against the simulator over real HTTP:
what each account's section shows, which calls it makes (the simulator's journal), how long an answer
is kept, how a failure stays within its account or service, and the navigation's badge."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import seeds
from tests.dashboard import ANONYMOUS, NO_ROLE, client_for, make_account
from vpcepadmin import roles
from vpcepadmin.credentials.models import CloudCredential, Environment
from vpcepadmin.endpoints.actions import Seen

PAGE = "/connections/pending/"
ORDERS, BILLING, OPEN = (
    seeds.stable_uuid("pending", "service", name) for name in ("orders", "billing", "open")
)
METRICS = seeds.stable_uuid("pending", "service", "metrics")
A1_OLD, A2, A1_NEW, A1_ACCEPTED, A3 = (seeds.stable_uuid("pending", "alpha", n) for n in range(5))
B_OLD, B_NEW = (seeds.stable_uuid("pending", "bravo", n) for n in range(2))
CONSUMERS = [f"{n:x}" * 32 for n in (10, 11, 12)]
SLOW = 0.3  # seconds of simulated latency per connection list in the concurrency test


def _endpoint(
    endpoint_id: str, service_id: str, day: str, consumer: int = 0, status: str = "pendingAcceptance"
):
    return {
        "id": endpoint_id, "service_id": service_id, "status": status, "domain_id": CONSUMERS[consumer],
        "created_at": f"2026-{day}T08:00:00Z",
    }  # fmt: skip


def _seed() -> dict[str, Any]:
    """Alpha (PROJECT_ID): orders and billing require approval, open does not (its pending connection
    is never asked for); Bravo (OTHER_PROJECT_ID): metrics."""
    services = [
        seeds.service(id=ORDERS, service_name="orders"),
        seeds.service(id=BILLING, service_name="billing"),
        seeds.service(id=OPEN, service_name="open", approval_enabled=False),
        seeds.service(id=METRICS, service_name="metrics", project_id=seeds.OTHER_PROJECT_ID),
    ]
    endpoints = [
        _endpoint(A1_NEW, ORDERS, "03-03", 2),
        _endpoint(A1_OLD, ORDERS, "03-01", 0),
        _endpoint(A1_ACCEPTED, ORDERS, "02-01", 1, status="accepted"),
        _endpoint(A2, BILLING, "03-02", 1),
        _endpoint(A3, OPEN, "01-01", 1),
        _endpoint(B_NEW, METRICS, "03-05", 0),
        _endpoint(B_OLD, METRICS, "02-20", 2),
    ]
    return seeds.standard_seed(services=0, endpoint_services=services, endpoints=endpoints)


@pytest.fixture(autouse=True)
def _empty_cache(settings) -> None:
    """A cache of this test's own (clearing a shared one could empty a Redis someone else uses)."""
    location = f"test-pending-{uuid.uuid4().hex}"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": location}
    }


@pytest.fixture
def cloud(simulator):
    simulator.reset(_seed())
    return simulator


@pytest.fixture
def alpha(db, cloud) -> CloudCredential:
    return make_account(cloud.url, name="Alpha", environment=Environment.PRODUCTION)


@pytest.fixture
def bravo(db, cloud) -> CloudCredential:
    return make_account(cloud.url, name="Bravo", project_id=seeds.OTHER_PROJECT_ID)


def _section(client, account: CloudCredential, query: str = "", htmx: bool = True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.get(f"{PAGE}{account.pk}/{query}", **headers)
    assert response.status_code == 200, response.content[:500]
    return response


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def _order(response, endpoint_ids) -> list[str]:
    """The endpoint ids among ``endpoint_ids`` that the page shows, in the order it shows them."""
    page = response.content.decode()
    return sorted((i for i in endpoint_ids if i in page), key=page.index)


def _connection_lists(simulator) -> list[dict[str, Any]]:
    return [e for e in simulator.journal(method="GET") if e["path"].endswith("/connections")]


def _badge(response) -> str | None:
    """The number on the navigation's Pending link, None without one."""
    match = re.search(
        r'href="/connections/pending/">Pending(?: <span class="badge[^"]*">(\d+))?', _html(response)
    )
    assert match, "no Pending link"
    return match.group(1)


def _html(response) -> str:
    return response.content.decode()


def test_it_lists_every_account_and_loads_each_section_by_itself(viewer_client, alpha, bravo, cloud) -> None:
    response = viewer_client.get(PAGE)
    page = _html(response)
    for account in (alpha, bravo):
        assert f'hx-get="{PAGE}{account.pk}/" hx-trigger="load"' in page
        assert f'<a href="{PAGE}{account.pk}/">open this account' in page  # the same URL without JavaScript
        assert f"env-border-{account.display_colour}" in page
    assert page.count("Loading pending connections…") == 2
    assert cloud.journal() == []  # the page itself asks no cloud
    assert f'hx-get="{PAGE}{alpha.pk}/?refresh=1"' in _html(viewer_client.get(PAGE + "?refresh=1"))


def test_it_shows_pending_connections_oldest_first_across_services_in_each_account(
    viewer_client, alpha, bravo, cloud
) -> None:
    every = [A1_OLD, A2, A1_NEW, A1_ACCEPTED, A3, B_OLD, B_NEW]
    first = _section(viewer_client, alpha)
    assert _order(first, every) == [A1_OLD, A2, A1_NEW]
    assert _order(_section(viewer_client, bravo), every) == [B_OLD, B_NEW]
    text = _text(first)
    assert "2026-03-01 08:00:00 UTC" in text
    assert re.search(r"2026-03-01 08:00:00 UTC \(\d+.* ago\)", text), text
    assert f'href="/credentials/{alpha.pk}/services/{ORDERS}/">orders</a>' in _html(first)
    assert f'href="/credentials/{alpha.pk}/services/{BILLING}/">billing</a>' in _html(first)
    assert CONSUMERS[0] in text and CONSUMERS[2] in text
    assert 'class="badge env-badge env-red">Production' in _html(first)
    assert "3 pending connections on 2 services requiring approval" in text
    # The absolute time in UTC with the relative one beside it (times.when_html).
    assert re.search(r"as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(now\)", text), text


def test_it_asks_only_the_services_that_require_approval_for_pending_connections(
    viewer_client, alpha, cloud
) -> None:
    _section(viewer_client, alpha)
    lists = _connection_lists(cloud)
    assert sorted(e["path"] for e in lists) == sorted(
        f"{seeds.service_path(s)}/connections" for s in (ORDERS, BILLING)
    )
    assert {e["query"] for e in lists} == {"limit=1000&status=pendingAcceptance"}
    assert len(cloud.journal(path_contains="vpc-endpoint-services")) == 3  # + the one list of services


def test_it_makes_at_most_eight_calls_at_a_time(viewer_client, alpha, cloud) -> None:
    services = seeds.numbered_services(20)
    endpoints = [_endpoint(seeds.stable_uuid("many", n), s["id"], "04-01") for n, s in enumerate(services)]
    cloud.reset(seeds.standard_seed(services=0, endpoint_services=services, endpoints=endpoints))
    cloud.add_fault(action="latency", seconds=SLOW, match={"path": "/connections$"})
    started = time.monotonic()
    response = _section(viewer_client, alpha)
    elapsed = time.monotonic() - started
    assert "20 pending connections on 20 services" in _text(response)
    lists = _connection_lists(cloud)
    assert len(lists) == 20
    # Each list takes at least SLOW; the journal notes its end. Calls ending within less than SLOW of
    # each other were all in flight at once: at most 8 of them, and 8 when the calls run in parallel.
    ends = sorted(datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ") for e in lists)
    window = timedelta(seconds=SLOW * 0.8)
    in_flight = max(sum(1 for other in ends if end - window < other <= end) for end in ends)
    assert in_flight == 8, ends
    assert len({e["client_port"] for e in lists}) <= 8  # one connection per worker thread
    assert elapsed < 20 * SLOW / 2, elapsed  # three rounds, not twenty calls in a row


def test_it_keeps_an_account_for_at_most_30_seconds(viewer_client, alpha, cloud) -> None:
    first = _text(_section(viewer_client, alpha))
    calls = len(cloud.journal())
    assert calls == 3
    again = _section(viewer_client, alpha)
    assert len(cloud.journal()) == calls  # from the cache: no call at all
    assert _order(again, [A1_OLD, A2, A1_NEW]) == [A1_OLD, A2, A1_NEW]
    assert first.split(" · as of ")[1][:12] == _text(again).split(" · as of ")[1][:12]  # the same read time
    later = timezone.now() + timedelta(seconds=12)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert "UTC (now)" not in _text(_section(viewer_client, alpha))  # 12 s: the same read, older
    assert len(cloud.journal()) == calls
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=31)):
        assert "UTC (now)" in _text(_section(viewer_client, alpha))
    assert len(cloud.journal()) == 2 * calls


def test_refresh_and_an_edited_account_read_the_cloud_again(viewer_client, alpha, cloud) -> None:
    _section(viewer_client, alpha)
    response = _section(viewer_client, alpha, "?refresh=1")
    assert len(cloud.journal()) == 6
    assert f'href="{PAGE}{alpha.pk}/?refresh=1" hx-get="{PAGE}{alpha.pk}/?refresh=1"' in _html(response)
    _section(viewer_client, alpha)
    assert len(cloud.journal()) == 6  # the refreshed answer is the cached one now
    CloudCredential.objects.filter(pk=alpha.pk).update(updated_at=timezone.now())
    _section(viewer_client, alpha)
    assert len(cloud.journal()) == 9


def test_a_failing_account_shows_its_own_error_while_the_others_render(viewer_client, alpha, cloud) -> None:
    broken = make_account(
        cloud.url,
        name="Broken",
        project_id=seeds.OTHER_PROJECT_ID,
        secret="SKwrongSecretKey000000000000000000000001",
    )
    page = viewer_client.get(PAGE)
    assert page.status_code == 200
    failed = _section(viewer_client, broken)
    assert "The cloud call failed." in _text(failed)
    assert "Try again" in _text(failed)
    assert _order(_section(viewer_client, alpha), [A1_OLD, A2, A1_NEW]) == [A1_OLD, A2, A1_NEW]
    before = len(cloud.journal())
    _section(viewer_client, broken)
    assert len(cloud.journal()) > before  # a failure is not kept: the next load asks again
    assert CloudCredential.objects.get(pk=broken.pk).last_error


def test_a_failing_service_is_named_and_the_others_are_shown(viewer_client, alpha, cloud) -> None:
    cloud.add_fault(action="status", status=500, match={"path": f"{ORDERS}/connections$"}, count=5)
    text = _text(_section(viewer_client, alpha))
    assert "Could not read the pending connections of orders" in text
    assert "EndPoint.0001" in text
    assert A2 in text
    assert A1_OLD not in text and A1_NEW not in text
    assert "1 pending connection on 2 services" in text


def test_the_badge_counts_what_the_cache_knows(viewer_client, alpha, bravo, cloud) -> None:
    assert _badge(viewer_client.get("/")) is None  # nothing known yet
    viewer_client.get(PAGE)
    _section(viewer_client, alpha)
    assert _badge(viewer_client.get("/")) == "3"
    _section(viewer_client, bravo)
    assert _badge(viewer_client.get("/credentials/")) == "5"
    calls = len(cloud.journal())
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=31)):
        assert _badge(viewer_client.get("/")) is None  # older than 30 s: not known any more
    assert len(cloud.journal()) == calls  # the badge never asks the cloud


def test_the_badge_costs_no_query(viewer_client, alpha, cloud) -> None:
    viewer_client.get("/credentials/")
    with CaptureQueriesContext(connection) as unknown:
        viewer_client.get("/credentials/")
    viewer_client.get(PAGE)
    _section(viewer_client, alpha)
    with CaptureQueriesContext(connection) as known:
        response = viewer_client.get("/credentials/")
    assert _badge(response) == "3"
    assert len(known) == len(unknown), [q["sql"] for q in known]


def test_an_account_opened_by_itself_counts_in_the_badge(viewer_client, alpha, cloud) -> None:
    _section(viewer_client, alpha)  # without the page of every account first
    assert _badge(viewer_client.get("/")) == "3"


def test_operators_get_accept_and_reject_through_the_confirmation(operator_client, alpha, cloud) -> None:
    page = _html(_section(operator_client, alpha))
    forms = re.findall(r'<form method="post" action="([^"]+)".*?</form>', page, re.S)
    assert len(forms) == 3
    assert f"/credentials/{alpha.pk}/services/{ORDERS}/connections/confirm/" in forms
    assert page.count('name="csrfmiddlewaretoken"') == 3
    first = re.search(r'name="accept" value="([^"]+)"', page)
    assert first and f'name="reject" value="{first.group(1)}"' in page
    seen = Seen.read(first.group(1), alpha, ORDERS)
    assert seen is not None
    assert (seen.item_id, seen.status, seen.domain_id) == (A1_OLD, "pendingAcceptance", CONSUMERS[0])
    confirm = operator_client.post(
        f"/credentials/{alpha.pk}/services/{ORDERS}/connections/confirm/", {"accept": first.group(1)}
    )
    assert confirm.status_code == 200
    assert A1_OLD in _html(confirm)
    assert cloud.journal(method="POST") == []  # the confirmation sends nothing yet


def test_viewers_see_no_accept_or_reject(viewer_client, alpha, cloud) -> None:
    page = _html(_section(viewer_client, alpha))
    assert A1_OLD in page
    assert "<form" not in page
    assert 'name="accept"' not in page and 'name="reject"' not in page


def test_without_javascript_an_account_is_a_whole_page(operator_client, alpha, cloud) -> None:
    response = _section(operator_client, alpha, htmx=False)
    page = _html(response)
    assert "<nav" in page and "env-banner env-red" in page
    assert "Pending connections of Alpha" in _text(response)
    assert _order(response, [A1_OLD, A2, A1_NEW]) == [A1_OLD, A2, A1_NEW]
    assert 'href="/connections/pending/">Every account' in page


def test_a_token_account_fetches_one_token_for_every_call(viewer_client, token_account, cloud) -> None:
    _section(viewer_client, token_account)
    assert len(cloud.journal(path_contains="/v3/auth/tokens")) == 1
    assert len(_connection_lists(cloud)) == 2


def test_it_reads_every_page_of_a_service_with_many_pending_connections(viewer_client, alpha, cloud) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    endpoints = [
        {"id": seeds.stable_uuid("crowd", n), "service_id": ORDERS, "status": "pendingAcceptance",
         "created_at": (base + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        for n in range(1001)
    ]  # fmt: skip
    cloud.reset(
        seeds.standard_seed(services=0, endpoint_services=[seeds.service(id=ORDERS)], endpoints=endpoints)
    )
    text = _text(_section(viewer_client, alpha))
    assert "1001 pending connections on 1 service " in text
    assert [e["query"] for e in _connection_lists(cloud)] == [
        "limit=1000&status=pendingAcceptance",
        "limit=1000&offset=1000&status=pendingAcceptance",
    ]


@pytest.mark.parametrize(
    ("who", "url", "expected"),
    [
        (ANONYMOUS, PAGE, 302),
        (NO_ROLE, PAGE, 403),
        (NO_ROLE, f"{PAGE}{{pk}}/", 403),
        (roles.VIEWER, f"{PAGE}999999/", 404),
        (roles.VIEWER, f"{PAGE}abc/", 404),
        (roles.VIEWER, f"{PAGE}{{pk}}/?refresh=%3Cscript%3E", 200),
    ],
)
def test_odd_requests_never_fail_the_server(people, alpha, cloud, who, url, expected) -> None:
    client = client_for(people[who])
    assert client.get(url.format(pk=alpha.pk)).status_code == expected
    assert client.post(PAGE).status_code in (302, 403, 405)
    assert client.post(f"{PAGE}{alpha.pk}/").status_code in (302, 403, 405)


def test_only_users_who_may_see_accounts_get_the_pending_link(people, alpha, cloud) -> None:
    assert "/connections/pending/" not in _html(client_for(people[NO_ROLE]).get("/"))
    assert 'href="/connections/pending/">Pending' in _html(client_for(people[roles.VIEWER]).get("/"))


def test_an_accept_drops_the_accounts_cached_queue(operator_client, bravo, cloud) -> None:
    """After an accept through the dashboard the queue is read again, not shown as still waiting."""
    text = _html(_section(operator_client, bravo))
    token = re.search(r'name="accept" value="([^"]+)"', text)
    action = re.search(r'<form method="post" action="([^"]+)"', text)
    assert token is not None and action is not None
    assert _badge(operator_client.get("/")) == "2"
    data = {"do": "accept", "connection": [token.group(1)], "step": "apply", "reason": "approved"}
    assert "Change applied." in _html(operator_client.post(action.group(1), data, follow=True))
    assert _badge(operator_client.get("/")) is None
    assert "<strong>1</strong> pending connection on" in _html(_section(operator_client, bravo))
