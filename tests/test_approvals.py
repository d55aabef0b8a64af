"""Four eyes: on an account whose changes need a second person's approval, a reviewed change is a
request; another operator approves and applies it. Against the simulator over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import seeds
from tests.dashboard import operators
from tests.editing import Editor
from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.changes.models import ChangeRequest, RequestStatus

PUT = {"method": "PUT"}


@pytest.fixture
def guarded(account):
    """The test account on production, with four eyes on."""
    account.environment, account.requires_approval = "production", True
    account.save()
    return account


@pytest.fixture
def people(db):
    return operators("alice", "bob")


def _request(client, account, service_id: str, description: str = "four eyes") -> ChangeRequest:
    editor = Editor(client, account.pk, service_id)
    editor.load()
    review = editor.submit("review", description=description)
    assert "Request approval" in review.content.decode() and 'value="apply"' not in review.content.decode()
    response = editor.submit("request", reason="OPS-7 rotate", description=description)
    assert response.status_code == 302, response.content.decode()[:500]
    return ChangeRequest.objects.latest("pk")


def _decide(client, change: ChangeRequest, action: str, comment: str = "looks right"):
    return client.post(f"/approvals/{change.pk}/decide/", {"action": action, "reason": comment})


def _puts(simulator) -> list[dict]:
    return simulator.journal(method="PUT")


def test_a_request_sends_nothing_and_another_operator_applies_exactly_it(people, guarded, simulator) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change = _request(people["alice"], guarded, service_id)
    assert (change.status, change.author_username, change.body) == (
        RequestStatus.OPEN,
        "alice",
        {"description": "four eyes"},
    )
    assert _puts(simulator) == []
    requested = AuditRecord.objects.get(action=Action.REQUEST_CHANGE)
    assert requested.actor_username == "alice" and requested.request_body == {"description": "four eyes"}
    # The author sees it waiting, without a way to approve it; a forged approval is refused.
    page = people["alice"].get(f"/approvals/{change.pk}/").content.decode()
    assert "Waiting for approval" in page and "Approve and apply" not in page
    assert _decide(people["alice"], change, "approve").status_code == 403
    assert _puts(simulator) == []
    listing = people["bob"].get("/approvals/").content.decode()
    assert f"#{change.pk}" in listing and "Approvals <span" in listing
    response = _decide(people["bob"], change, "approve", "checked with alice")
    assert response.status_code == 302
    [put] = _puts(simulator)
    assert put["body"] == {"description": "four eyes"}
    change.refresh_from_db()
    assert (change.status, change.decided_by_username) == (RequestStatus.APPLIED, "bob")
    applied = AuditRecord.objects.get(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.APPLIED)
    assert applied.actor_username == "bob"
    assert applied.reason == f"Request #{change.pk} by alice, approved by bob: OPS-7 rotate"
    approval = AuditRecord.objects.get(action=Action.APPROVE_REQUEST)
    assert (approval.actor_username, approval.reason, approval.outcome) == (
        "bob",
        "checked with alice",
        Outcome.RECORDED,
    )
    # The request's page lists exactly its own records: requested, approved, the attempt and its outcome.
    page = people["bob"].get(f"/approvals/{change.pk}/").content.decode()
    assert page.count("Change request approved — ") == 1 and page.count("Modify endpoint service — ") == 2
    # Nobody can approve it twice.
    _decide(people["bob"], change, "approve")
    assert len(_puts(simulator)) == 1
    assert verify_chain().ok


def test_applying_directly_is_refused_on_such_an_account(people, guarded, simulator) -> None:
    editor = Editor(people["alice"], guarded.pk, simulator.seed["endpoint_services"][0]["id"])
    editor.load()
    editor.submit("review", description="straight through")
    assert editor.submit("apply", reason="r", description="straight through").status_code == 403
    assert (
        _puts(simulator) == []
        and not AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE).exists()
    )


def test_a_request_whose_service_changed_is_stale_and_sends_nothing(
    people, guarded, simulator, raw_api
) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change = _request(people["alice"], guarded, service_id)
    raw_api.put(seeds.service_path(service_id), {"description": "changed in the console"})
    puts = len(_puts(simulator))
    _decide(people["bob"], change, "approve")
    change.refresh_from_db()
    assert change.status == RequestStatus.STALE and len(_puts(simulator)) == puts
    assert AuditRecord.objects.filter(action=Action.STALE_REQUEST).exists()
    page = people["alice"].get(f"/approvals/{change.pk}/").content.decode()
    assert "Lay my change over the current state" in page


def test_an_expired_request_cannot_be_approved(people, guarded, simulator, settings) -> None:
    change = _request(people["alice"], guarded, simulator.seed["endpoint_services"][0]["id"])
    ChangeRequest.objects.filter(pk=change.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.APPROVAL_MAX_AGE + 5)
    )
    _decide(people["bob"], change, "approve")
    change.refresh_from_db()
    assert change.status == RequestStatus.EXPIRED and _puts(simulator) == []
    assert AuditRecord.objects.filter(action=Action.EXPIRE_REQUEST).count() == 1


def test_reject_needs_a_comment_and_withdraw_is_the_authors(people, guarded, simulator) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change = _request(people["alice"], guarded, service_id)
    page = _decide(people["bob"], change, "reject", comment="  ").content.decode()
    assert "Say why you approve or reject it." in page
    assert _decide(people["bob"], change, "withdraw").status_code == 403
    _decide(people["bob"], change, "reject", comment="not during the freeze")
    change.refresh_from_db()
    assert (change.status, change.comment) == (RequestStatus.REJECTED, "not during the freeze")
    second = _request(people["alice"], guarded, service_id, "again")
    _decide(people["alice"], second, "withdraw")
    second.refresh_from_db()
    assert second.status == RequestStatus.WITHDRAWN and _puts(simulator) == []
    steps = AuditRecord.objects.filter(action__in=[Action.REJECT_REQUEST, Action.WITHDRAW_REQUEST]).order_by(
        "seq"
    )
    summaries = list(steps.values_list("summary", flat=True))
    assert summaries == [
        f"request #{change.pk} rejected: not during the freeze",
        f"request #{second.pk} withdrawn",
    ]


def test_viewers_see_requests_but_cannot_decide(people, guarded, simulator, viewer_client) -> None:
    change = _request(people["alice"], guarded, simulator.seed["endpoint_services"][0]["id"])
    assert viewer_client.get("/approvals/").status_code == 200
    assert "Approve and apply" not in viewer_client.get(f"/approvals/{change.pk}/").content.decode()
    assert (
        viewer_client.post(
            f"/approvals/{change.pk}/decide/", {"action": "approve", "reason": "x"}
        ).status_code
        == 403
    )
    assert _puts(simulator) == []


def test_a_new_production_account_starts_with_four_eyes_on(admin_client, simulator) -> None:
    from vpcepadmin.credentials.models import CloudCredential

    data = {
        "name": "prod via form", "environment": "production", "colour": "blue", "cloud": "otc",
        "region": seeds.REGION, "project_id": seeds.PROJECT_ID, "auth_method": "aksk",
        "access_key": seeds.ACCESS_KEY, "secret_key": seeds.SECRET_KEY, "vpcep_endpoint": "", "iam_endpoint": "",
    }  # fmt: skip
    admin_client.post("/credentials/new/", data)
    created = CloudCredential.objects.filter(name="prod via form").first()
    assert created is not None and created.requires_approval


def test_a_long_reason_never_pushes_the_names_out_of_the_record(people, guarded, simulator) -> None:
    service_id = simulator.seed["endpoint_services"][0]["id"]
    editor = Editor(people["alice"], guarded.pk, service_id)
    editor.load()
    editor.submit("review", description="long reason")
    editor.submit("request", reason="x" * 200, description="long reason")
    change = ChangeRequest.objects.latest("pk")
    _decide(people["bob"], change, "approve")
    applied = AuditRecord.objects.get(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.APPLIED)
    assert applied.reason.startswith(f"Request #{change.pk} by alice, approved by bob: xxx")


def test_another_stored_account_of_the_project_cannot_skip_four_eyes(people, guarded, simulator) -> None:
    from tests.dashboard import make_account

    second = make_account(simulator.url, name="same project, no setting")
    assert not second.requires_approval and second.four_eyes()
    editor = Editor(people["alice"], second.pk, simulator.seed["endpoint_services"][0]["id"])
    editor.load()
    review = editor.submit("review", description="side door")
    assert "Request approval" in review.content.decode()
    assert editor.submit("apply", reason="r", description="side door").status_code == 403
    assert _puts(simulator) == []


def test_an_answer_that_proves_nothing_leaves_the_request_unknown_not_failed(
    people, guarded, simulator, settings
) -> None:
    settings.CLOUD_READ_TIMEOUT = 1.0
    service_id = simulator.seed["endpoint_services"][0]["id"]
    change = _request(people["alice"], guarded, service_id)
    simulator.add_fault(match=PUT, action="apply_then_timeout", seconds=3, count=1)
    simulator.add_fault(
        match={"method": "GET", "path": service_id}, action="status", status=500, skip=1, count=5
    )
    _decide(people["bob"], change, "approve")
    change.refresh_from_db()
    assert change.status == RequestStatus.UNKNOWN and len(_puts(simulator)) == 1


def test_a_request_past_its_age_is_not_offered_for_approval(people, guarded, simulator, settings) -> None:
    change = _request(people["alice"], guarded, simulator.seed["endpoint_services"][0]["id"])
    too_old = timezone.now() - timedelta(seconds=settings.APPROVAL_MAX_AGE + 5)
    ChangeRequest.objects.filter(pk=change.pk).update(created_at=too_old)
    page = people["bob"].get(f"/approvals/{change.pk}/").content.decode()
    assert "Approve and apply" not in page and "Expired" in page
