"""Connections and the whitelist through the cloud client, over real HTTP to the simulator (api §7.1,
§7.2): what each call sends and reads, None when nothing matches, errors in the taxonomy, POSTs
never sent twice; and ``whitelist.entry_for`` against the documented rules of an entry."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import seeds
from tests.cloudkit import aksk_client
from tests.conftest import RawApi, SimulatorHandle
from tests.seeds import service, service_path, stable_uuid, standard_seed
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import (
    ConnectionAction,
    connection_action,
    connection_get,
    permission_action,
    permission_find,
    permission_list,
)
from vpcepadmin.cloud.errors import CloudNotFound, CloudOutcomeUnknown, CloudRejected, CloudUnavailable
from vpcepadmin.cloud.types import Connection, Permission, PermissionPage
from vpcepadmin.cloud.whitelist import CHOICES, EntryType, describe, entry_for

SERVICE_ID = stable_uuid("client-connections", "service")
OTHER_SERVICE_ID = stable_uuid("client-connections", "other")
GONE_SERVICE_ID = stable_uuid("client-connections", "gone")
PENDING, ACCEPTED, CREATING, ELSEWHERE = (stable_uuid("client-endpoint", n) for n in range(4))
ABC_ID = stable_uuid("client-permission", "abc")
ABC, ABC1 = "iam:domain::abc", "iam:domain::abc1"
ORG = "organizations:orgPath::o-1/r-2/ou-3"
NEW = f"iam:domain::{seeds.FOREIGN_DOMAIN_ID}"
PREFIX, ORG_PREFIX = "iam:domain::", "organizations:orgPath::"
SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)


def endpoint(endpoint_id: str, service_id: str, status: str, day: int) -> dict[str, Any]:
    return {
        "id": endpoint_id,
        "service_id": service_id,
        "status": status,
        "domain_id": seeds.FOREIGN_DOMAIN_ID,
        "marker_id": 16777300 + day,
        "description": f"endpoint {day}",
        "created_at": f"2026-02-{day:02d}T00:00:00Z",
    }


def permission(entry: str, day: int, **extra: Any) -> dict[str, Any]:
    document = {"service_id": SERVICE_ID, "permission": entry, "created_at": f"2026-03-{day:02d}T08:00:00Z"}
    return {**document, **extra}


@pytest.fixture
def cloud(simulator: SimulatorHandle) -> SimulatorHandle:
    """Two services; four endpoints (one of the other service); four whitelist entries."""
    endpoints = [
        endpoint(PENDING, SERVICE_ID, "pendingAcceptance", 1),
        endpoint(ACCEPTED, SERVICE_ID, "accepted", 2),
        endpoint(CREATING, SERVICE_ID, "creating", 3),
        endpoint(ELSEWHERE, OTHER_SERVICE_ID, "pendingAcceptance", 4),
    ]
    permissions = [
        permission(ABC, 1, id=ABC_ID, description="partner"),
        permission(ABC1, 2),
        permission(ORG, 3, permission_type="orgPath"),
        permission("*", 4),
    ]
    services = [service(id=SERVICE_ID), service(id=OTHER_SERVICE_ID)]
    simulator.reset(
        standard_seed(services=0, endpoint_services=services, endpoints=endpoints, permissions=permissions)
    )
    return simulator


@pytest.fixture
def client(cloud: SimulatorHandle) -> VpcepClient:
    return aksk_client(cloud.url)


def status_of(client: VpcepClient, service_id: str, endpoint_id: str) -> str:
    connection = connection_get(client, service_id, endpoint_id)
    assert connection is not None
    return connection.status


# --- connections ----------------------------------------------------------------------------------
def test_it_reads_one_connection_with_one_get_by_endpoint_id(cloud, client) -> None:
    assert connection_get(client, SERVICE_ID, PENDING) == Connection(
        id=PENDING,
        status="pendingAcceptance",
        marker_id=16777301,
        domain_id=seeds.FOREIGN_DOMAIN_ID,
        description="endpoint 1",
        created_at=datetime(2026, 2, 1, tzinfo=UTC),
        updated_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    [get] = cloud.journal()
    assert get["path"] == service_path(SERVICE_ID) + "/connections"
    assert parse_qs(get["query"]) == {"id": [PENDING]}


def test_a_connections_to_api_is_what_the_api_shows(cloud, client, raw_api: RawApi) -> None:
    shown = raw_api.get(service_path(SERVICE_ID) + "/connections", query=[("id", ACCEPTED)]).json()
    connection = connection_get(client, SERVICE_ID, ACCEPTED)
    assert connection is not None
    assert connection.to_api() == shown["connections"][0]
    assert Connection.from_api(connection.to_api()) == connection


@pytest.mark.parametrize(
    "endpoint_id",
    # "": the simulator ignores an empty filter and lists every connection; none has that id.
    [ELSEWHERE, stable_uuid("client-endpoint", "nobody"), ""],
    ids=["of-another-service", "unknown", "empty"],
)
def test_it_finds_no_connection_the_service_does_not_have(cloud, client, endpoint_id) -> None:
    assert connection_get(client, SERVICE_ID, endpoint_id) is None


@pytest.mark.parametrize(
    ("action", "endpoint_id", "status"),
    [
        ("receive", PENDING, "accepted"),
        (ConnectionAction.RECEIVE, PENDING, "accepted"),
        ("reject", ACCEPTED, "rejected"),
    ],
)
def test_it_receives_or_rejects_one_endpoint_with_one_post(
    cloud, client, action, endpoint_id, status
) -> None:
    result = connection_action(client, SERVICE_ID, action, endpoint_id)
    assert (result.value.id, result.value.status) == (endpoint_id, status)
    [post] = cloud.journal(method="POST")
    assert post["path"] == service_path(SERVICE_ID) + "/connections/action"
    assert post["body"] == {"action": str(action), "endpoints": [endpoint_id]}
    assert (result.status, result.cloud_request_id) == (200, post["request_id"])
    assert result.body["connections"][0]["status"] == status
    assert status_of(client, SERVICE_ID, endpoint_id) == status


@pytest.mark.parametrize("action", ["accept", "RECEIVE", ""])
def test_it_refuses_a_connection_verb_the_api_lacks_before_sending(cloud, client, action) -> None:
    with pytest.raises(ValueError, match="receive, reject"):
        connection_action(client, SERVICE_ID, action, PENDING)
    assert cloud.journal() == []


@pytest.mark.parametrize(
    ("endpoint_id", "code"),
    [(ELSEWHERE, "EndPoint.2013"), (CREATING, "EndPoint.2019")],
    ids=["of-another-service", "being-created"],
)
def test_it_reports_a_refused_connection_action_as_rejected(cloud, client, endpoint_id, code) -> None:
    with pytest.raises(CloudRejected) as caught:
        connection_action(client, SERVICE_ID, "receive", endpoint_id)
    [post] = cloud.journal(method="POST")
    assert (caught.value.status, caught.value.error_code) == (400, code)
    assert caught.value.cloud_request_id == post["request_id"]
    assert status_of(client, OTHER_SERVICE_ID, ELSEWHERE) == "pendingAcceptance"
    assert status_of(client, SERVICE_ID, CREATING) == "creating"


# --- the whitelist --------------------------------------------------------------------------------
def test_it_lists_the_whitelist_with_its_total_and_pages_it(cloud, client) -> None:
    everything = permission_list(client, SERVICE_ID)
    assert everything.total_count == 4
    assert {item.permission for item in everything.permissions} == {ABC, ABC1, ORG, "*"}
    first = permission_list(client, SERVICE_ID, limit=3)
    rest = permission_list(client, SERVICE_ID, limit=3, offset=3)
    assert (len(first.permissions), len(rest.permissions), rest.total_count) == (3, 1, 4)
    assert set(first.permissions) | set(rest.permissions) == set(everything.permissions)
    assert permission_list(client, OTHER_SERVICE_ID) == PermissionPage((), 0)


def test_it_reads_each_field_of_a_whitelist_entry_as_the_api_shows_it(cloud, client, raw_api) -> None:
    entries = permission_list(client, SERVICE_ID).permissions
    [abc] = [item for item in entries if item.id == ABC_ID]
    assert abc == Permission(ABC_ID, ABC, "domainId", "partner", datetime(2026, 3, 1, 8, tzinfo=UTC))
    assert {item.permission: item.permission_type for item in entries}[ORG] == "orgPath"
    shown = raw_api.get(service_path(SERVICE_ID) + "/permissions").json()["permissions"]
    assert [item.to_api() for item in entries] == shown


def test_it_passes_the_fuzzy_filter_on(cloud, client) -> None:
    page = permission_list(client, SERVICE_ID, permission=ABC)
    assert {item.permission for item in page.permissions} == {ABC, ABC1}
    assert parse_qs(cloud.journal()[0]["query"]) == {"permission": [ABC]}


@pytest.mark.parametrize("entry", [ABC, "*", ORG])  # the filter ABC also matches the newer ABC1
def test_it_finds_the_entry_that_equals_exactly_with_one_get(cloud, client, entry) -> None:
    found = permission_find(client, SERVICE_ID, entry)
    assert found is not None
    assert found.permission == entry
    [get] = cloud.journal()
    assert get["path"] == service_path(SERVICE_ID) + "/permissions"
    assert parse_qs(get["query"]) == {"permission": [entry], "limit": ["500"]}


@pytest.mark.parametrize("entry", ["iam:domain::ab", "iam:domain::abc12", "organizations:orgPath::o-1"])
def test_it_finds_nothing_when_only_the_fuzzy_filter_matches(cloud, client, entry) -> None:
    assert permission_find(client, SERVICE_ID, entry) is None
    assert len(cloud.journal()) == 1


@pytest.mark.parametrize("present", [True, False])
def test_it_reads_on_past_500_fuzzy_matches_before_it_says_none(simulator, present) -> None:
    target = "iam:domain::m"
    others = [permission(f"iam:domain::m{n:04d}", 2) for n in range(501 - present)]
    oldest = [permission(target, 1)] if present else []
    simulator.reset(
        standard_seed(services=0, endpoint_services=[service(id=SERVICE_ID)], permissions=oldest + others)
    )
    found = permission_find(aksk_client(simulator.url), SERVICE_ID, target)
    assert (found is not None and found.permission == target) is present
    assert [parse_qs(get["query"]).get("offset") for get in simulator.journal()] == [None, ["500"]]


def test_it_adds_and_removes_whitelist_entries_with_one_post_each(cloud, client) -> None:
    org = entry_for("org_path", "o-9/r-8")
    added = permission_action(client, SERVICE_ID, "add", [NEW, ABC], "domainId")
    assert added.value == (NEW, ABC)
    assert permission_action(client, SERVICE_ID, "add", [org[0]], org[1]).value == (org[0],)
    [first, second] = cloud.journal(method="POST")
    assert first["path"] == service_path(SERVICE_ID) + "/permissions/action"
    assert first["body"] == {"permissions": [NEW, ABC], "action": "add", "permission_type": "domainId"}
    assert second["body"] == {"permissions": [org[0]], "action": "add", "permission_type": "orgPath"}
    assert (added.status, added.cloud_request_id) == (200, first["request_id"])
    new = permission_find(client, SERVICE_ID, NEW)
    assert new is not None and new.permission_type == "domainId"
    assert permission_list(client, SERVICE_ID).total_count == 6

    removed = permission_action(client, SERVICE_ID, "remove", [NEW], "domainId")
    assert removed.value == (NEW,)
    assert permission_find(client, SERVICE_ID, NEW) is None
    assert permission_find(client, SERVICE_ID, ABC) is not None


@pytest.mark.parametrize(
    ("action", "entries", "permission_type", "message"),
    [
        ("grant", [NEW], "domainId", "add, remove"),
        ("add", [], "domainId", "at least one entry"),
        ("add", [NEW], "accountId", "domainId, orgPath"),
    ],
)
def test_it_refuses_a_malformed_whitelist_change_before_sending(
    cloud, client, action, entries, permission_type, message
) -> None:
    with pytest.raises(ValueError, match=message):
        permission_action(client, SERVICE_ID, action, entries, permission_type)
    assert cloud.journal() == []


def test_it_reports_an_entry_the_cloud_refuses_as_rejected(cloud, client) -> None:
    with pytest.raises(CloudRejected) as caught:
        permission_action(client, SERVICE_ID, "add", ["iam:domain::a-b"], "domainId")
    assert (caught.value.status, caught.value.error_code) == (400, "EndPoint.3002")
    assert permission_list(client, SERVICE_ID).total_count == 4


CALLS: dict[str, Callable[[VpcepClient, str], object]] = {
    "connection_get": lambda client, sid: connection_get(client, sid, PENDING),
    "connection_action": lambda client, sid: connection_action(client, sid, "receive", PENDING),
    "permission_list": lambda client, sid: permission_list(client, sid),
    "permission_find": lambda client, sid: permission_find(client, sid, ABC),
    "permission_action": lambda client, sid: permission_action(client, sid, "add", [NEW], "domainId"),
}


@pytest.mark.parametrize("call", CALLS)
def test_each_call_reports_an_unknown_service_as_not_found(cloud, client, call) -> None:
    with pytest.raises(CloudNotFound) as caught:
        CALLS[call](client, GONE_SERVICE_ID)
    assert (caught.value.status, caught.value.error_code) == (404, "EndPoint.0005")


# --- retries: GETs again, POSTs never -------------------------------------------------------------
MUTATIONS = {
    "connection_action": ("connections/action$", lambda c: status_of(c, SERVICE_ID, PENDING) == "accepted"),
    "permission_action": ("permissions/action$", lambda c: permission_find(c, SERVICE_ID, NEW) is not None),
}


@pytest.mark.parametrize(
    ("fault", "error", "journaled"),
    [
        ({"action": "status", "status": 503}, CloudUnavailable, 503),
        ({"action": "reset_before"}, CloudOutcomeUnknown, 0),
    ],
    ids=["503", "reset"],
)
@pytest.mark.parametrize("mutation", MUTATIONS)
def test_it_never_sends_a_post_twice(cloud, client, mutation, fault, error, journaled) -> None:
    """The fault hits once only: a second send would succeed and show here."""
    path, applied = MUTATIONS[mutation]
    cloud.add_fault(match={"method": "POST", "path": path}, count=1, **fault)
    with pytest.raises(error):
        CALLS[mutation](client, SERVICE_ID)
    assert [entry["status"] for entry in cloud.journal(method="POST")] == [journaled]
    assert applied(client) is False


@pytest.mark.parametrize("call", ["connection_get", "permission_find"])
def test_it_sends_a_get_again_after_a_503_or_a_reset(cloud, client, call) -> None:
    cloud.add_fault(match={"method": "GET"}, action="status", status=503, count=1)
    cloud.add_fault(match={"method": "GET"}, action="reset_before", count=1)
    assert CALLS[call](client, SERVICE_ID) is not None
    assert [entry["status"] for entry in cloud.journal(method="GET")] == [503, 0, 200]


@pytest.mark.parametrize(
    ("call", "error"),
    [(name, CloudOutcomeUnknown) for name in MUTATIONS]
    + [
        ("connection_get", CloudUnavailable),
        ("permission_list", CloudUnavailable),
    ],
)
def test_an_answer_of_the_wrong_shape_is_unreadable_and_a_mutations_outcome_unknown(
    cloud, client, call, error
) -> None:
    cloud.add_fault(action="oversize", size=100, count=5)  # 200 with a valid JSON object of another shape
    with pytest.raises(error, match="could not be read"):
        CALLS[call](client, SERVICE_ID)


# --- entries: what an operator types, what the API stores -----------------------------------------
ORG_1001 = "p" * (1024 - len(ORG_PREFIX))


@pytest.mark.parametrize(
    ("entry_type", "value", "expected"),
    [
        ("account", "abc", (ABC, "domainId")),
        ("account", ABC, (ABC, "domainId")),
        (EntryType.ACCOUNT, "  abc\t", (ABC, "domainId")),
        ("account", "a" * 64, (PREFIX + "a" * 64, "domainId")),
        ("account", PREFIX + "Z9*" * 21 + "q", (PREFIX + "Z9*" * 21 + "q", "domainId")),
        ("account", "*", ("iam:domain::*", "domainId")),
        ("org_path", "o-1/r-2/ou-3", (ORG, "orgPath")),
        ("org_path", ORG, (ORG, "orgPath")),
        ("org_path", ORG_1001, (ORG_PREFIX + ORG_1001, "orgPath")),
        ("org_path", ORG_PREFIX + ORG_1001, (ORG_PREFIX + ORG_1001, "orgPath")),
        ("everyone", "", ("*", "domainId")),
        ("everyone", " * ", ("*", "domainId")),
    ],
)
def test_it_spells_an_entry_as_the_api_stores_it(entry_type, value, expected) -> None:
    assert entry_for(entry_type, value) == expected
    assert len(expected[0]) <= 1024


@pytest.mark.parametrize(
    ("entry_type", "value", "message"),
    [
        ("account", "", "Enter an account ID"),
        ("account", "   ", "Enter an account ID"),
        ("account", PREFIX, "Enter an account ID"),
        ("account", "a" * 65, "at most 64 characters; this one has 65"),
        ("account", PREFIX + "a" * 65, "at most 64 characters; this one has 65"),
        ("account", "a-b", "only letters"),
        ("account", "a b", "only letters"),
        ("account", "äbc", "only letters"),
        ("account", "IAM:DOMAIN::abc", "only letters"),
        ("account", ORG, 'choose the type "Organization path"'),
        ("org_path", "", "Enter an organization path"),
        ("org_path", ORG_PREFIX, "Enter an organization path"),
        ("org_path", ORG_1001 + "p", "at most 1001 characters; this one has 1002"),
        ("org_path", ORG_PREFIX + ORG_1001 + "p", "at most 1001 characters; this one has 1002"),
        ("org_path", "p" * 1025, "at most 1001 characters; this one has 1025"),
        ("org_path", "o-1/r 2", "digits and / - * ?"),
        ("org_path", "o-1/\x00", "digits and / - * ?"),
        ("org_path", "o-1/ü", "digits and / - * ?"),
        ("org_path", "o_1.r:2", "digits and / - * ?"),
        ("org_path", ABC, 'choose the type "Account ID"'),
        ("everyone", "abc", "takes no value"),
        ("domainId", "abc", "Choose a type: Account ID, Organization path, Everyone"),
        ("", "abc", "Choose a type"),
    ],
)
def test_it_refuses_an_entry_in_plain_words(entry_type, value, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        entry_for(entry_type, value)


# The documented rules (vpcep-api.md §7.2, the SDK's model text), written out here on purpose.
ACCOUNT_RULE = re.compile(r"[A-Za-z0-9*]{1,64}")
ORG_PATH_RULE = re.compile(r"[A-Za-z0-9/*?-]+")
typed_text = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "*", max_size=70),
    st.text(alphabet=string.ascii_letters + "*-: \t/ä", max_size=70),
    st.text(max_size=70),
)
org_text = st.text(alphabet=string.ascii_letters + string.digits + "/*?-", max_size=40)


@SETTINGS
@given(typed=typed_text, prefixed=st.booleans())
def test_an_account_id_is_taken_exactly_when_it_meets_the_documented_rule(typed, prefixed) -> None:
    value = PREFIX + typed if prefixed else typed
    bare = value.strip().removeprefix(PREFIX)
    try:
        result: tuple[str, str] | None = entry_for("account", value)
    except ValueError:
        result = None
    assert result == ((PREFIX + bare, "domainId") if ACCOUNT_RULE.fullmatch(bare) else None)
    if result is not None:
        assert describe(result[0]) == ("Account ID", bare)


@SETTINGS
@given(
    path=st.text(alphabet=string.printable + "ü", max_size=40) | org_text,
    pad=st.integers(0, 1010),
    prefixed=st.booleans(),
)
def test_an_org_path_is_taken_exactly_when_it_meets_the_documented_rule(path, pad, prefixed) -> None:
    value = (ORG_PREFIX if prefixed else "") + path + "x" * pad
    bare = value.strip().removeprefix(ORG_PREFIX)
    ok = bool(ORG_PATH_RULE.fullmatch(bare)) and len(ORG_PREFIX + bare) <= 1024
    try:
        result: tuple[str, str] | None = entry_for("org_path", value)
    except ValueError:
        result = None
    assert result == ((ORG_PREFIX + bare, "orgPath") if ok else None)
    if result is not None:
        assert describe(result[0]) == ("Organization path", bare)


def test_it_describes_each_kind_of_stored_entry() -> None:
    assert CHOICES == (("account", "Account ID"), ("org_path", "Organization path"), ("everyone", "Everyone"))
    assert describe(ABC) == ("Account ID", "abc")
    assert describe(ORG) == ("Organization path", "o-1/r-2/ou-3")
    assert describe("*") == ("Everyone", "*")
    assert describe("iam:user::x") == ("Other", "iam:user::x")


def test_the_cloud_takes_the_entries_at_the_edges_of_the_rules(cloud, client) -> None:
    entries = [entry_for("account", "a*" * 32), entry_for("org_path", ORG_1001), entry_for("everyone", "")]
    for entry, permission_type in entries:
        assert permission_action(client, SERVICE_ID, "add", [entry], permission_type).value == (entry,)
        found = permission_find(client, SERVICE_ID, entry)
        assert found is not None
        assert found.permission_type == permission_type


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"id": "p1", "permission": ORG}, Permission("p1", ORG, "orgPath")),
        ({"id": "p1", "permission": "*", "created_at": None}, Permission("p1", "*", "domainId")),
        ({"id": "p1", "permission": ABC, "description": 7}, Permission("p1", ABC, "domainId")),
    ],
)
def test_a_whitelist_entry_is_read_tolerantly(data, expected) -> None:
    assert Permission.from_api(data) == expected
    assert Permission.from_api(expected.to_api()) == expected


@pytest.mark.parametrize("data", [{"permission": "*"}, {"id": "p1"}, {"id": 1, "permission": "*"}, "*", None])
def test_a_whitelist_entry_without_an_id_or_a_permission_is_malformed(data) -> None:
    with pytest.raises(ValueError, match="whitelist entry"):
        Permission.from_api(data)
