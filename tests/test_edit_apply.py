"""Apply: one GET + one PUT with only the changed fields, an attempt and an outcome for every try."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import seeds
from tests.auditkit import change_records
from tests.editing import Editor
from vpcepadmin.audit.models import AuditRecord, Outcome
from vpcepadmin.audit.verification import verify_chain

PUT = {"method": "PUT", "path": "vpc-endpoint-services/"}


@pytest.fixture
def service(simulator) -> dict:
    return simulator.seed["endpoint_services"][0]


@pytest.fixture
def editor(operator_client, account, service, simulator) -> Editor:
    editor = Editor(operator_client, account.pk, service["id"])
    editor.load()
    return editor


def _records() -> list[AuditRecord]:
    return change_records()


def _text(response) -> str:
    import re

    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_it_applies_with_one_get_one_put_and_only_the_changed_fields(
    editor, simulator, service, account
) -> None:
    editor.submit("review", description="new text")
    simulator.control.clear_journal()
    response = editor.submit("apply", description="new text", reason="OPS-42")
    assert response.status_code == 302
    assert response["Location"] == f"/credentials/{account.pk}/services/{service['id']}/"
    assert [(e["method"], e["status"]) for e in simulator.journal()] == [("GET", 200), ("PUT", 200)]
    assert simulator.journal(method="PUT")[0]["body"] == {"description": "new text"}


def test_changed_ports_are_sent_as_the_complete_list(editor, simulator) -> None:
    ports = [(443, 8443, "TCP"), (80, 8080, "TCP"), (81, 8081, "TCP")]
    editor.apply(ports=ports)
    [put] = simulator.journal(method="PUT")
    assert put["body"] == {
        "ports": [{"client_port": c, "server_port": s, "protocol": p} for c, s, p in ports]
    }


def test_the_success_message_and_the_new_mappings_show_on_the_service_page(editor, operator_client) -> None:
    response = editor.apply(ports=[(443, 8443, "TCP"), (8080, 80, "TCP")])
    page = operator_client.get(response["Location"])
    assert "Change applied." in _text(page)
    assert "8080 80 TCP" in _text(page)


def test_it_writes_the_attempt_before_and_the_outcome_after(editor, simulator, service, operator) -> None:
    editor.apply(reason="OPS-7: rename", service_name="renamed")
    attempt, outcome = _records()
    assert (attempt.outcome, outcome.outcome, outcome.attempt_id) == (
        Outcome.ATTEMPTED,
        Outcome.APPLIED,
        attempt.pk,
    )
    assert attempt.before["service_name"] == f"eu-de.{service['service_name']}.{service['id']}"
    assert attempt.request_body == {"service_name": "renamed"}
    assert (attempt.actor_username, attempt.reason, attempt.target_id) == (
        "operator",
        "OPS-7: rename",
        service["id"],
    )
    assert (attempt.credential_name, attempt.cloud, attempt.region, attempt.project_id) == (
        "Test account",
        "otc",
        "eu-de",
        seeds.PROJECT_ID,
    )
    assert attempt.request_id and attempt.request_id == outcome.request_id
    assert outcome.after["service_name"].startswith("eu-de.renamed.")
    assert outcome.http_status == 200
    assert outcome.cloud_request_id == simulator.journal(method="PUT")[0]["request_id"]
    assert outcome.duration_ms is not None
    assert verify_chain().ok


def test_extra_post_keys_never_reach_the_put(editor, simulator) -> None:
    extra = {
        "project_id": seeds.FOREIGN_PROJECT_ID,
        "service_type": "gateway",
        "id": "x",
        "status": "deleting",
        "ports-0-extra": "1",
        "server_type": "VM",
        "vpc_id": "v",
    }
    editor.submit(raw={**editor.data("review", description="d"), **extra})
    editor.submit(raw={**editor.data("apply", reason="r", description="d"), **extra})
    [put] = simulator.journal(method="PUT")
    assert put["body"] == {"description": "d"}
    assert put["path"] == f"/v1/{seeds.PROJECT_ID}/vpc-endpoint-services/{editor.service_id}"


def test_applying_makes_a_fixed_number_of_sql_queries(editor) -> None:
    editor.submit("review", description="a")
    with CaptureQueriesContext(connection) as small:
        editor.submit("apply", reason="r", description="a")
    editor.load()
    ports = [(1000 + i, 2000 + i, "TCP") for i in range(200)]
    editor.submit("review", ports=ports)
    with CaptureQueriesContext(connection) as large:
        editor.submit("apply", reason="r", ports=ports)
    assert len(small) == len(large)


# --- outcomes driven through the simulator's faults --------------------------------------------------
ERRORS = [
    # (status, code, the form field the error lands on or None for the top of the form, outcome)
    (400, "EndPoint.3076", "service_name", Outcome.REJECTED),
    (400, "EndPoint.3043", "ports", Outcome.REJECTED),
    (400, "EndPoint.3044", "ports", Outcome.REJECTED),
    (400, "EndPoint.3074", "ports", Outcome.REJECTED),
    (400, "EndPoint.3003", "port_id", Outcome.REJECTED),
    (404, "EndPoint.0005", None, Outcome.REJECTED),
    (409, "EndPoint.3045", None, Outcome.REJECTED),
    (400, "EndPoint.3045", None, Outcome.REJECTED),
    (429, "APIGW.0308", None, Outcome.REJECTED),
    (401, "APIGW.0303", None, Outcome.REJECTED),  # a 4xx proves the cloud refused (audit/outcomes.py)
    (403, "EndPoint.0004", None, Outcome.REJECTED),
    # Any other answer proves nothing: unknown, reconciled at once — here the re-read shows no change.
    (503, "EndPoint.0001", None, Outcome.RECONCILED_NOT_APPLIED),
    (500, "EndPoint.0001", None, Outcome.RECONCILED_NOT_APPLIED),
]


@pytest.mark.parametrize(
    ("status", "code", "field", "outcome"), ERRORS, ids=[f"{s}-{c}" for s, c, *_ in ERRORS]
)
def test_a_refused_put_is_one_attempt_one_outcome_and_the_form_comes_back(
    editor, simulator, status, code, field, outcome
) -> None:
    editor.submit("review", service_name="typed-name")
    simulator.add_fault(
        match=PUT, action="status", status=status, error_code=code, error_msg="Refused.", count=1
    )
    response = editor.submit("apply", reason="r", service_name="typed-name")
    assert response.status_code == 200
    forms = response.context["forms"]
    assert forms.form["service_name"].value() == "typed-name"  # nothing typed is lost
    errors = (
        forms.formset.non_form_errors() if field == "ports" else forms.form.errors.get(field or "__all__", [])
    )
    assert any(code in str(error) for error in errors), (field, forms.form.errors)
    attempt, result = _records()
    assert (attempt.outcome, result.outcome, result.error_code, result.http_status) == (
        Outcome.ATTEMPTED,
        outcome,
        code,
        status,
    )
    assert len(simulator.journal(method="PUT")) == 1


@pytest.mark.parametrize(("status", "code"), [(500, "EndPoint.0001"), (503, "APIGW.0201")])
def test_a_5xx_after_the_change_was_applied_is_reconciled_as_applied(editor, simulator, status, code) -> None:
    editor.submit("review", description="applied behind a 500")
    simulator.add_fault(match=PUT, action="status", status=status, error_code=code, apply=True, count=1)
    response = editor.submit("apply", reason="r", description="applied behind a 500")
    attempt, result = _records()
    assert (attempt.outcome, result.outcome, result.http_status) == (
        Outcome.ATTEMPTED,
        Outcome.RECONCILED_APPLIED,
        status,
    )
    assert response.status_code == 302
    assert len(simulator.journal(method="PUT")) == 1


def test_a_redirect_answer_to_a_put_is_reconciled_not_taken_as_failure(editor, simulator) -> None:
    editor.submit("review", description="redirected")
    simulator.add_fault(match=PUT, action="redirect", count=1)
    editor.submit("apply", reason="r", description="redirected")
    _attempt, result = _records()
    assert result.outcome == Outcome.RECONCILED_NOT_APPLIED
    assert len(simulator.journal(method="PUT")) == 1


@pytest.mark.parametrize(
    ("action", "outcome", "message"),
    [
        ("reset_before", Outcome.RECONCILED_NOT_APPLIED, "it was not applied"),
        ("reset_after", Outcome.RECONCILED_APPLIED, "the change was applied"),
        ("apply_then_timeout", Outcome.RECONCILED_APPLIED, "the change was applied"),
    ],
)
def test_a_lost_answer_is_reconciled_at_once_by_re_reading(
    editor, simulator, settings, action, outcome, message
):
    settings.CLOUD_READ_TIMEOUT = 1.0
    editor.submit("review", description="maybe")
    simulator.add_fault(
        match=PUT, action=action, count=1, **({"seconds": 3} if action == "apply_then_timeout" else {})
    )
    response = editor.submit("apply", reason="r", description="maybe", follow=False)
    attempt, result = _records()
    assert (attempt.outcome, result.outcome) == (Outcome.ATTEMPTED, outcome)
    assert len(simulator.journal(method="PUT")) == 1
    assert [e["method"] for e in simulator.journal()][-1] == "GET"  # the re-read
    if outcome == Outcome.RECONCILED_APPLIED:
        assert response.status_code == 302
    else:
        assert response.status_code == 200
        assert message in _text(response)
        assert response.context["forms"].form["description"].value() == "maybe"


def test_an_unknown_outcome_leaves_the_attempt_open_and_holding_the_service(
    editor, simulator, settings
) -> None:
    settings.CLOUD_READ_TIMEOUT = 1.0
    settings.EDIT_LOCK_TIMEOUT = 0.3
    editor.submit("review", description="maybe")
    simulator.add_fault(match=PUT, action="reset_after", count=1)
    simulator.add_fault(
        match={"method": "GET", "path": "vpc-endpoint-services/"},
        action="status",
        status=500,
        skip=1,
        count=10,
    )
    simulator.control.clear_journal()
    response = editor.submit("apply", reason="r", description="maybe")
    assert "stays open" in _text(response)
    simulator.control.clear_faults()
    assert [r.outcome for r in _records()] == [Outcome.ATTEMPTED]  # no outcome yet: it is open
    assert len(simulator.journal(method="PUT")) == 1
    # The open attempt holds the service: the next change is refused, naming who holds it.
    editor.load()
    editor.submit("review", description="next")
    blocked = editor.submit("apply", reason="r2", description="next")
    assert "Another change to this service has no outcome yet: started by operator" in _text(blocked)
    assert len(simulator.journal(method="PUT")) == 1
    assert [r.outcome for r in _records()] == [Outcome.ATTEMPTED]


# --- conflicts ---------------------------------------------------------------------------------------
def test_a_change_made_elsewhere_between_load_and_apply_is_a_conflict(editor, simulator, raw_api) -> None:
    editor.submit("review", description="mine")
    raw_api.put(seeds.service_path(editor.service_id), {"description": "theirs"})
    simulator.control.clear_journal()
    response = editor.submit("apply", reason="r", description="mine")
    text = _text(response)
    assert "changed while you were editing" in text
    assert "theirs" in text and "mine" in text
    assert simulator.journal(method="PUT") == []
    assert [r.outcome for r in _records()] == [Outcome.CONFLICT]


def test_after_a_conflict_the_operator_re_applies_only_their_own_changes(editor, simulator, raw_api) -> None:
    editor.submit("review", description="mine")
    raw_api.put(seeds.service_path(editor.service_id), {"service_name": "theirs"})
    conflict = editor.submit("apply", reason="r", description="mine")
    fresh = conflict.context["result"].fresh_version
    rebased = editor.submit(
        raw={
            "action": "rebase",
            "version": editor.version,
            "reviewed": editor.reviewed,
            "fresh_version": fresh,
        }
    )
    form = rebased.context["forms"].form
    # The colleague's rename is kept (the operator did not touch the name); the operator's change is laid on top.
    assert (form["service_name"].value(), form["description"].value()) == ("theirs", "mine")
    editor.load()  # what the page now carries: the fresh version
    editor.version, editor.values = form.initial["version"], {**editor.values, "description": "mine"}
    review = editor.submit("review")
    assert review.templates[0].name == "endpoints/review.html"
    editor.submit("apply", reason="after conflict")
    [put] = simulator.journal(method="PUT", path_contains=editor.service_id)[-1:]
    assert put["body"] == {"description": "mine"}


def test_a_rebase_with_a_forged_token_sends_nothing(editor, simulator, raw_api) -> None:
    editor.submit("review", description="mine")
    raw_api.put(seeds.service_path(editor.service_id), {"service_name": "theirs"})
    editor.submit("apply", reason="r", description="mine")
    simulator.control.clear_journal()
    response = editor.submit(
        raw={
            "action": "rebase",
            "version": editor.version,
            "reviewed": editor.reviewed,
            "fresh_version": "forged",
        }
    )
    assert response.status_code == 302
    assert simulator.journal() == []


def test_the_service_id_and_project_come_from_the_account_not_the_form(editor, simulator, account) -> None:
    other = simulator.seed["endpoint_services"][1]["id"]
    data = editor.data("apply", reason="r", description="x")
    response = editor.client.post(f"/credentials/{account.pk}/services/{other}/edit/", data)
    assert response.status_code == 302  # the version was signed for another service: loaded again
    assert simulator.journal(method="PUT") == []
