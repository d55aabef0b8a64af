"""No input gives a 500: odd values — non-ASCII digits, huge numbers, far dates, empty and repeated
keys, unknown actions, 10 kB text, NUL bytes, lone surrogates, SQL and HTML — sent to every GET
parameter and POST field of every page (and to the path parameters their converters let through),
as every role. Every answer must be below 500; a failure names the request and shows the server's
traceback.

Two layers: a sweep sends each sharp value of the corpus to each parameter once, as a role that
gets past the permission check (deterministic: a known class of crash is always found); then
Hypothesis combines generated values, repeated keys, broken encodings and htmx on every page as
anonymous, viewer, operator and admin. Each request (or example) runs in a transaction that is
rolled back, and the simulated cloud is reset wherever a request may change it, so that nothing
one request does is seen by the next.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auditkit import change
from tests.dashboard import ANONYMOUS, client_for, make_account, make_user
from tests.test_credentials_pages import _form
from vpcepadmin import roles
from vpcepadmin.audit.models import AuditRecord, Outcome

ROLES = (ANONYMOUS, roles.VIEWER, roles.OPERATOR, roles.ADMIN)


def hypothesis_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


# --- the corpus --------------------------------------------------------------------------------------
# Digits of other scripts (int() reads them) and digit-like signs (isdigit() is true, int() fails).
NON_ASCII_DIGITS = ["²", "١٢", "①", "૩", "¹⁰", "𝟙𝟚", "⑳", "१०", "³", "Ⅻ"]
NUMBERS = ["0", "-1", "-0", "1", "2", "7", str(2**31), str(2**63), str(10**18), str(10**30), "9" * 400,
           "1e309", "1_000", "0x1f", " 7 ", "+1", "1.5", "NaN", "inf", "-" + "9" * 30]  # fmt: skip
DATES = ["9999-12-31T23:59", "9999-12-31", "0001-01-01T00:00", "0001-01-01T00:00+01:00",
         "9999-12-31T23:59-01:00", "10000-01-01T00:00", "2026-02-30T00:00", "2026-03-02T24:00",
         "2026-03-02T12:00+14:00", "١٩٧٠-01-01T00:00", "2026-03-02T12:00:00.9999999", "1970-01-01",
         "2026-03-02T12:00"]  # fmt: skip
TEXT = ["", " ", "\x00", "a\x00b", "x" * 10_000, "😀", "\ud800", "\udfff\ud800", "\u202e\u0000",
        "' OR '1'='1' --", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{ 7|add:1 }}",
        "%", "_", "\\", "../../etc/passwd", "\r\nSet-Cookie: x=1", "null", "[]", "{}", "a:b:c", "é" * 300]  # fmt: skip
ACTIONS = ["review", "apply", "edit", "rebase", "add_row", "remove:0", "remove:1", "remove:²", "remove:١",
           "remove:①", "remove:-1", "remove:" + str(10**30), "remove:", "remove", "remove:0:1", "delete",
           "REVIEW", "apply\x00", "add_row "]  # fmt: skip
TOKENS = ["", "x", "x:y", "x:y:z", "é:é", "eyJ4IjoxfQ:1abc:sig", ":" * 50, "a" * 10_000, "\x00:\x00"]
CHOICES = ["applied", "rejected", "aksk", "password", "TCP", "open", "history", "name", "-name", "otc"]
ODD = [*NON_ASCII_DIGITS, *NUMBERS, *DATES, *TEXT, *ACTIONS, *TOKENS]
POOLS = {"number": [*NON_ASCII_DIGITS, *NUMBERS], "date": DATES, "text": TEXT, "action": ACTIONS,
         "token": TOKENS, "choice": [*TEXT, *CHOICES]}  # fmt: skip
# What the sweep sends to each parameter of a kind: one of each class of trouble.
SHARP = {
    "number": ["²", "①", "١٢", "-1", "0", str(10**30), "9" * 400, " 7", "1.5", ""],
    "date": ["9999-12-31T23:59", "9999-12-31", "0001-01-01T00:00", "0001-01-01T00:00+01:00",
             "9999-12-31T23:59-01:00", "10000-01-01", "١٩٧٠-01-01T00:00", "2026-02-30T00:00", ""],
    "text": ["", "\x00", "x" * 10_000, "\ud800", "<script>alert(1)</script>", "' OR '1'='1' --", "²"],
    "choice": ["", "\x00", "²", "x" * 10_000, "\ud800", "unknown"],
    "action": ACTIONS,
    "token": ["", "x", "x:y:z", "é:é", "a" * 10_000, "\x00:\x00"],
}  # fmt: skip
# Tails that a browser would never send: broken percent-encoding, keys without values, separators.
RAW_TAILS = ["", "&%FF=%FE", "&%=%", "&&&=&", "&a", "&q=%ED%A0%80", "&%00=%00", "&" + "k=v&" * 50]
ENCODINGS = ["form", "form", "form", "multipart", "json", "no boundary"]


def odd_values(kind: str) -> st.SearchStrategy[str]:
    """One odd value, often of the kind a field expects (a number for a number...)."""
    return st.one_of(
        st.sampled_from(POOLS[kind]),
        st.sampled_from(NON_ASCII_DIGITS),
        st.sampled_from(ODD),
        st.text(st.characters(codec=None, exclude_categories=[]), max_size=24),
        st.integers().map(str),
    )


def fuzzed(fields: dict[str, str]) -> st.SearchStrategy[dict[str, list[str]]]:
    """Some of ``fields`` (name → kind), each once or repeated, plus maybe a key nobody expects."""
    known = st.fixed_dictionaries(
        {},
        optional={name: st.lists(odd_values(kind), min_size=1, max_size=3) for name, kind in fields.items()},
    )
    unknown = st.dictionaries(
        st.one_of(
            st.sampled_from(["x", "", "ports-0-client_port", "csrfmiddlewaretoken"]), st.text(max_size=8)
        ),
        st.lists(odd_values("text"), min_size=1, max_size=2),
        max_size=1,
    )
    return st.builds(lambda ours, others: {**others, **ours}, known, unknown)


# --- how requests are sent and judged ------------------------------------------------------------------
def _quote(value: str) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def encoded(data: dict[str, list[str]], tail: str = "") -> str:
    """``data`` as a query string or form body, repeated keys and lone surrogates included."""
    pairs = [f"{_quote(name)}={_quote(value)}" for name, values in data.items() for value in values]
    return "&".join(pairs) + tail


def _shown(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)")


class ServerError(AssertionError):
    """A request answered 5xx (or broke while streaming its answer)."""


def judge(response: Any, described: str) -> None:
    """Raise ``ServerError`` with the request and the server's traceback when the answer is a 5xx."""
    trace = ""
    try:
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
    except Exception:  # a crash while streaming is a broken answer too
        trace = traceback.format_exc()
    if response.exc_info:
        trace = "".join(traceback.format_exception(*response.exc_info))
    if response.status_code >= 500 or trace:
        raise ServerError(f"{described} answered {response.status_code}\n{trace}")


