"""The client's fast paths give exactly what the careful ones give (bench/client.py measures them).

- ``EndpointService.from_api`` (fast for well-formed answers) against ``EndpointService.checked``,
  and ``port_mappings`` against ``PortMapping.from_api``: on the simulator's real answers and on odd
  ones, the same object (field for field, in field order) or the same error;
- ``decode_json`` (orjson) against ``json.loads``: the same values of the same types, or an error;
- ``parse_timestamp``'s memory against the parse itself;
- ``transport._prepare`` against ``Session.prepare_request``: the same request on the wire.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import seeds
from tests.cloudkit import aksk_client
from vpcepadmin.cloud import transport, types
from vpcepadmin.cloud.editable import ServiceChanges
from vpcepadmin.cloud.endpoint_services import (
    endpoint_service_get,
    endpoint_service_list,
    endpoint_service_update,
)
from vpcepadmin.cloud.errors import CloudOutcomeUnknown, CloudUnavailable
from vpcepadmin.cloud.transport import OutgoingRequest, decode_json
from vpcepadmin.cloud.types import EndpointService, PortMapping, parse_timestamp, port_mappings

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIELD_NAMES = [f.name for f in fields(EndpointService)]


@dataclass(frozen=True)
class Raised:
    kind: type[BaseException]
    text: str


def outcome(parse: Callable[[Any], Any], data: Any) -> Any:
    """What ``parse(data)`` gives, or the class and text of what it raises."""
    try:
        return parse(data)
    except Exception as exc:
        return Raised(type(exc), str(exc))


def assert_same_service(data: Any) -> Any:
    fast, careful = outcome(EndpointService.from_api, data), outcome(EndpointService.checked, data)
    assert fast == careful
    if isinstance(fast, EndpointService):
        assert repr(fast) == repr(careful)
        assert hash(fast) == hash(careful)
        assert list(vars(fast)) == FIELD_NAMES  # every field, in field order, and nothing else
        assert [list(vars(mapping)) for mapping in fast.ports] == [
            ["client_port", "server_port", "protocol"] for _ in fast.ports
        ]
    return fast


# --- the simulator's real answers -----------------------------------------------------------------
def varied_seed() -> dict[str, Any]:
    """Services of every kind the simulator shows: tags, a pool, failed with errors, creating, VIP,
    no name, approval off, many mappings, non-ASCII text."""
    base = seeds.numbered_services(3)
    base += [
        seeds.service(
            service_name="tagged", tags=[{"key": "env", "value": "prod"}, {"key": "k", "value": ""}]
        ),
        seeds.service(service_name="pooled", pool_id="pool-1", enable_policy=True, approval_enabled=False),
        seeds.service(
            service_name="broken",
            status="failed",
            error=[{"error_code": "EndPoint.9999", "error_message": "no capacity"}],
        ),
        seeds.service(service_name="", server_type="VM", status="creating", description="Prüfung ✓"),
        seeds.service(
            service_name="wide",
            ports=[{"client_port": 1000 + i, "server_port": 2000 + i, "protocol": "TCP"} for i in range(200)],
        ),
    ]
    return seeds.standard_seed(endpoint_services=base)


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every body the transport decodes, as it came over the wire."""
    seen: list[bytes] = []
    original = transport.decode_json

    def capture(body: bytes) -> Any:
        seen.append(body)
        return original(body)

    monkeypatch.setattr(transport, "decode_json", capture)
    return seen


def test_the_simulators_answers_take_the_fast_path_and_match_the_careful_one(simulator, answers) -> None:
    simulator.reset(varied_seed())
    client = aksk_client(simulator.url)
    page = endpoint_service_list(client, limit=100)
    assert len(page.services) == len(simulator.seed["endpoint_services"])
    for service in page.services:
        endpoint_service_get(client, service.id)
    wide = next(s for s in page.services if s.name == "wide")
    updated = endpoint_service_update(client, wide.id, ServiceChanges(description="neu ✓")).value
    assert updated.description == "neu ✓"
    assert len(updated.ports) == 200

    items: list[dict[str, Any]] = []
    for body in answers:
        assert decode_json(body) == json.loads(body)
        document = json.loads(body)
        items += document.get("endpoint_services", [document])
    assert len(items) == 2 * len(page.services) + 1
    for item in items:
        service = assert_same_service(item)
        assert isinstance(service, EndpointService)
        fast_path = types._service_made(item)
        assert (fast_path is None) == bool(item.get("error")), item["service_name"]
    broken = next(s for s in page.services if s.name == "broken")
    assert broken.errors == (types.ResourceError("EndPoint.9999", "no capacity"),)
    tagged = next(s for s in page.services if s.name == "tagged")
    assert tagged.tags == (types.Tag("env", "prod"), types.Tag("k", ""))


