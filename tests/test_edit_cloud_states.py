"""The edit flow in every state the cloud can be in: the status gate on the server, and values the
form cannot edit kept exactly as the cloud holds them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing

from tests import seeds
from tests.auditkit import change_records
from tests.editing import Editor
from vpcepadmin.endpoints.versioning import SALT

REFUSAL = "This service is {status}; it can be edited when it is available."


def _service_with(simulator, **overrides: Any) -> dict[str, Any]:
    seed = seeds.standard_seed(services=0)
    seed["endpoint_services"] = [seeds.service(**overrides)]
    seed.update(overrides.pop("_seed", {}))
    simulator.reset(seed)
    return seed["endpoint_services"][0]


def _text(response) -> str:
    return response.content.decode()


def _put_bodies(simulator) -> list[dict[str, Any]]:
    return [entry["body"] for entry in simulator.journal(method="PUT")]


# --- 1. only an available service can be edited, enforced by the use case --------------------------
@pytest.mark.parametrize("status", ["failed", "creating", "deleting"])
def test_it_refuses_to_load_the_form_of_a_service_that_is_not_available(
    operator_client, account, simulator, status
) -> None:
    service = _service_with(simulator, status=status)
    response = operator_client.get(f"/credentials/{account.pk}/services/{service['id']}/edit/")
    text = _text(response)
    assert response.status_code == 200
    assert REFUSAL.format(status=status) in text
    assert f'href="/credentials/{account.pk}/services/{service["id"]}/"' in text  # the way back
    assert 'id="edit-form"' not in text
    assert [entry["method"] for entry in simulator.journal()] == ["GET"]
    assert change_records() == []


def test_it_refuses_to_review_a_form_signed_for_a_service_that_is_not_available(
    operator_client, account, simulator
) -> None:
    """A version token only exists for a service loaded as available; the review checks it anyway."""
    service = _service_with(simulator)
    editor = Editor(operator_client, account.pk, service["id"])
    editor.load()
    payload = signing.loads(editor.version, salt=SALT)
    editor.version = signing.dumps({**payload, "st": "failed"}, salt=SALT, compress=True)
    simulator.control.clear_journal()
    response = editor.submit("review", description="changed")
    assert REFUSAL.format(status="failed") in _text(response)
    assert "endpoints/review.html" not in [t.name for t in response.templates]
    assert simulator.journal() == []
    assert change_records() == []


def test_it_refuses_to_apply_when_the_service_left_available_after_the_review(
    operator_client, account, simulator
) -> None:
    service = _service_with(simulator)
    editor = Editor(operator_client, account.pk, service["id"])
    editor.load()
    review = editor.submit("review", description="changed")
    assert "endpoints/review.html" in [t.name for t in review.templates]
    failed = {**service, "status": "failed"}
    simulator.reset({**seeds.standard_seed(services=0), "endpoint_services": [failed]})
    response = editor.submit("apply", reason="Ticket OPS-2", description="changed")
    assert REFUSAL.format(status="failed") in _text(response)
    assert "Nothing was sent." in _text(response)
    assert simulator.journal(method="PUT") == []
    assert change_records() == []  # not even a conflict record


def test_an_old_version_token_without_a_status_reloads_the_form(operator_client, account, simulator) -> None:
    service = _service_with(simulator)
    editor = Editor(operator_client, account.pk, service["id"])
    editor.load()
    payload = signing.loads(editor.version, salt=SALT)
    del payload["st"]
    editor.version = signing.dumps(payload, salt=SALT, compress=True)
    response = editor.submit("review", description="changed")
    assert response.status_code == 302  # "the edit form was out of date, so it was loaded again"
    assert simulator.journal(method="PUT") == []


# --- 2. values the form cannot edit are kept -------------------------------------------------------
UDP_ROW = {"client_port": 53, "server_port": 5353, "protocol": "UDP"}
TCP_ROW = {"client_port": 443, "server_port": 8443, "protocol": "TCP"}


@pytest.fixture
def unusual(simulator) -> dict[str, Any]:
    """A service another tool configured: a UDP mapping (HWC 2025, OTC), ``tcp_proxy`` proxy_vni (OTC),
    a description with angle brackets, and fields the dashboard does not edit."""
    return _service_with(
        simulator,
        ports=[TCP_ROW, UDP_ROW],
        tcp_proxy="proxy_vni",
        description="set by <terraform>",
        enable_policy=True,
        tags=[{"key": "owner", "value": "team-a"}],
        _seed={"protocols": ["TCP", "UDP"]},
    )


def test_the_form_shows_values_outside_its_choices_as_they_are(operator_client, account, unusual) -> None:
    response = operator_client.get(f"/credentials/{account.pk}/services/{unusual['id']}/edit/")
    text = _text(response)
    assert '<option value="UDP" selected>UDP</option>' in text
    assert '<option value="proxy_vni" selected>' in text
    assert "set by &lt;terraform&gt;" in text


def test_changing_only_the_description_sends_exactly_the_description(
    operator_client, account, simulator, unusual
) -> None:
    editor = Editor(operator_client, account.pk, unusual["id"])
    editor.load()
    response = editor.apply(description="only this")
    assert response.status_code == 302, _text(response)[:3000]
    assert _put_bodies(simulator) == [{"description": "only this"}]
    detail = simulator.control.state()["endpoint_services"][0]
    assert (detail["tcp_proxy"], detail["ports"][1]) == ("proxy_vni", UDP_ROW)
    assert detail["enable_policy"] is True and detail["tags"] == [{"key": "owner", "value": "team-a"}]


def test_an_untouched_value_the_form_would_refuse_is_kept_and_not_sent(
    operator_client, account, simulator, unusual
) -> None:
    editor = Editor(operator_client, account.pk, unusual["id"])
    editor.load()
    response = editor.apply(approval_enabled=False)
    assert response.status_code == 302, _text(response)[:3000]
    assert _put_bodies(simulator) == [{"approval_enabled": False}]


def test_a_changed_value_is_still_judged_by_every_rule(operator_client, account, simulator, unusual) -> None:
    editor = Editor(operator_client, account.pk, unusual["id"])
    editor.load()
    response = editor.submit("review", description="set by <terraform> and me")
    assert "The description must not contain &lt; or &gt;." in _text(response)
    assert simulator.journal(method="PUT") == []


def test_changing_ports_sends_the_complete_list_with_untouched_rows_as_they_were(
    operator_client, account, simulator, unusual
) -> None:
    editor = Editor(operator_client, account.pk, unusual["id"])
    editor.load()
    response = editor.apply(ports=[(443, 8443, "TCP"), (53, 5353, "UDP"), (80, 8080, "TCP")])
    assert response.status_code == 302, _text(response)[:3000]
    expected = [TCP_ROW, UDP_ROW, {"client_port": 80, "server_port": 8080, "protocol": "TCP"}]
    assert _put_bodies(simulator) == [{"ports": expected}]


def test_a_row_may_not_use_a_protocol_the_service_does_not_offer(
    operator_client, account, simulator, unusual
) -> None:
    editor = Editor(operator_client, account.pk, unusual["id"])
    editor.load()
    response = editor.submit("review", ports=[(443, 8443, "TCP"), (53, 5353, "UDP"), (80, 8080, "SCTP")])
    forms = response.context["forms"]
    assert forms.formset.forms[2].errors["protocol"] == ["Choose TCP or UDP."]
    assert simulator.journal(method="PUT") == []


def test_a_plain_service_offers_tcp_only(operator_client, account, simulator) -> None:
    service = _service_with(simulator)
    editor = Editor(operator_client, account.pk, service["id"])
    editor.load()
    response = editor.submit("review", ports=[(443, 8443, "UDP")])
    assert response.context["forms"].formset.forms[0].errors["protocol"] == ["Choose TCP."]
    assert simulator.journal(method="PUT") == []
