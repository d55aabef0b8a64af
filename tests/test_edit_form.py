"""The edit form and formset: every API rule enforced on the server, errors on the field or row, nothing sent."""

from __future__ import annotations

import re

import pytest

from tests import seeds
from tests.editing import Editor


@pytest.fixture
def editor(operator_client, account, simulator) -> Editor:
    service = simulator.seed["endpoint_services"][0]
    editor = Editor(operator_client, account.pk, service["id"])
    editor.load()
    simulator.control.clear_journal()
    return editor


def _puts(simulator) -> list:
    return simulator.journal(method="PUT")


def test_the_page_has_every_field_with_its_label(operator_client, account, simulator) -> None:
    service = simulator.seed["endpoint_services"][0]
    response = operator_client.get(f"/credentials/{account.pk}/services/{service['id']}/edit/")
    page = response.content.decode()
    for label in (
        "Service name",
        "Description",
        "Connection approval required",
        "Backend port ID",
        "TCP proxy",
        "Client port",
        "Server port",
        "Protocol",
        "Add port mapping",
        "Remove",
        "Review changes",
    ):
        assert label in page
    assert "Virtual IP port ID" not in page  # an LB backend
    assert len(simulator.journal()) == 1  # one upstream GET


def test_the_virtual_ip_field_shows_for_vip_backends(operator_client, account, simulator) -> None:
    seed = seeds.standard_seed(services=0)
    seed["endpoint_services"] = [seeds.service(server_type="VIP", vip_port_id="vip-port-1")]
    simulator.reset(seed)
    page = operator_client.get(
        f"/credentials/{account.pk}/services/{seed['endpoint_services'][0]['id']}/edit/"
    )
    assert "Virtual IP port ID" in page.content.decode()  # (the detail call does not return its value)


def test_adding_a_row_re_renders_the_formset_without_errors(editor, simulator) -> None:
    response = editor.submit("add_row", htmx=True, ports=[("443", "", "TCP")])
    content = response.content.decode()
    assert "<html" not in content
    assert content.count('class="port-row') == 2
    assert "is-invalid" not in content  # no error flash while typing
    assert 'name="ports-TOTAL_FORMS" value="2"' in content
    assert simulator.journal() == []


def test_removing_a_row_keeps_what_was_typed_in_the_others(editor, simulator) -> None:
    response = editor.submit(
        "remove:1", htmx=True, ports=[(1, 2, "TCP"), ("abc", 4, "TCP"), (5, "x7", "TCP")]
    )
    content = response.content.decode()
    assert content.count('class="port-row') == 2
    assert 'value="x7"' in content  # garbage is kept for the operator to fix
    assert 'value="abc"' not in content
    assert simulator.journal() == []


def test_without_javascript_the_row_buttons_return_the_whole_page(editor) -> None:
    response = editor.submit("add_row")
    assert "<html" in response.content.decode()
    assert response.content.decode().count('class="port-row') == 2


def test_a_tampered_remove_index_is_ignored(editor) -> None:
    response = editor.submit("remove:999", htmx=True)
    assert response.content.decode().count('class="port-row') == 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"service_name": "x" * 17}, "service_name", "at most 16"),
        ({"service_name": "bad name"}, "service_name", "letters, digits"),
        ({"service_name": "naïve"}, "service_name", "letters, digits"),
        ({"service_name": "a.b"}, "service_name", "letters, digits"),
        ({"description": "x" * 129}, "description", "at most 128"),
        ({"description": "<script>"}, "description", "must not contain"),
        ({"port_id": "not-a-uuid"}, "port_id", "UUID"),
        ({"port_id": ""}, "port_id", "required"),
        ({"tcp_proxy": "sometimes"}, "tcp_proxy", "valid choice"),
    ],
)
def test_field_rules_put_the_error_on_the_field_and_send_nothing(
    editor, simulator, fields, field, message
) -> None:
    response = editor.submit("review", **fields)
    errors = response.context["forms"].form.errors
    assert field in errors
    assert message in " ".join(errors[field]).lower() or message in " ".join(errors[field])
    assert _puts(simulator) == []


@pytest.mark.parametrize(
    ("ports", "row", "field"),
    [
        ([(0, 8443, "TCP")], 0, "client_port"),
        ([(443, 65536, "TCP")], 0, "server_port"),
        ([(443, "abc", "TCP")], 0, "server_port"),
        ([(443, 8443, "UDP")], 0, "protocol"),
        ([(443, 8443, "TCP"), (443, 8443, "TCP")], 1, "client_port"),
        ([(443, 8443, "TCP"), (80, 80, "TCP"), (443, 9443, "TCP")], 2, "client_port"),
        ([(443, 8443, "TCP"), ("", "", "TCP")], 1, "client_port"),
    ],
)
def test_row_rules_put_the_error_on_the_offending_row(editor, simulator, ports, row, field) -> None:
    response = editor.submit("review", ports=ports)
    formset = response.context["forms"].formset
    assert field in formset.forms[row].errors
    assert all(not form.errors for index, form in enumerate(formset.forms) if index != row)
    assert _puts(simulator) == []