# --- odd answers ----------------------------------------------------------------------------------
def well_formed() -> dict[str, Any]:
    return {
        "id": "0f5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "port_id": "1f5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "service_name": "eu-de.name.0f5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "server_type": "LB",
        "vpc_id": "2f5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
        "approval_enabled": True,
        "status": "available",
        "service_type": "interface",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-02T00:00:00Z",
        "project_id": seeds.PROJECT_ID,
        "domain_id": seeds.DOMAIN_ID,
        "connection_count": 2,
        "ports": [{"client_port": 443, "server_port": 8443, "protocol": "TCP"}],
        "tcp_proxy": "close",
        "tags": [{"key": "env", "value": "prod"}],
        "description": "",
        "enable_policy": False,
    }


class Text(str):
    """A str subclass: the fast path leaves it to the careful one."""


ODD_CHANGES: list[dict[str, Any]] = [
    {},
    {"id": 7},
    {"id": None},
    {"id": Text("0f5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b")},
    {"service_name": Text("eu-de.x.y")},
    {"status": Text("available"), "description": Text("d")},
    {"service_name": None, "status": 1, "server_type": [], "port_id": {}, "vpc_id": False},
    {"approval_enabled": None},
    {"approval_enabled": "false"},
    {"approval_enabled": 0},
    {"connection_count": True},
    {"connection_count": 2.0},
    {"connection_count": "2"},
    {"connection_count": 2**80},
    {"enable_policy": 1},
    {"enable_policy": None},
    {"created_at": "not a time", "updated_at": 20260101},
    {"created_at": "2026-01-01T00:00:00", "updated_at": " 2026-01-01T00:00:00.123456Z "},
    {"created_at": "2026-01-01T00:00:00+02:00"},
    {"ports": None},
    {"ports": []},
    {"ports": ""},
    {"ports": {}},
    {"ports": 0},
    {"ports": {"client_port": 1}},
    {"ports": "443"},
    {"ports": (1, 2)},
    {"ports": [{"client_port": 443, "server_port": 8443}]},
    {"ports": [{"client_port": 443, "server_port": 8443, "protocol": ""}]},
    {"ports": [{"client_port": 443, "server_port": 8443, "protocol": None}]},
    {"ports": [{"client_port": 443, "server_port": 8443, "protocol": 6}]},
    {"ports": [{"client_port": 443, "server_port": 8443, "protocol": Text("UDP")}]},
    {"ports": [{"client_port": True, "server_port": 8443, "protocol": "TCP"}]},
    {"ports": [{"client_port": "443", "server_port": 8443, "protocol": "TCP"}]},
    {"ports": [{"client_port": 443.0, "server_port": 8443, "protocol": "TCP"}]},
    {"ports": [{"client_port": 443, "protocol": "TCP"}]},
    {"ports": [{"client_port": -1, "server_port": 2**70, "protocol": "TCP", "extra": 1}]},
    {"ports": [[443, 8443]]},
    {"ports": ["443:8443"]},
    {"ports": [None]},
    {"ports": [OrderedDict(client_port=443, server_port=8443, protocol="TCP")]},
    {"ports": [{"client_port": 1, "server_port": 2, "protocol": "TCP"}, {"client_port": "x"}]},
    {"tags": None},
    {"tags": {}},
    {"tags": "env=prod"},
    {"tags": [{"key": "k"}]},
    {"tags": [{"value": "v"}]},
    {"tags": [{"key": 1, "value": None}]},
    {"tags": [{"key": Text("k"), "value": "v"}]},
    {"tags": ["env", {"key": "k", "value": "v"}]},
    {"tags": [OrderedDict(key="k", value="v")]},
    {"error": []},
    {"error": None},
    {"error": ""},
    {"error": {"code": "x"}},
    {"error": [{"code": "EndPoint.1", "message": "m"}]},
    {"error": [{"error_code": "EndPoint.1", "error_message": "m"}, "noise"]},
    {"error": "failed"},
    {"status": "failed", "error": [{"code": 5, "message": None}]},
]


@pytest.mark.parametrize("change", ODD_CHANGES)
def test_an_odd_service_gives_what_the_careful_path_gives(change) -> None:
    assert_same_service({**well_formed(), **change})


