"""Property-based (T14): every invalid input → errors and zero PUTs; every valid one → exactly one PUT
whose body equals the cleaned data (only the changed fields, the port list complete)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import seeds
from tests.editing import Editor

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ports = st.integers(min_value=1, max_value=65535)
names = st.from_regex(r"\A[A-Za-z0-9_-]{0,16}\Z")
descriptions = st.text(
    alphabet=st.characters(blacklist_characters="<>\x00", blacklist_categories=["Cs"]), max_size=128
)
valid_rows = st.lists(st.tuples(ports, ports), min_size=1, max_size=12, unique_by=lambda row: row[0])


def _fresh_editor(client, account, simulator) -> Editor:
    simulator.reset(seeds.standard_seed())
    editor = Editor(client, account.pk, simulator.seed["endpoint_services"][0]["id"])
    editor.load()
    return editor


@st.composite
def invalid_inputs(draw):
    """One broken rule (field or rows), everything else valid."""
    kind = draw(st.sampled_from(["name", "description", "port", "protocol", "duplicate", "count", "port_id"]))
    if kind == "name":
        bad = draw(
            st.text(min_size=1, max_size=30).filter(lambda s: not re.fullmatch(r"[A-Za-z0-9_-]{0,16}", s))
        )
        return {"service_name": bad}, None
    if kind == "description":
        text = draw(st.text(max_size=100))
        return {"description": text + draw(st.sampled_from(["<", ">", "x" * 129]))}, None
    if kind == "port":
        bad = draw(
            st.one_of(
                st.integers(max_value=0),
                st.integers(min_value=65536),
                st.text(min_size=1).filter(lambda s: not s.strip().lstrip("+-").isdigit()),
            )
        )
        return {}, [(443, bad, "TCP")]
    if kind == "protocol":
        return {}, [(443, 8443, draw(st.sampled_from(["UDP", "tcp", "", "ICMP"])))]
    if kind == "duplicate":
        row = (draw(ports), draw(ports))
        return {}, [(*row, "TCP"), (row[0], draw(ports), "TCP")]
    if kind == "count":
        return {}, draw(st.sampled_from([[], [(1000 + i, 1, "TCP") for i in range(201)]]))
    return {
        "port_id": draw(st.text(max_size=40).filter(lambda s: not re.fullmatch(r"[0-9a-f-]{36}", s)))
    }, None


@SETTINGS
@given(case=invalid_inputs())
def test_every_invalid_input_is_refused_and_sends_nothing(operator_client, account, simulator, case) -> None:
    fields, rows = case
    editor = _fresh_editor(operator_client, account, simulator)
    response = editor.submit("review", ports=rows, **fields)
    assert response.status_code == 200
    forms = response.context["forms"]
    assert forms.form.errors or forms.formset.total_error_count()
    # Apply takes only values a review signed; posting the invalid ones straight to it changes nothing.
    assert editor.submit("apply", reason="property", ports=rows, **fields).status_code == 302
    assert simulator.journal(method="PUT") == []


@SETTINGS
@given(
    name=names,
    description=descriptions,
    approval=st.booleans(),
    proxy=st.sampled_from(["close", "toa_open", "proxy_open", "open"]),
    rows=valid_rows,
)
def test_every_valid_input_sends_exactly_the_cleaned_changes(
    operator_client, account, simulator, name, description, approval, proxy, rows
) -> None:
    editor = _fresh_editor(operator_client, account, simulator)
    original = dict(editor.values or {})
    requested_ports = [(client, server, "TCP") for client, server in rows]
    fields = {
        "service_name": name,
        "description": description,
        "approval_enabled": approval,
        "tcp_proxy": proxy,
    }
    expected = {key: value for key, value in fields.items() if value != original[key]}
    if sorted(requested_ports) != sorted(original["ports"]):
        expected["ports"] = [
            {"client_port": c, "server_port": s, "protocol": p} for c, s, p in requested_ports
        ]
    review = editor.submit("review", ports=requested_ports, **fields)
    if not expected:
        assert "Nothing changed" in review.content.decode()
    else:
        assert review.templates[0].name == "endpoints/review.html"
        editor.submit("apply", reason="property", ports=requested_ports, **fields)
    puts = simulator.journal(method="PUT")
    assert [put["body"] for put in puts] == ([expected] if expected else [])