@dataclass
class World:
    """The clients of every role, and the real ids to put in paths."""

    clients: dict[str, Client]
    account_pk: int
    service_id: str
    record_pk: int
    user_pk: int
    simulator: Any
    failures: list[str] = field(default_factory=list)

    def send(self, role: str, method: str, path: str, query: str = "", body: str = "", **extra: Any) -> Any:
        url = f"{path}?{query}" if query else path
        described = f"{role}: {method} {_shown(url)} body={_shown(body)} {extra or ''}"
        client = self.clients[role]
        if method == "GET":
            response = client.get(url, **extra)
        else:
            content_type = extra.pop("content_type", "application/x-www-form-urlencoded")
            raw = body.encode("utf-8", "surrogatepass")
            response = client.generic(method, url, raw, content_type, **extra)
        judge(response, described)
        return response

    def collect(self, role: str, method: str, path: str, **kwargs: Any) -> None:
        """``send``, noting a 5xx (its request and the last lines of its traceback) instead of failing."""
        try:
            with rolled_back():
                self.send(role, method, path, **kwargs)
        except ServerError as error:
            lines = str(error).splitlines()
            self.failures.append("\n".join([lines[0], *lines[-3:]]))

    def reset_cloud(self) -> None:
        self.simulator.reset(self.simulator.seed)