@pytest.mark.parametrize("key", sorted(well_formed()))
def test_a_service_without_one_field_gives_what_the_careful_path_gives(key) -> None:
    data = well_formed()
    del data[key]
    assert_same_service(data)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "service",
        42,
        OrderedDict(well_formed()),
        MappingProxyType(well_formed()),
        {"id": "only-an-id"},
    ],
)
def test_something_that_is_not_a_plain_dict_gives_what_the_careful_path_gives(data) -> None:
    assert_same_service(data)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["", "TCP", "UDP", "2026-01-01T00:00:00Z", "eu-de.n.x", "available"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
port_numbers = st.one_of(st.integers(min_value=-2, max_value=70000), json_scalars)
mapping_items = st.one_of(
    st.fixed_dictionaries(
        {"client_port": port_numbers, "server_port": port_numbers},
        optional={"protocol": st.one_of(st.sampled_from(["TCP", "UDP", ""]), json_scalars), "x": json_values},
    ),
    json_values,
)
tag_items = st.one_of(
    st.fixed_dictionaries({}, optional={"key": json_scalars, "value": json_scalars}),
    json_values,
)
odd_fields = st.dictionaries(
    st.sampled_from([*well_formed(), "vip_port_id", "pool_id", "cidr_type", "ip", "error"]),
    st.one_of(
        json_values,
        st.lists(mapping_items, max_size=4),
        st.lists(tag_items, max_size=3),
        st.lists(st.fixed_dictionaries({}, optional={"code": json_scalars, "error_message": json_scalars})),
    ),
    max_size=5,
)


@SETTINGS
@given(change=odd_fields)
def test_any_odd_service_gives_what_the_careful_path_gives(change) -> None:
    assert_same_service({**well_formed(), **change})


@SETTINGS
@given(items=st.lists(mapping_items, max_size=6))
def test_port_mappings_give_what_from_api_gives(items) -> None:
    fast = outcome(port_mappings, items)
    careful = outcome(lambda raw: tuple(PortMapping.from_api(item) for item in raw), items)
    assert fast == careful
    if isinstance(fast, tuple):
        assert [type(mapping.client_port) for mapping in fast] == [type(m.client_port) for m in careful]


def test_known_port_mappings_are_shared_and_their_memory_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(types, "_MAPPINGS", {})
    monkeypatch.setattr(types, "_MAPPINGS_MAX", 10)
    few = [{"client_port": 1000 + i, "server_port": 2000, "protocol": "TCP"} for i in range(5)]
    first, again = port_mappings(few), port_mappings(few)
    assert first == again == tuple(PortMapping(1000 + i, 2000) for i in range(5))
    assert all(shared is known for shared, known in zip(again, first, strict=True))
    many = [{"client_port": 1, "server_port": 2000 + i, "protocol": "UDP"} for i in range(25)]
    assert port_mappings(many) == tuple(PortMapping(1, 2000 + i, "UDP") for i in range(25))
    assert len(types._MAPPINGS) <= 10


def test_a_malformed_mapping_is_refused_with_the_careful_paths_message() -> None:
    data = {
        **well_formed(),
        "ports": [{"client_port": 1, "server_port": 2, "protocol": "TCP"}, {"client_port": "x"}],
    }
    with pytest.raises(ValueError, match=r"^client_port is not an integer$"):
        EndpointService.from_api(data)


# --- odd answers over HTTP ------------------------------------------------------------------------
class FixedAnswers(http.server.ThreadingHTTPServer):
    """Answers every request with 200 and the next of ``bodies`` (the last one again when used up)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.bodies: list[bytes] = [b"{}"]
        self.set_cookie = False
        self.cookies_seen: list[str | None] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(handler) -> None:
                length = int(handler.headers.get("Content-Length") or 0)
                handler.rfile.read(length)
                body = self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]
                self.cookies_seen.append(handler.headers.get("Cookie"))
                handler.send_response(200)
                if self.set_cookie:
                    handler.send_header("Set-Cookie", "tracking=account-a; Path=/")
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(body)))
                handler.send_header("X-Request-Id", "fixed-answer")
                handler.end_headers()
                handler.wfile.write(body)

            do_GET = do_PUT = _answer

            def log_message(handler, format: str, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def fixed() -> Iterator[FixedAnswers]:
    server = FixedAnswers()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": 7}, "an endpoint service needs an id"),
        ({"ports": {"client_port": 1}}, "ports, tags and error must be lists"),
        ({"ports": [{"client_port": 1, "server_port": "x"}]}, "server_port is not an integer"),
        ({"ports": [[1, 2]]}, "'list' object has no attribute 'get'"),
    ],
)
def test_a_malformed_answer_keeps_the_careful_paths_error(fixed, change, message) -> None:
    fixed.bodies = [json.dumps({**well_formed(), **change}).encode()]
    client = aksk_client(fixed.url)
    with pytest.raises(CloudUnavailable) as caught:
        endpoint_service_get(client, "any")
    assert caught.value.message == f"The cloud's answer could not be read ({message})."
    assert caught.value.cloud_request_id == "fixed-answer"
    with pytest.raises(CloudOutcomeUnknown) as unknown:
        endpoint_service_update(client, "any", ServiceChanges(description="x"))
    assert unknown.value.message == caught.value.message


@pytest.mark.parametrize(
    "change", [{"approval_enabled": "yes", "ports": [{"client_port": 1, "server_port": 2}]}, {}]
)
def test_an_odd_but_readable_answer_reads_as_the_careful_path_reads_it(fixed, change) -> None:
    data = {**well_formed(), **change}
    fixed.bodies = [json.dumps({"endpoint_services": [data, data], "total_count": 9}).encode()]
    page = endpoint_service_list(aksk_client(fixed.url))
    assert page.services == (EndpointService.checked(data),) * 2
    assert page.total_count == 9


# --- decoding -------------------------------------------------------------------------------------
def typed(value: Any) -> Any:
    """``value`` with the type of every part spelled out (so 1 and 1.0, or True and 1, differ)."""
    if isinstance(value, dict):
        return ("dict", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


def assert_decodes_like_json(body: bytes) -> None:
    assert outcome(lambda b: typed(decode_json(b)), body) == outcome(lambda b: typed(json.loads(b)), body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "b": [true, false, null], "c": "\\u00e9\\n", "d": -0.0, "e": 1e2}',
        b'{"a": 1, "a": 2}',
        b"9223372036854775807",
        b"-9223372036854775808",
        b"18446744073709551615",
        b"18446744073709551616",
        b"-9223372036854775809",
        b"1234567890123456789012345",
        b'{"marker_id": 123456789012345678901234567890, "id": "00000000000000000000000000000000"}',
        b"1e400",
        b"NaN",
        b"[Infinity, -Infinity]",
        b'"\\ud800"',
        b'"\\ud83d\\ude00"',
        "\ufeff{}".encode(),
        '{"x": "\u20ac"}'.encode("utf-16"),
        b"\xff",
        b"",
        b"{",
        b"{}x",
        b"  [1]  ",
        b"[" * 1500 + b"]" * 1500,
    ],
)
def test_decode_json_reads_what_json_loads_reads(body) -> None:
    assert_decodes_like_json(body)


@SETTINGS
@given(
    value=st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.integers(min_value=-(2**65), max_value=2**65),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(),
        ),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=12,
    )
)
def test_decode_json_reads_any_json_as_json_loads_does(value) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, separators=(",", ":"))):
        assert_decodes_like_json(text.encode("utf-8", "surrogatepass"))


# --- timestamps -----------------------------------------------------------------------------------
def parse_timestamp_uncached(value: object) -> datetime | None:
    """The parse as it was before it remembered its answers."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@SETTINGS
@given(
    value=st.one_of(
        st.sampled_from(
            [
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00.123456Z",
                " 2026-01-01T00:00:00Z ",
                "2026-01-01T00:00:00",
                "2026-01-01T01:00:00+01:00",
                "2026-01-01",
                "2026-13-01T00:00:00Z",
                "ZZ",
                "",
            ]
        ),
        st.datetimes().map(lambda moment: moment.isoformat()),
        st.text(max_size=30),
        json_scalars,
    )
)
def test_parse_timestamp_remembers_exactly_what_it_parsed(value) -> None:
    expected = parse_timestamp_uncached(value)
    for parsed in (parse_timestamp(value), parse_timestamp(value)):  # parsed, then remembered
        assert parsed == expected
        if expected is not None:
            assert parsed is not None
            assert (parsed.tzinfo, parsed.utcoffset()) == (expected.tzinfo, expected.utcoffset())


def test_parse_timestamps_memory_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(types, "_TIMESTAMPS", {})
    monkeypatch.setattr(types, "_TIMESTAMPS_MAX", 5)
    for day in range(1, 20):
        assert parse_timestamp(f"2026-01-{day:02d}T00:00:00Z") == datetime(2026, 1, day, tzinfo=UTC)
    assert len(types._TIMESTAMPS) <= 5


# --- preparing the request ------------------------------------------------------------------------
def prepared_as_requests_does(
    session: requests.Session, request: OutgoingRequest, headers: dict[str, str]
) -> Any:
    """What ``session.request(method, url, data=body or None, headers=headers)`` sends."""
    return session.prepare_request(
        requests.Request(
            method=request.method.upper(),
            url=request.url,
            headers=headers,
            data=request.body or {},
            params={},
        )
    )


def described(prepared: Any) -> Any:
    cookies = sorted((c.name, c.value, c.domain, c.path) for c in prepared._cookies)
    return (
        prepared.method,
        prepared.url,
        list(prepared.headers.items()),
        prepared.body,
        cookies,
        prepared.hooks,
        prepared._body_position,
    )


HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Host": "127.0.0.1:8443",
    "X-Sdk-Date": "20260101T000000Z",
    "X-Project-Id": seeds.PROJECT_ID,
    "Authorization": "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host, Signature=00",
}


