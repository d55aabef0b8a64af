"""Two operators apply different changes to one service at the same moment: exactly one PUT wins."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tests import seeds
from tests.dashboard import client_for, make_account, make_user
from tests.editing import Editor
from vpcepadmin.audit.models import AuditRecord, Outcome
from vpcepadmin.audit.verification import verify_chain

ROUNDS = 20


def _apply_together(editors: list[Editor], changes: list[dict]) -> list:
    barrier = threading.Barrier(len(editors))
    results: list = [None] * len(editors)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = editors[index].submit("apply", reason=f"operator {index}", **changes[index])
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(editors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_two_simultaneous_changes_wins_every_time(simulator, account) -> None:
    operators = [client_for(make_user("operator", username=f"op{i}")) for i in range(2)]
    service_id = simulator.seed["endpoint_services"][0]["id"]
    changes = [{"description": "from operator 0"}, {"service_name": "from-op-1"}]
    for round_ in range(ROUNDS):
        simulator.reset(seeds.standard_seed())
        # The cloud answers slowly enough for the two applies to overlap.
        simulator.add_fault(action="latency", seconds=0.05, match={"path": "vpc-endpoint-services/"})
        editors = [Editor(client, account.pk, service_id) for client in operators]
        for editor, change in zip(editors, changes, strict=True):
            editor.load()
            assert editor.submit("review", **change).templates[0].name == "endpoints/review.html"
        responses = _apply_together(editors, changes)
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 302], f"round {round_}: {statuses}"
        loser = next(r for r in responses if r.status_code == 200)
        assert loser.templates[0].name == "endpoints/conflict.html"
        assert len(simulator.journal(method="PUT")) == 1
        winner_change = changes[responses.index(next(r for r in responses if r.status_code == 302))]
        state = simulator.control.state()
        current = next(s for s in state["endpoint_services"] if s["id"] == service_id)
        if "description" in winner_change:
            assert current["description"] == winner_change["description"]  # no lost update
        else:
            assert current["service_name"] == winner_change["service_name"]
    outcomes = [record.outcome for record in AuditRecord.objects.order_by("seq")]
    assert outcomes.count(Outcome.APPLIED) == ROUNDS
    assert outcomes.count(Outcome.CONFLICT) == ROUNDS
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_two_stored_accounts_of_one_project_are_one_target(simulator, account) -> None:
    """D2: each operator edits through a different stored account of the same project; before, both
    re-read the old state, both PUT, and one change silently overwrote the other."""
    second = make_account(simulator.url, name="Same project, second account")
    operators = [client_for(make_user("operator", username=f"acct{i}")) for i in range(2)]
    service_id = simulator.seed["endpoint_services"][0]["id"]
    changes = [{"description": "through account one"}, {"description": "through account two"}]
    for round_ in range(10):
        simulator.reset(seeds.standard_seed())
        simulator.add_fault(action="latency", seconds=0.5, match={"method": "PUT"})
        editors = [
            Editor(operators[0], account.pk, service_id),
            Editor(operators[1], second.pk, service_id),
        ]
        for editor, change in zip(editors, changes, strict=True):
            editor.load()
            assert editor.submit("review", **change).templates[0].name == "endpoints/review.html"
        responses = _apply_together(editors, changes)
        assert sorted(r.status_code for r in responses) == [200, 302], f"round {round_}"
        assert len(simulator.journal(method="PUT")) == 1, f"round {round_}: both changes were sent"
        winner = changes[[r.status_code for r in responses].index(302)]
        current = simulator.control.state()["endpoint_services"][0]
        assert current["description"] == winner["description"]
        loser = next(r for r in responses if r.status_code == 200)
        assert loser.templates[0].name == "endpoints/conflict.html"
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_a_read_that_overlaps_another_change_is_never_taken_for_the_current_state(simulator, account) -> None:
    """Found by the soak: B read the service while A's PUT was out; A's outcome was written before B
    claimed, so B's claim saw nothing open and no newer attempt, and B's PUT overwrote A's change.
    (On SQLite the test database serialises the two threads, so only the PostgreSQL run can race.)"""
    service_id = simulator.seed["endpoint_services"][0]["id"]
    first, second = (
        Editor(client_for(make_user("operator", username=f"ovl{i}")), account.pk, service_id)
        for i in range(2)
    )
    for editor, text in ((first, "n=1 from A"), (second, "n=1 from B")):
        editor.load()
        assert editor.submit("review", description=text).templates[0].name == "endpoints/review.html"
    simulator.add_fault(action="latency", seconds=0.3, match={"method": "PUT"}, count=1)
    results: list = []
    thread = threading.Thread(
        target=lambda: results.append(first.submit("apply", reason="A", description="n=1 from A"))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not AuditRecord.objects.filter(outcome=Outcome.ATTEMPTED).exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # B's re-read is answered slowly: the state it reports is read at once, before A's PUT lands.
    simulator.add_fault(action="drip", interval=0.1, chunk=40, match={"method": "GET"}, count=1)
    response = second.submit("apply", reason="B", description="n=1 from B")
    thread.join(timeout=30)
    connection.close()
    assert results[0].status_code == 302
    assert response.templates[0].name == "endpoints/conflict.html"
    assert len(simulator.journal(method="PUT")) == 1
    assert simulator.control.state()["endpoint_services"][0]["description"] == "n=1 from A"
