"""`manage.py reconcile_audit` settles the attempts a crash left open — never racing, never guessing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError

from tests import seeds
from tests.dashboard import make_account
from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.budget import Budget
from vpcepadmin.changes.targets import outcome_entry
from vpcepadmin.cloud.types import EndpointService


@pytest.fixture
def quick(settings) -> float:
    """A tiny time budget, so that an attempt is old enough to settle within a test: returns its age."""
    settings.WORKER_TIMEOUT, settings.EDIT_APPLY_DEADLINE, settings.EDIT_LOCK_TIMEOUT = 0.3, 0.2, 0.1
    settings.CLOUD_DEADLINE = 0.3
    return Budget.of(settings).reconcile_after


@pytest.fixture
def service(simulator) -> dict:
    return simulator.seed["endpoint_services"][0]


def _orphan_attempt(account, service_id: str, raw_api, body: dict) -> AuditRecord:
    """An attempt as the edit flow writes it, whose process died before the outcome."""
    before = raw_api.get(seeds.service_path(service_id)).json()
    return recorder.append(
        recorder.Entry(
            action=Action.MODIFY_ENDPOINT_SERVICE,
            target_type=TargetType.ENDPOINT_SERVICE,
            outcome=Outcome.ATTEMPTED,
            credential=account,
            target_id=service_id,
            target_name=EndpointService.from_api(before).name,
            reason="crashed",
            before=before,
            request_body=body,
        )
    )


def _outcomes(attempt: AuditRecord) -> list[str]:
    return list(AuditRecord.objects.filter(attempt=attempt).values_list("outcome", flat=True))


def _reconcile_when_old(age: float) -> None:
    time.sleep(age + 0.05)
    call_command("reconcile_audit")


def test_an_attempt_still_in_flight_is_left_alone(account, service, raw_api, capsys) -> None:
    """D1: the reconciler ran 1.5 s into a 6 s PUT and wrote "not applied" before the PUT landed."""
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "in flight"})
    call_command("reconcile_audit")
    assert _outcomes(attempt) == []
    assert "younger than" in capsys.readouterr().out


def test_an_applied_change_is_settled_as_applied(account, service, raw_api, quick, capsys) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "made it"})
    raw_api.put(seeds.service_path(service["id"]), {"description": "made it"})  # the PUT that landed
    _reconcile_when_old(quick)
    assert _outcomes(attempt) == [Outcome.RECONCILED_APPLIED]
    assert "Reconciled: applied" in capsys.readouterr().out
    assert verify_chain().ok


def test_a_lost_change_is_settled_as_not_applied(account, service, raw_api, quick) -> None:
    attempt = _orphan_attempt(
        account, service["id"], raw_api, {"ports": [{"client_port": 1, "server_port": 2, "protocol": "TCP"}]}
    )
    _reconcile_when_old(quick)
    assert _outcomes(attempt) == [Outcome.RECONCILED_NOT_APPLIED]


def test_settled_attempts_are_left_alone_and_a_second_run_adds_nothing(
    account, service, raw_api, quick
) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "x"})
    _reconcile_when_old(quick)
    call_command("reconcile_audit")
    assert len(_outcomes(attempt)) == 1


def test_it_waits_when_the_cloud_cannot_be_read(account, service, raw_api, simulator, quick, capsys) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "x"})
    simulator.add_fault(match={"method": "GET"}, action="status", status=500, count=10)
    _reconcile_when_old(quick)
    assert _outcomes(attempt) == []
    assert "stays open, run again" in capsys.readouterr().out


# --- D4: it never guesses --------------------------------------------------------------------------
def test_a_service_changed_again_since_is_undetermined_not_unknown_for_ever(
    account, service, raw_api, quick, capsys
) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "mine"})
    raw_api.put(seeds.service_path(service["id"]), {"description": "somebody else's"})
    _reconcile_when_old(quick)
    outcome = AuditRecord.objects.get(attempt=attempt)
    assert outcome.outcome == Outcome.UNDETERMINED
    assert "holds neither the state before nor the requested values" in outcome.error_message
    assert outcome.after["description"] == "somebody else's"  # both states are on the record
    assert attempt.before["description"] == ""
    call_command("reconcile_audit")
    assert _outcomes(attempt) == [Outcome.UNDETERMINED]  # final: nothing more is written


def test_a_later_state_equal_to_the_request_is_not_taken_for_the_change(
    account, service, raw_api, simulator, quick
) -> None:
    """The attempt never sent its PUT; an hour later somebody set the same values elsewhere."""
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "same"})
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = {**service, "description": "same", "updated_at": later}
    simulator.reset({**seeds.standard_seed(services=0), "endpoint_services": [changed]})
    _reconcile_when_old(quick)
    outcome = AuditRecord.objects.get(attempt=attempt)
    assert outcome.outcome == Outcome.UNDETERMINED
    assert "after the change's window" in outcome.error_message


def test_an_undetermined_outcome_is_listed_for_review(admin_client, account, service, raw_api, quick) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "mine"})
    raw_api.put(seeds.service_path(service["id"]), {"description": "theirs"})
    _reconcile_when_old(quick)
    page = admin_client.get("/audit/?outcome=undetermined").content.decode()
    assert "Undetermined (needs review)" in page
    assert f"/audit/{AuditRecord.objects.get(attempt=attempt).pk}/" in page
    assert "1 outcome needs review" in admin_client.get("/audit/").content.decode()


# --- one target, one outcome ------------------------------------------------------------------------
def test_a_deleted_account_s_attempt_is_read_through_another_account_of_the_project(
    account, service, raw_api, simulator, quick
) -> None:
    other = make_account(simulator.url, name="Second account")
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "made it"})
    raw_api.put(seeds.service_path(service["id"]), {"description": "made it"})
    account.delete()
    _reconcile_when_old(quick)
    outcome = AuditRecord.objects.get(attempt=attempt)
    assert (outcome.outcome, outcome.credential_name) == (Outcome.RECONCILED_APPLIED, other.name)


def test_the_database_refuses_a_second_outcome_for_one_attempt(account, service, raw_api) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "x"})
    recorder.append(outcome_entry(attempt, Outcome.RECONCILED_NOT_APPLIED))
    with pytest.raises(IntegrityError):
        recorder.append(outcome_entry(attempt, Outcome.RECONCILED_APPLIED))