@pytest.mark.parametrize(
    ("request_", "headers"),
    [
        (
            OutgoingRequest("GET", "https://vpcep.eu-de.otc.t-systems.com", "/v1/p/vpc-endpoint-services"),
            HEADERS,
        ),
        (
            OutgoingRequest(
                "get",
                "http://127.0.0.1:8443",
                "/v1/p/vpc-endpoint-services",
                query=[("endpoint_service_name", "a b/ü"), ("limit", "25"), ("offset", "0")],
            ),
            HEADERS,
        ),
        (
            OutgoingRequest(
                "PUT",
                "http://127.0.0.1:8443",
                "/v1/p/vpc-endpoint-services/%2E%2E",
                body='{"d":"ü"}'.encode(),
            ),
            {**HEADERS, "content-type": "application/json;charset=utf-8"},
        ),
        (OutgoingRequest("DELETE", "http://127.0.0.1:8443", "/v1/p/vpc-endpoint-services/x"), HEADERS),
        (
            OutgoingRequest("POST", "http://user:secret@127.0.0.1:8443", "/v3/auth/tokens", body=b"{}"),
            {"X-Auth-Token": "t"},
        ),
        (
            OutgoingRequest("GET", "https://bücher.example", "/v1/p/quotas"),
            {"ACCEPT": "*/*", "user-agent": "x"},
        ),
        (OutgoingRequest("GET", "http://[::1]:8443", "/v1/p/quotas?already=1"), HEADERS),
    ],
)
@pytest.mark.parametrize("cookie", [False, True])
def test_prepare_sends_what_session_request_would_send(request_, headers, cookie) -> None:
    session = requests.Session()
    session.trust_env = False
    if cookie:
        session.cookies.set("sticky", "1", domain="127.0.0.1", path="/")
    ours = transport._prepare(session, request_, headers)
    theirs = prepared_as_requests_does(session, request_, headers)
    assert described(ours) == described(theirs)


