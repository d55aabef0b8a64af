"""The policy guardrails where changes are made: each rule refuses its case with the error on the
right field and no call to the cloud; a warning shows on review; a "needs approval" rule routes an
otherwise direct change into a change request; and the pipeline judges again what the pages judged.
Against the simulator over real HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.connectionkit import SERVICE_ID, WHITELIST_PATH
from tests.connectionkit import seed as connection_seed
from tests.dashboard import client_for, make_user
from tests.editing import Editor
from tests.mfakit import verify_session
from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord
from vpcepadmin.changes.models import ChangeRequest, RequestStatus
from vpcepadmin.endpoints.modify import EditRequest, Loaded, load_for_edit, modify_endpoint_service
from vpcepadmin.endpoints.versioning import read_version
from vpcepadmin.policies.models import Mode, PolicyRule, Rule


def _rule(environment: str, rule: str, mode: str, value: Any = None) -> None:
    PolicyRule.objects.update_or_create(
        environment=environment, rule=rule, defaults={"mode": mode, "value": value}
    )


@pytest.fixture
def production(account, operator, operator_client):
    """The test account on production without four eyes: only the policies stand in the way."""
    account.environment, account.requires_approval = "production", False
    account.save()
    verify_session(operator_client, operator)
    return account


def _calls(simulator, method: str = "PUT") -> list[dict]:
    return simulator.journal(method=method)


def _editor(client, account, simulator) -> Editor:
    editor = Editor(client, account.pk, simulator.seed["endpoint_services"][0]["id"])
    editor.load()
    return editor


def _invalid(page: str, field_id: str) -> bool:
    """Whether the input ``field_id`` is marked invalid (its tag carries ``aria-invalid``)."""
    tag = re.search(rf'<[^>]*id="{re.escape(field_id)}"[^>]*>', page)
    return tag is not None and 'aria-invalid="true"' in tag.group(0)


def test_a_forbidden_server_port_is_refused_on_its_row_with_no_call(
    operator_client, production, simulator
) -> None:
    _rule("production", Rule.FORBIDDEN_PORTS, Mode.FORBIDDEN, [22, 3389])
    editor = _editor(operator_client, production, simulator)
    rows = [*editor.values["ports"], (2222, 22, "TCP")]
    response = editor.submit("review", ports=rows)
    page = response.content.decode()
    assert response.templates[0].name == "endpoints/edit.html"
    assert "Server port 22 is forbidden on production services" in page
    assert _invalid(page, f"id_ports-{len(rows) - 1}-server_port")
    assert _calls(simulator) == []
    # The same change sent straight to the use case (as any other caller would) is refused too.
    loaded = load_for_edit(production, editor.service_id)
    assert isinstance(loaded, Loaded)
    version = read_version(loaded.version, production, editor.service_id)
    assert version is not None
    values = {**version.original, "ports": [*version.original["ports"], _port(2222, 22)]}
    result = modify_endpoint_service(
        production, editor.service_id, version, EditRequest(values, "r"), recorder.Context()
    )
    assert result.outcome == "forbidden" and "Nothing was sent." in result.message
    assert (
        _calls(simulator) == []
        and not AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE).exists()
    )


def _port(client: Any, server: Any, protocol: str = "TCP") -> dict:
    return {"client_port": int(client), "server_port": int(server), "protocol": protocol}


def test_turning_connection_approval_off_on_production_is_refused_on_the_field(
    operator_client, production, simulator
) -> None:
    editor = _editor(operator_client, production, simulator)
    assert editor.values["approval_enabled"], "the seeded service has approval on"
    page = editor.submit("review", approval_enabled=False).content.decode()
    assert "Turning “Connection approval required” off is forbidden on production services" in page
    assert _invalid(page, "id_approval_enabled") and _calls(simulator) == []


def test_more_mappings_than_the_limit_are_refused_on_the_table(
    operator_client, production, simulator
) -> None:
    editor = _editor(operator_client, production, simulator)
    rows = editor.values["ports"]
    _rule("production", Rule.MAX_MAPPINGS, Mode.FORBIDDEN, len(rows))
    page = editor.submit("review", ports=[*rows, (4444, 4444, "TCP")]).content.decode()
    assert f"More than {len(rows)} port mappings is forbidden on production services" in page
    assert _calls(simulator) == []


def test_tcp_toa_on_a_non_obs_backend_is_a_warning_on_review_and_applies(
    operator_client, production, simulator
) -> None:
    editor = _editor(operator_client, production, simulator)
    review = editor.submit("review", tcp_proxy="toa_open")
    page = review.content.decode()
    assert review.templates[0].name == "endpoints/review.html"
    assert "Warning:" in page and "TOA works only for OBS backends" in page
    assert editor.submit("apply", reason="OPS-5", tcp_proxy="toa_open").status_code == 302
    [put] = _calls(simulator)
    assert put["body"] == {"tcp_proxy": "toa_open"}


def test_everyone_on_a_production_whitelist_is_refused_beside_the_field(
    operator_client, production, simulator
) -> None:
    simulator.reset(connection_seed())
    simulator.control.clear_journal()
    url = f"/credentials/{production.pk}/services/{SERVICE_ID}/whitelist/confirm/"
    response = operator_client.post(url, {"entry_type": "everyone", "value": ""})
    page = response.content.decode()
    assert "Adding “Everyone” (*) to the whitelist is forbidden on production services" in page
    assert _invalid(page, "id_value") and 'id="error-summary"' in page
    assert [call for call in _calls(simulator, "POST") if WHITELIST_PATH in call["path"]] == []


def test_a_needs_approval_policy_routes_a_direct_change_into_a_request(account, simulator) -> None:
    """Staging, no four eyes: only the rule asks for a second person, and only for what it covers."""
    _rule("staging", Rule.FORBIDDEN_PORTS, Mode.NEEDS_APPROVAL, [22])
    alice, bob = make_user("operator", username="alice"), make_user("operator", username="bob")
    clients = {"alice": client_for(alice), "bob": client_for(bob)}
    editor = _editor(clients["alice"], account, simulator)
    rows = [*editor.values["ports"], (2222, 22, "TCP")]
    page = editor.submit("review", ports=rows).content.decode()
    assert "Request approval" in page and 'value="apply"' not in page and "Needs approval:" in page
    assert editor.submit("apply", reason="OPS-6", ports=rows).status_code == 403
    assert editor.submit("request", reason="OPS-6", ports=rows).status_code == 302
    change = ChangeRequest.objects.get()
    assert _calls(simulator) == []
    clients["bob"].post(f"/approvals/{change.pk}/decide/", {"action": "approve", "reason": "ok"})
    change.refresh_from_db()
    assert change.status == RequestStatus.APPLIED
    [put] = _calls(simulator)
    assert {"client_port": 2222, "server_port": 22, "protocol": "TCP"} in put["body"]["ports"]
    # A change the rule does not cover still goes straight through.
    other = _editor(clients["alice"], account, simulator)
    assert other.apply(description="no port change").status_code == 302
    assert _calls(simulator)[-1]["body"] == {"description": "no port change"}