@contextmanager
def rolled_back() -> Iterator[None]:
    """Whatever the request wrote to the database is undone after it."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def world(db: None, simulator: Any) -> World:
    account = make_account(simulator.url)
    service_id = simulator.seed["endpoint_services"][0]["id"]
    users: dict[str, User | None] = {ANONYMOUS: None, **{role: make_user(role) for role in ROLES[1:]}}
    admin = users[roles.ADMIN]
    assert admin is not None
    admin.is_staff = True  # administrators manage users in Django's admin
    admin.save()
    change(account, service_id, users[roles.OPERATOR], description="before the fuzz")
    record = AuditRecord.objects.filter(outcome=Outcome.APPLIED).latest("seq")
    clients = {}
    for role, user in users.items():
        clients[role] = client_for(user, Client(raise_request_exception=False))
    world = World(clients, account.pk, service_id, record.pk, admin.pk, simulator)
    world.reset_cloud()
    return world


def path_for(template: str, world: World, odd: dict[str, str] | None = None) -> str:
    real = {
        "pk": world.account_pk,
        "service": world.service_id,
        "record": world.record_pk,
        "user": world.user_pk,
    }
    return template.format(**(real | (odd or {})))


# --- the pages and what they read --------------------------------------------------------------------
AUDIT_FILTERS = {"q": "text", "actor": "text", "account": "number", "service": "text", "action": "choice",
                 "outcome": "choice", "since": "date", "until": "date"}  # fmt: skip
ADMIN_LIST = {"q": "text", "o": "number", "p": "number", "e": "number", "all": "text", "_to_field": "text",
              "_popup": "number", "action__exact": "choice", "outcome__exact": "choice"}  # fmt: skip
PAGES: dict[str, dict[str, str]] = {
    "/": {},
    "/healthz": {},
    "/accounts/login/": {"next": "text"},
    "/credentials/": {},
    "/credentials/new/": {},
    "/credentials/{pk}/": {},
    "/credentials/{pk}/edit/": {},
    "/credentials/{pk}/delete/": {},
    "/credentials/{pk}/test/": {},
    "/credentials/{pk}/services/": {"q": "text", "status": "choice", "sort": "choice", "page": "number"},
    "/credentials/{pk}/services/summary/": {},
    "/credentials/{pk}/services/{service}/": {"tab": "choice"},
    "/credentials/{pk}/services/{service}/edit/": {"restore": "number", "rebase": "number"},
    "/audit/": {**AUDIT_FILTERS, "before": "number", "after": "number"},
    "/audit/export.csv": AUDIT_FILTERS,
    "/audit/export.json": AUDIT_FILTERS,
    "/audit/{record}/": {},
    "/lockouts/": {},
    "/approvals/": {"account": "number", "author": "text"},
    "/policies/": {},
    "/notifications/": {},
    "/admin/": {},
    "/admin/audit/auditrecord/": ADMIN_LIST,
    "/admin/audit/auditrecord/{record}/change/": {"_changelist_filters": "text"},
    "/admin/credentials/cloudcredential/": ADMIN_LIST,
    "/admin/auth/user/": {**ADMIN_LIST, "is_staff__exact": "number", "groups__id__exact": "number"},
    "/admin/auth/user/{user}/change/": {},
    "/admin/auth/user/{user}/password/": {},
    "/admin/auth/group/": ADMIN_LIST,
}
EDIT_PAGE = "/credentials/{pk}/services/{service}/edit/"
EDIT_FIELDS = {
    "action": "action", "version": "token", "reviewed": "token", "fresh_version": "token", "reason": "text",
    "service_name": "text", "description": "text", "approval_enabled": "choice", "port_id": "text",
    "vip_port_id": "text", "tcp_proxy": "choice", "restored_from": "number",
    "ports-TOTAL_FORMS": "number", "ports-INITIAL_FORMS": "number", "ports-MIN_NUM_FORMS": "number",
    "ports-MAX_NUM_FORMS": "number", "ports-0-client_port": "number", "ports-0-server_port": "number",
    "ports-0-protocol": "choice", "ports-1-client_port": "number", "ports-1-server_port": "number",
    "ports-1-protocol": "choice", "ports-199-client_port": "number", "ports-200-server_port": "number",
}  # fmt: skip
ACCOUNT_FIELDS = {
    "name": "text", "environment": "choice", "colour": "choice", "cloud": "choice", "region": "choice",
    "project_id": "text", "auth_method": "choice", "access_key": "text", "secret_key": "text",
    "iam_username": "text", "domain_name": "text", "password": "text", "vpcep_endpoint": "text",
    "iam_endpoint": "text",
}  # fmt: skip
ACCOUNT_FORMS = ["/credentials/new/", "/credentials/{pk}/edit/"]
ACCOUNT_POSTS = [*ACCOUNT_FORMS, "/credentials/{pk}/delete/", "/credentials/{pk}/test/"]
SIGN_IN_FIELDS = {"username": "text", "password": "text", "next": "text", "csrfmiddlewaretoken": "token"}
# Path parameters the converters let through that name nothing (int: any ASCII digits; service: id-shaped).
ODD_PATHS = {
    "pk": ["0", "99999999999999999999999", "007"],
    "record": ["0", "99999999999999999999999"],
    "user": ["0", "99999999999999999999999"],
    "service": ["0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d", "a", "0-", "A" * 64, "z-" * 32],
}
path_oddities: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({}),
    st.sampled_from([{name: value} for name, values in ODD_PATHS.items() for value in values]),
)

HIDDEN = re.compile(r"<input[^>]*>")


def input_value(html: str, name: str) -> str | None:
    """The value of the first ``<input name=...>`` of a page, or None."""
    for tag in HIDDEN.findall(html):
        if f'name="{name}"' in tag:
            found = re.search(r'value="([^"]*)"', tag)
            return found.group(1).replace("&amp;", "&") if found else ""
    return None


@pytest.fixture
def edit_form(world: World) -> dict[str, str]:
    """The edit form as an operator's browser has it after one review: a version, the loaded fields,
    one port row and the signed review of one real change (what "Apply" and "Back" send)."""
    path = path_for(EDIT_PAGE, world)
    page = world.send(roles.OPERATOR, "GET", path).content.decode()
    fields = {name: input_value(page, name) or "" for name in ("version", "service_name", "port_id")}
    assert fields["version"], "the edit page carries no version"
    data = fields | {"tcp_proxy": "close", "description": "fuzz", "approval_enabled": "on", "reason": "CHG-1"}
    data |= {"ports-TOTAL_FORMS": "1", "ports-INITIAL_FORMS": "0", "ports-MIN_NUM_FORMS": "1"}
    data |= {"ports-MAX_NUM_FORMS": "200", "ports-0-client_port": "443", "ports-0-server_port": "8443"}
    data |= {"ports-0-protocol": "TCP", "action": "review"}
    review = world.send(roles.OPERATOR, "POST", path, body=encoded({k: [v] for k, v in data.items()}))
    reviewed = input_value(review.content.decode(), "reviewed")
    assert reviewed, "the review page carries no reviewed token"
    return data | {"reviewed": reviewed, "fresh_version": fields["version"]}


def account_form(world: World) -> dict[str, list[str]]:
    return {name: [value] for name, value in _form(world.simulator.url, name="Fuzzed").items()}


def _no_failures(world: World) -> None:
    if world.failures:
        pytest.fail(f"{len(world.failures)} requests answered 5xx:\n\n" + "\n\n".join(world.failures))


# --- the sweep: each sharp value to each parameter, once ------------------------------------------------
@pytest.mark.parametrize("page", [page for page, fields in PAGES.items() if fields and "admin" not in page])
def test_it_answers_each_sharp_value_of_each_query_parameter_below_500(world, page) -> None:
    for name, kind in PAGES[page].items():
        for value in SHARP[kind]:
            world.collect(roles.ADMIN, "GET", path_for(page, world), query=encoded({name: [value]}))
    _no_failures(world)


def test_it_answers_each_sharp_value_of_each_edit_field_below_500(world, edit_form) -> None:
    path = path_for(EDIT_PAGE, world)
    for name, kind in EDIT_FIELDS.items():
        for value in SHARP[kind]:
            for action in ("review", "add_row") if name != "action" else (value,):
                data = {key: [item] for key, item in edit_form.items()} | {name: [value], "action": [action]}
                world.reset_cloud()
                world.collect(roles.OPERATOR, "POST", path, body=encoded(data))
    _no_failures(world)


@pytest.mark.parametrize("page", ACCOUNT_FORMS)
def test_it_answers_each_sharp_value_of_each_account_field_below_500(world, page) -> None:
    for name, kind in ACCOUNT_FIELDS.items():
        for value in SHARP[kind]:
            data = account_form(world) | {name: [value]}
            world.collect(roles.ADMIN, "POST", path_for(page, world), body=encoded(data))
    _no_failures(world)


# --- Hypothesis: generated combinations, every role ---------------------------------------------------
def post_as_every_role(
    world: World, path: str, data: dict[str, list[str]], encoding: str, tail: str, htmx: bool = False
) -> Any:
    """POST ``data`` as each role; the last (admin) response, for following a flow further."""
    extra: dict[str, str] = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    body = encoded(data, tail)
    if encoding == "multipart":
        boundary = "fuzzboundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, values in data.items()
            for value in values
        ]
        body = "".join(parts) + f"--{boundary}--\r\n"
        extra["content_type"] = f"multipart/form-data; boundary={boundary}"
    elif encoding == "json":
        extra["content_type"] = "application/json"
    elif encoding == "no boundary":
        extra["content_type"] = "multipart/form-data"
    response = None
    for role in ROLES:
        response = world.send(role, "POST", path, body=body, **dict(extra))
    return response


@pytest.mark.parametrize("page", list(PAGES))
def test_it_answers_every_generated_query_string_below_500_as_every_role(world, page) -> None:
    @hypothesis_settings(30 if PAGES[page] else 8)
    @given(query=fuzzed(PAGES[page]), tail=st.sampled_from(RAW_TAILS), odd=path_oddities, htmx=st.booleans())
    def run(query: dict[str, list[str]], tail: str, odd: dict[str, str], htmx: bool) -> None:
        path = path_for(page, world, odd)
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        with rolled_back():
            for role in ROLES:
                world.send(role, "GET", path, encoded(query, tail).lstrip("&"), **headers)

    run()


@hypothesis_settings(40)
@given(
    replaced=fuzzed(EDIT_FIELDS),
    dropped=st.sets(st.sampled_from(sorted(EDIT_FIELDS))),
    encoding=st.sampled_from(ENCODINGS),
    tail=st.sampled_from(RAW_TAILS),
    htmx=st.booleans(),
    follow=st.booleans(),
)
def test_it_answers_every_generated_edit_post_below_500_as_every_role(
    world, edit_form, replaced, dropped, encoding, tail, htmx, follow
) -> None:
    path = path_for(EDIT_PAGE, world)
    data = {name: [value] for name, value in edit_form.items() if name not in dropped} | replaced
    world.reset_cloud()
    with rolled_back():
        response = post_as_every_role(world, path, data, encoding, tail, htmx)
        reviewed = input_value(response.content.decode(), "reviewed") if response.status_code == 200 else None
        if follow and reviewed:  # a review page: apply what it signed, whatever that was
            applied = {"action": ["apply"], "version": data.get("version", [""])[-1:], "reviewed": [reviewed]}
            world.send(roles.OPERATOR, "POST", path, body=encoded(applied | {"reason": ["CHG-2 fuzz"]}))


@pytest.mark.parametrize("page", ACCOUNT_POSTS)
def test_it_answers_every_generated_account_post_below_500_as_every_role(world, page) -> None:
    @hypothesis_settings(20)
    @given(
        replaced=fuzzed(ACCOUNT_FIELDS),
        encoding=st.sampled_from(ENCODINGS),
        tail=st.sampled_from(RAW_TAILS),
        odd=st.one_of(st.just({}), st.sampled_from([{"pk": value} for value in ODD_PATHS["pk"]])),
        htmx=st.booleans(),
    )
    def run(
        replaced: dict[str, list[str]], encoding: str, tail: str, odd: dict[str, str], htmx: bool
    ) -> None:
        with rolled_back():
            post_as_every_role(
                world, path_for(page, world, odd), account_form(world) | replaced, encoding, tail, htmx
            )

    run()


@hypothesis_settings(20)
@given(replaced=fuzzed(SIGN_IN_FIELDS), encoding=st.sampled_from(ENCODINGS), tail=st.sampled_from(RAW_TAILS))
def test_it_answers_every_generated_sign_in_below_500(world, replaced, encoding, tail) -> None:
    with rolled_back():
        data = {"username": ["admin"], "password": ["not-the-password"]} | replaced
        post_as_every_role(world, "/accounts/login/", data, encoding, tail)
        world.send(ANONYMOUS, "POST", "/accounts/logout/", body=encoded(replaced, tail))


def test_it_answers_every_odd_path_parameter_below_500(world) -> None:
    for page in PAGES:
        for name in re.findall(r"{(\w+)}", page):
            for value in ODD_PATHS[name]:
                world.collect(roles.ADMIN, "GET", path_for(page, world, {name: value}))
    _no_failures(world)


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "PUT", "PATCH", "DELETE", "POST", "TRACE"])
def test_it_answers_every_method_on_every_page_below_500_as_every_role(world, method) -> None:
    for page in PAGES:
        for role in ROLES:
            world.collect(role, method, path_for(page, world), body="a=1")
    _no_failures(world)
