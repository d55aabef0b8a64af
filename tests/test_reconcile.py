"""`manage.py reconcile_audit` settles attempts left without an outcome (a crash between PUT and outcome)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests import seeds
from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.cloud.types import EndpointService


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


def test_an_applied_change_is_settled_as_applied(account, service, raw_api, capsys) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "made it"})
    raw_api.put(seeds.service_path(service["id"]), {"description": "made it"})  # the PUT that landed
    call_command("reconcile_audit")
    assert _outcomes(attempt) == [Outcome.RECONCILED_APPLIED]
    assert "Reconciled: applied" in capsys.readouterr().out
    assert verify_chain().ok


def test_a_lost_change_is_settled_as_not_applied(account, service, raw_api) -> None:
    attempt = _orphan_attempt(
        account, service["id"], raw_api, {"ports": [{"client_port": 1, "server_port": 2, "protocol": "TCP"}]}
    )
    call_command("reconcile_audit")
    assert _outcomes(attempt) == [Outcome.RECONCILED_NOT_APPLIED]


def test_settled_attempts_are_left_alone_and_a_second_run_adds_nothing(account, service, raw_api) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "x"})
    call_command("reconcile_audit")
    call_command("reconcile_audit")
    assert len(_outcomes(attempt)) == 1


def test_it_waits_when_the_cloud_cannot_be_read(account, service, raw_api, simulator, capsys) -> None:
    attempt = _orphan_attempt(account, service["id"], raw_api, {"description": "x"})
    simulator.add_fault(match={"method": "GET"}, action="status", status=500, count=10)
    call_command("reconcile_audit")
    assert _outcomes(attempt) == []
    assert "still unknown" in capsys.readouterr().out