def test_a_row_error_is_on_its_input_for_screen_readers_too(editor) -> None:
    """The rows are built in Python (endpoints/port_rows.py): the error still marks its input."""
    response = editor.submit("review", ports=[(443, 8443, "TCP"), ("x", 80, "TCP")])
    page = response.content.decode()
    field = re.search(r'<input [^>]*id="id_ports-1-client_port"[^>]*>', page)
    assert field is not None
    assert 'aria-invalid="true"' in field.group() and "is-invalid" in field.group()
    described = re.search(r'aria-describedby="([^"]+)"', field.group())
    assert described is not None
    error = re.search(rf'<div class="invalid-feedback d-block" id="{described.group(1)}">([^<]+)</div>', page)
    assert error is not None and "number" in error.group(1).lower()
    first = re.search(r'<input [^>]*id="id_ports-0-client_port"[^>]*>', page)
    assert first is not None and "aria-invalid" not in first.group()


def test_the_rows_a_browser_submits_are_the_rows_it_was_given(editor) -> None:
    """Round trip: what the rendered form would send back is what was typed, row by row."""
    from bench.pages import forms_of

    ports = [(1000 + i, 2000 + i, "TCP") for i in range(150)] + [("", "7", "TCP")]
    page = editor.submit("review", ports=ports).content.decode()
    form = next(f for f in forms_of(page) if f.id == "edit-form")
    sent = [
        (
            form.value(f"ports-{i}-client_port"),
            form.value(f"ports-{i}-server_port"),
            form.value(f"ports-{i}-protocol"),
        )
        for i in range(len(ports))
    ]
    assert sent == [(str(a), str(b), c) for a, b, c in ports]
    assert form.value("ports-TOTAL_FORMS") == str(len(ports))
    assert form.value("ports-MAX_NUM_FORMS") == "200"


def test_duplicates_name_the_first_row(editor) -> None:
    response = editor.submit("review", ports=[(443, 8443, "TCP"), (80, 80, "TCP"), (443, 9443, "TCP")])
    assert "Row 1 already maps client port 443/TCP." in response.content.decode()


@pytest.mark.parametrize(("count", "message"), [(0, "at least 1"), (201, "at most 200")])
def test_between_1_and_200_mappings(editor, simulator, count, message) -> None:
    ports = [(1000 + i, 2000 + i, "TCP") for i in range(count)]
    response = editor.submit("review", ports=ports)
    assert message in " ".join(response.context["forms"].formset.non_form_errors())
    assert _puts(simulator) == []


def test_200_mappings_are_accepted(editor) -> None:
    ports = [(1000 + i, 2000 + i, "TCP") for i in range(200)]
    response = editor.submit("review", ports=ports)
    assert response.templates[0].name == "endpoints/review.html"


@pytest.mark.parametrize(
    "management",
    [
        {"ports-TOTAL_FORMS": "100000"},
        {"ports-TOTAL_FORMS": "garbage"},
        {"ports-TOTAL_FORMS": "-5"},
        {"ports-TOTAL_FORMS": None, "ports-INITIAL_FORMS": None},
    ],
)
def test_a_tampered_management_form_is_a_form_error_never_a_500(editor, simulator, management) -> None:
    data = editor.data("review")
    for key, value in management.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    for action in ("review", "add_row"):
        response = editor.submit(raw={**data, "action": action})
        assert response.status_code == 200
    # Apply takes only what a review signed: a raw form is sent back to the edit page.
    assert editor.submit(raw={**data, "action": "apply", "reason": "r"}).status_code == 302
    assert _puts(simulator) == []


def test_a_hundred_thousand_rows_are_refused_before_they_are_read(editor, simulator) -> None:
    """Django refuses more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields before any code of ours runs:
    reading 300 000 fields would be the denial of service. The answer is a clear 400 page."""
    ports = [(i % 65535 + 1, 1, "TCP") for i in range(100_000)]
    response = editor.submit("review", ports=ports)
    assert response.status_code == 400
    assert "at most 200 port mappings" in response.content.decode()
    assert "Nothing was changed" in response.content.decode()
    assert _puts(simulator) == []


