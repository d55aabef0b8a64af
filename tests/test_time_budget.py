"""D6: the timeouts add up — a whole apply ends before the app server kills its worker."""

from __future__ import annotations

import runpy
import time
from pathlib import Path

import pytest
from django.core import checks

from tests.auditkit import change_records
from tests.editing import Editor
from vpcepadmin.audit.models import Outcome
from vpcepadmin.budget import Budget

ROOT = Path(__file__).resolve().parent.parent


def _budget_errors() -> list[str]:
    return [message.msg for message in checks.run_checks() if message.id == "vpcepadmin.E005"]


def test_the_defaults_fit_in_the_worker_timeout() -> None:
    budget = Budget.from_environ({})
    assert budget.problems() == []
    assert budget.apply_deadline + 10 <= budget.worker_timeout
    assert budget.reconcile_after == budget.worker_timeout + budget.cloud_deadline


def test_the_checks_refuse_an_apply_deadline_the_worker_would_not_outlive(settings) -> None:
    """Before: lock wait (30 s) + three calls (20 s each) against gunicorn's --timeout 60."""
    settings.WORKER_TIMEOUT, settings.EDIT_APPLY_DEADLINE = 60, 90
    assert any("exceeds VPCEPADMIN_WORKER_TIMEOUT" in message for message in _budget_errors())


def test_the_checks_refuse_a_lock_wait_that_leaves_no_time_for_the_calls(settings) -> None:
    settings.EDIT_LOCK_TIMEOUT, settings.EDIT_APPLY_DEADLINE = 45, 45
    assert any("leaves no time for the cloud calls" in message for message in _budget_errors())


def test_gunicorn_takes_its_worker_timeout_from_the_budget(monkeypatch) -> None:
    monkeypatch.setenv("VPCEPADMIN_WORKER_TIMEOUT", "75")
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert config["timeout"] == 75 == Budget.from_environ().worker_timeout


@pytest.fixture
def editor(operator_client, account, simulator) -> Editor:
    editor = Editor(operator_client, account.pk, simulator.seed["endpoint_services"][0]["id"])
    editor.load()
    return editor


def test_a_slow_cloud_cannot_stretch_an_apply_past_its_deadline(editor, simulator, settings) -> None:
    settings.EDIT_APPLY_DEADLINE, settings.EDIT_LOCK_TIMEOUT = 2.0, 0.5
    settings.CLOUD_READ_TIMEOUT = settings.CLOUD_DEADLINE = 10.0  # each call alone could take 10 s
    editor.submit("review", description="slow")
    simulator.add_fault(
        action="latency", seconds=0.8, match={"method": "GET", "path": "vpc-endpoint-services/"}
    )
    simulator.add_fault(action="apply_then_timeout", seconds=5, match={"method": "PUT"}, count=1)
    started = time.monotonic()
    response = editor.submit("apply", reason="r", description="slow")
    elapsed = time.monotonic() - started
    # A deadline, not a benchmark: without one this apply takes 0.8 + 5 + 0.8 s and more.
    assert elapsed < settings.EDIT_APPLY_DEADLINE + 1.0, elapsed
    assert len(simulator.journal(method="PUT")) == 1
    # The PUT's answer was cut by the deadline and no time was left to re-read: the attempt stays open.
    assert [record.outcome for record in change_records()] == [Outcome.ATTEMPTED]
    assert "stays open" in response.content.decode()
