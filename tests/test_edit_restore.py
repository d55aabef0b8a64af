"""The edit flow's side of "Restore these values": pre-filled from a past change, linked to it."""

from __future__ import annotations

import pytest

from tests.editing import Editor
from vpcepadmin.audit.models import AuditRecord, Outcome


@pytest.fixture
def changed(operator_client, account, simulator) -> tuple[Editor, AuditRecord]:
    """A service whose name and ports were changed once through the dashboard."""
    editor = Editor(operator_client, account.pk, simulator.seed["endpoint_services"][0]["id"])
    editor.load()
    editor.apply(service_name="renamed", ports=[(443, 8443, "TCP"), (80, 8080, "TCP")])
    return editor, AuditRecord.objects.get(outcome=Outcome.APPLIED)


def test_restore_pre_fills_the_values_before_the_change(changed) -> None:
    editor, record = changed
    editor.load(f"?restore={record.pk}")
    assert editor.values["service_name"] == "service-00"
    assert editor.values["ports"] == [(443, 8443, "TCP")]
    assert editor.values["restored_from"] == record.pk


def test_applying_a_restore_links_the_new_records_to_the_old(changed, simulator) -> None:
    editor, record = changed
    editor.load(f"?restore={record.pk}")
    editor.apply(reason="undo CHG-1")
    outcome, attempt = AuditRecord.objects.order_by("-seq")[:2]
    assert (attempt.restored_from_id, outcome.restored_from_id) == (record.pk, record.pk)
    assert simulator.journal(method="PUT")[-1]["body"] == {
        "service_name": "service-00",
        "ports": [{"client_port": 443, "server_port": 8443, "protocol": "TCP"}],
    }


def test_a_record_of_another_service_cannot_be_claimed(changed, account, operator_client, simulator) -> None:
    _editor, record = changed
    other = Editor(operator_client, account.pk, simulator.seed["endpoint_services"][1]["id"])
    other.load(f"?restore={record.pk}")
    assert other.values["restored_from"] in (None, "")
    other.apply(description="x", restored_from=record.pk)  # a tampered hidden field
    assert AuditRecord.objects.order_by("-seq").first().restored_from_id is None