def test_prepare_leaves_out_a_header_the_session_sets_to_none() -> None:
    session = requests.Session()
    session.headers["Connection"] = None  # type: ignore[assignment]
    request_ = OutgoingRequest("GET", "http://127.0.0.1:8443", "/v1/p/quotas")
    assert described(transport._prepare(session, request_, HEADERS)) == described(
        prepared_as_requests_does(session, request_, HEADERS)
    )


@pytest.mark.parametrize("base_url", ["127.0.0.1:8443", "http://", "http://*.example", "no scheme"])
def test_prepare_refuses_a_bad_url_as_session_request_would(base_url) -> None:
    session = requests.Session()
    request_ = OutgoingRequest("GET", base_url, "/v1/p/quotas")
    ours = outcome(lambda r: described(transport._prepare(session, r, HEADERS)), request_)
    theirs = outcome(lambda r: described(prepared_as_requests_does(session, r, HEADERS)), request_)
    assert ours == theirs


def test_a_cookie_a_cloud_sets_is_never_sent_back(fixed) -> None:
    """The keep-alive session is shared by every account of an endpoint in a thread: a cookie one
    account's answer set must not travel with another account's requests."""
    fixed.bodies = [json.dumps(well_formed()).encode()]
    fixed.set_cookie = True
    endpoint_service_get(aksk_client(fixed.url), "any")
    endpoint_service_get(aksk_client(fixed.url), "any")
    assert fixed.cookies_seen == [None, None]


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["client_port", "server_port", "protocol", "other"]),
        st.one_of(st.integers(), st.booleans(), st.text(max_size=6), st.none(), st.just("443")),
    )
)
def test_port_mapping_parse_fast_path_is_the_careful_one(item) -> None:
    """A plain dict takes the shared fast path; any other mapping the careful one: the same mapping."""
    assert PortMapping.parse(item) == PortMapping.parse(MappingProxyType(item))
