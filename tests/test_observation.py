"""`manage.py observe_cloud`: changes made outside the dashboard are observed and recorded, once,
against the simulator over real HTTP (the outside changes are made through the cloud API itself)."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest
from django.core.management import call_command

from tests import seeds
from tests.dashboard import make_account
from tests.editing import Editor
from vpcepadmin.audit.models import OBSERVED_ACTIONS, OUTSIDE_ACTOR, Action, AuditRecord, Outcome
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.budget import Budget
from vpcepadmin.changes.models import ObservationRun, Snapshot
from vpcepadmin.changes.observation import observe_account


def _observed() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action__in=OBSERVED_ACTIONS).order_by("seq"))


def _services(simulator) -> list[dict[str, Any]]:
    return simulator.seed["endpoint_services"]


@pytest.fixture
def observed(account, simulator) -> list[dict[str, Any]]:
    """An account whose baseline was taken; its services (as seeded)."""
    report = observe_account(account)
    assert report.baseline and report.services == len(_services(simulator))
    return _services(simulator)


def test_the_first_run_is_one_baseline_record_and_a_second_run_writes_nothing(account, simulator) -> None:
    report = observe_account(account)
    [baseline] = _observed()
    assert (baseline.action, baseline.actor_username, baseline.after) == (
        Action.OBSERVATION_BASELINE, OUTSIDE_ACTOR, {"services": 3}
    )  # fmt: skip
    assert baseline.summary == "baseline: 3 services observed" and report.recorded == 1
    assert Snapshot.objects.count() == 3
    again = observe_account(account)
    assert (again.recorded, again.baseline, len(_observed())) == (0, False, 1)
    assert ObservationRun.objects.filter(credential=account).count() == 2


def test_outside_changes_are_recorded_exactly_once_with_their_diffs(
    account, simulator, raw_api, observed
) -> None:
    simulator.control.configure(creating_seconds=0, deleting_seconds=0)
    first, second, third = (service["id"] for service in observed)
    approval = raw_api.get(seeds.service_path(second)).json()["approval_enabled"]
    raw_api.put(seeds.service_path(first), {"service_name": "renamed"})
    ports = [
        {"client_port": 443, "server_port": 8443, "protocol": "TCP"},
        {"client_port": 80, "server_port": 8080, "protocol": "TCP"},
    ]
    raw_api.put(seeds.service_path(second), {"ports": ports, "approval_enabled": not approval})
    raw_api.delete(seeds.service_path(third))
    created = raw_api.post(seeds.services_path(), seeds.service()).json()
    time.sleep(0.05)
    report = observe_account(account)
    records = {record.target_id: record for record in _observed()[1:]}
    assert report.recorded == 4 and set(records) == {first, second, third, created["id"]}
    assert records[first].action == Action.OBSERVED_CHANGE
    assert "“renamed”" in (records[first].summary or "")
    assert [item["name"] for item in records[first].diff] == ["service_name"]
    assert records[second].action == Action.OBSERVED_CHANGE
    assert {item["name"] for item in records[second].diff} == {"approval_enabled", "ports"}
    assert records[third].action == Action.OBSERVED_DELETION and records[third].after is None
    assert records[created["id"]].action == Action.OBSERVED_NEW_SERVICE
    for record in records.values():
        assert record.actor_username == OUTSIDE_ACTOR and record.actor_id is None
    assert records[first].before["service_name"] != records[first].after["service_name"]
    assert records[first].after["updated_at"]  # the cloud's updated_at is kept
    assert observe_account(account).recorded == 0  # idempotent
    assert verify_chain().ok


def test_a_change_through_the_dashboard_is_not_reported_as_outside(
    operator_client, account, simulator, observed
) -> None:
    editor = Editor(operator_client, account.pk, observed[0]["id"])
    editor.load()
    editor.apply(description="changed here")
    assert observe_account(account).recorded == 0
    assert _observed()[1:] == []


def test_a_lost_answer_is_reconciled_not_reported_as_drift(
    operator_client, account, simulator, observed, settings
) -> None:
    settings.CLOUD_READ_TIMEOUT = 1.0
    service_id = observed[0]["id"]
    editor = Editor(operator_client, account.pk, service_id)
    editor.load()
    editor.submit("review", description="lost answer")
    simulator.add_fault(match={"method": "PUT"}, action="apply_then_timeout", seconds=3, count=1)
    # The re-read at once fails too, so the attempt stays open for the reconciler.
    simulator.add_fault(
        match={"method": "GET", "path": service_id}, action="status", status=500, skip=1, count=5
    )
    editor.submit("apply", reason="r", description="lost answer", follow=False)
    [attempt] = AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE)
    simulator.control.clear_faults()
    assert observe_account(account).skipped == 1  # in flight: neither drift nor settled yet
    assert _observed()[1:] == []
    settings.WORKER_TIMEOUT, settings.EDIT_APPLY_DEADLINE, settings.EDIT_LOCK_TIMEOUT = 0.3, 0.2, 0.1
    settings.CLOUD_DEADLINE = 0.3
    time.sleep(Budget.of(settings).reconcile_after + 0.05)
    report = observe_account(account)
    assert AuditRecord.objects.get(attempt=attempt).outcome == Outcome.RECONCILED_APPLIED
    assert (report.recorded, report.skipped) == (0, 0) and _observed()[1:] == []


@pytest.mark.parametrize("fault", ["wrong secret", "unreachable endpoint"])
def test_an_unreadable_account_is_reported_and_the_others_observed(
    db, simulator, capsys, settings, fault
) -> None:
    good = make_account(simulator.url, name="good")
    if fault == "wrong secret":
        make_account(simulator.url, name="bad", secret="wrong-secret", project_id=seeds.OTHER_PROJECT_ID)
    else:  # nothing listens on port 9 of this machine
        settings.CLOUD_DEADLINE = 2.0
        make_account("http://127.0.0.1:9", name="bad", project_id=seeds.OTHER_PROJECT_ID)
    with pytest.raises(SystemExit) as exit_info:
        call_command("observe_cloud")
    out = capsys.readouterr().out
    assert exit_info.value.code == 1
    assert "“bad”: could not be read" in out and "nothing recorded" in out
    assert "“good”: baseline of 3 services" in out
    assert [record.credential_id for record in _observed()] == [good.pk]
    bad_run = ObservationRun.objects.get(credential__name="bad")
    assert bad_run.error and bad_run.recorded == 0


def test_an_unknown_account_is_a_clear_error(db, simulator) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No stored account with id 999"):
        call_command("observe_cloud", "--account", "999")


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_record_each_change_once(simulator, raw_api) -> None:
    account = make_account(simulator.url)
    observe_account(account)
    for service in _services(simulator):
        raw_api.put(seeds.service_path(service["id"]), {"description": "changed outside"})
    start = threading.Barrier(2)
    reports = []

    def run() -> None:
        from django.db import connection

        start.wait()
        try:
            reports.append(observe_account(account))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    changes = [record for record in _observed() if record.action == Action.OBSERVED_CHANGE]
    assert sorted(record.target_id for record in changes) == sorted(s["id"] for s in _services(simulator))
    assert sum(report.recorded for report in reports) == 3
    assert verify_chain().ok


def test_a_conflict_names_the_change_it_ran_into_ours_or_observed(
    db, account, simulator, raw_api, observed
) -> None:
    from tests.dashboard import client_for, make_user

    first, second = (client_for(make_user("operator", username=name)) for name in ("alice", "bob"))
    service_id = observed[0]["id"]
    alice, bob = Editor(first, account.pk, service_id), Editor(second, account.pk, service_id)
    alice.load()
    bob.load()
    bob.apply(description="bob was first")
    applied = AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE, outcome=Outcome.APPLIED).get()
    alice.submit("review", description="alice too")
    page = alice.submit("apply", reason="r", description="alice too").content.decode()
    assert f"audit record #{applied.seq}" in page and "<strong>bob</strong>" in page
    conflict = AuditRecord.objects.get(outcome=Outcome.CONFLICT)
    assert "by bob at" in conflict.error_message and f"#{applied.seq}" in conflict.error_message
    # Changed outside and not observed yet: the conflict says so; once observed, it names that record.
    alice.load()
    raw_api.put(seeds.service_path(service_id), {"description": "from terraform"})
    alice.submit("review", description="alice again")
    page = alice.submit("apply", reason="r", description="alice again").content.decode()
    assert "made outside vpcepadmin and has not been observed yet" in page
    alice.load()
    raw_api.put(seeds.service_path(service_id), {"description": "from terraform, again"})
    observe_account(account)
    seen = _observed()[-1]
    alice.submit("review", description="alice at last")
    page = alice.submit("apply", reason="r", description="alice at last").content.decode()
    assert f"audit record #{seen.seq}" in page and f"<strong>{OUTSIDE_ACTOR}</strong>" in page


@pytest.mark.django_db(transaction=True)
def test_the_demo_observes_on_its_own_every_interval(simulator, raw_api) -> None:
    from vpcepadmin.management.commands.rundemo import observe_every

    account = make_account(simulator.url)
    stop = threading.Event()
    thread = threading.Thread(target=observe_every, args=(0.2, stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not ObservationRun.objects.filter(credential=account).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        raw_api.put(seeds.service_path(_services(simulator)[0]["id"]), {"description": "made in the console"})
        while (
            not AuditRecord.objects.filter(action=Action.OBSERVED_CHANGE).exists()
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    [change] = AuditRecord.objects.filter(action=Action.OBSERVED_CHANGE)
    assert change.after["description"] == "made in the console"


def test_connections_and_whitelists_are_observed_with_the_flags(
    operator_client, account, simulator, raw_api
) -> None:
    from tests import connectionkit as kit
    from vpcepadmin.changes.observation import Parts

    simulator.reset(kit.seed())
    parts = Parts(connections=True, whitelist=True)
    assert observe_account(account, parts).baseline
    assert Snapshot.objects.filter(target_type__in=("connections", "whitelist")).count() == 4
    # Outside: an accept and a whitelist entry through the API; then one through the dashboard.
    path = seeds.service_path(kit.SERVICE_ID)
    raw_api.post(f"{path}/connections/action", {"action": "receive", "endpoints": [kit.PENDING[0]]})
    entry = f"iam:domain::{kit.ACCOUNTS[2]}"
    raw_api.post(
        f"{path}/permissions/action", {"permissions": [entry], "action": "add", "permission_type": "domainId"}
    )
    report = observe_account(account, parts)
    assert report.recorded == 2
    connection_change, whitelist_change = sorted(_observed()[1:], key=lambda record: str(record.summary))
    assert (
        connection_change.summary
        == f"connection {kit.PENDING[0]} (account {kit.ACCOUNTS[0]}): pendingAcceptance → accepted"
    )
    assert whitelist_change.summary == f"whitelist + {entry}"
    assert {connection_change.target_id, whitelist_change.target_id} == {kit.SERVICE_ID}
    assert observe_account(account, parts).recorded == 0
    page = operator_client.get(
        f"/credentials/{account.pk}/services/{kit.SERVICE_ID}/connections/"
    ).content.decode()
    token = re.search(
        rf'name="reject" value="([^"]+)"[^>]*>Reject<span class="visually-hidden"> {kit.PENDING[1]}', page
    )
    assert token is not None
    data = {"do": "reject", "connection": [token.group(1)], "step": "apply", "reason": "r"}
    operator_client.post(f"/credentials/{account.pk}/services/{kit.SERVICE_ID}/connections/confirm/", data)
    assert AuditRecord.objects.filter(action=Action.REJECT_CONNECTION, outcome=Outcome.APPLIED).exists()
    assert observe_account(account, parts).recorded == 0  # ours: the snapshot moved with its outcome


def test_an_outside_change_just_before_ours_is_recorded_first_not_swallowed(
    operator_client, account, simulator, raw_api, observed
) -> None:
    service_id = observed[0]["id"]
    raw_api.put(seeds.service_path(service_id), {"service_name": "renamed-outside"})
    editor = Editor(operator_client, account.pk, service_id)
    editor.load()
    editor.apply(description="ours, after theirs")
    records = list(AuditRecord.objects.filter(target_id=service_id).order_by("seq"))
    assert [(r.action, r.outcome) for r in records] == [
        (Action.OBSERVED_CHANGE, Outcome.APPLIED),
        (Action.MODIFY_ENDPOINT_SERVICE, Outcome.ATTEMPTED),
        (Action.MODIFY_ENDPOINT_SERVICE, Outcome.APPLIED),
    ]
    theirs = records[0]
    assert theirs.actor_username == OUTSIDE_ACTOR and "“renamed-outside”" in (theirs.summary or "")
    assert observe_account(account).recorded == 0  # nothing left over, nothing twice
    assert verify_chain().ok