def test_garbage_everywhere_gives_errors_not_a_500(editor, simulator) -> None:
    data = dict.fromkeys(editor.data("review"), "\x00💥<b>") | {"version": editor.version}
    for action in ("review", "apply", "add_row", "remove:x", "edit", ""):
        assert editor.submit(raw={**data, "action": action}).status_code in (200, 302)
    assert _puts(simulator) == []


def test_a_forged_or_foreign_version_loads_the_form_again_and_sends_nothing(editor, simulator) -> None:
    data = editor.data("apply", reason="r", description="changed")
    for version in ("forged", editor.version[:-2] + "xx", ""):
        response = editor.submit(raw={**data, "version": version})
        assert response.status_code == 302
        assert response["Location"] == editor.url
    assert _puts(simulator) == []


def test_nothing_changed_sends_nothing_and_says_so(editor, simulator) -> None:
    response = editor.submit("review")
    assert "Nothing changed" in response.content.decode()
    assert simulator.journal() == []


def test_the_cross_service_rule_names_the_clashing_service(operator_client, account, simulator) -> None:
    shared = "4f6c8d2a-1b3e-4c5d-9e7f-0a1b2c3d4e5f"
    seed = seeds.standard_seed(services=0)
    mine = seeds.service(service_name="mine", port_id=shared)
    other = seeds.service(
        service_name="other-svc",
        port_id=shared,
        ports=[{"client_port": 8000, "server_port": 9443, "protocol": "TCP"}],
    )
    seed["endpoint_services"] = [mine, other]
    simulator.reset(seed)
    editor = Editor(operator_client, account.pk, mine["id"])
    editor.load()
    response = editor.submit("review", ports=[(443, 8443, "TCP"), (444, 9443, "TCP")])
    row_errors = response.context["forms"].formset.forms[1].errors
    assert "other-svc" in " ".join(row_errors["server_port"])
    assert _puts(simulator) == []


def test_the_review_shows_the_diff_with_port_mappings_as_rows(editor) -> None:
    response = editor.submit(
        "review",
        service_name="renamed",
        approval_enabled=False,
        ports=[(443, 8443, "TCP"), (80, 8080, "TCP")],
    )
    page = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    # Each row says what happened to it in words, not only in colour (issue 15).
    assert "Service name changed service-00 renamed" in page
    assert "Connection approval required changed on off" in page
    assert "Port mappings: 1 added, 0 removed, 1 unchanged" in page
    assert "added 80 8080 TCP" in page
    assert "unchanged 443 8443 TCP" in page
    assert "Reason for change" in page
    assert "Apply changes" in page
    assert "env-banner env-blue" in response.content.decode()  # the account and region in its colour


def test_apply_without_a_reason_returns_to_the_review_with_an_error(editor, simulator) -> None:
    editor.submit("review", description="new")
    response = editor.submit("apply", description="new", reason="   ")
    assert response.templates[0].name == "endpoints/review.html"
    assert "Say why" in response.content.decode()
    assert _puts(simulator) == []


def test_a_reason_over_200_characters_is_refused(editor, simulator) -> None:
    editor.submit("review", description="new")
    response = editor.submit("apply", description="new", reason="x" * 201)
    assert "at most 200" in response.content.decode()
    assert _puts(simulator) == []


def test_apply_sends_exactly_what_was_reviewed_whatever_else_is_posted(editor, simulator) -> None:
    editor.submit("review", description="reviewed text")
    editor.submit(
        "apply", reason="r", description="something else", service_name="sneaky", ports=[(1, 1, "TCP")]
    )
    assert [put["body"] for put in simulator.journal(method="PUT")] == [{"description": "reviewed text"}]


def test_a_forged_review_sends_nothing(editor, simulator) -> None:
    editor.submit("review", description="reviewed text")
    editor.reviewed = editor.reviewed[:-3] + "abc"
    assert editor.submit("apply", reason="r").status_code == 302
    assert _puts(simulator) == []


def test_back_to_edit_brings_the_reviewed_values_back(editor) -> None:
    editor.submit("review", description="typed", ports=[(443, 8443, "TCP"), (80, 8080, "TCP")])
    response = editor.submit("edit")
    forms = response.context["forms"]
    assert forms.form["description"].value() == "typed"
    assert forms.formset.total_form_count() == 2


def test_viewers_cannot_open_or_post_the_edit_page(viewer_client, account, simulator) -> None:
    url = f"/credentials/{account.pk}/services/{simulator.seed['endpoint_services'][0]['id']}/edit/"
    assert viewer_client.get(url).status_code == 403
    assert viewer_client.post(url, {"action": "apply"}).status_code == 403
    assert simulator.journal() == []
