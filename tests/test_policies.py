"""Policy guardrails: what each rule finds in a change, the page that shows them, and admins changing
them (validated on the server, audited in the same transaction, nothing saved on error)."""

from __future__ import annotations

import csv
import importlib
import io
import json
from typing import Any

import pytest
from django.http import StreamingHttpResponse
from django.test import Client

from tests import mfakit
from tests.auditkit import text
from tests.dashboard import NO_ROLE, PERSONAS, client_for
from vpcepadmin import roles
from vpcepadmin.audit.models import Action, AuditRecord, Outcome, TargetType
from vpcepadmin.audit.verification import verify_chain
from vpcepadmin.credentials.models import Environment
from vpcepadmin.policies import rules
from vpcepadmin.policies.declared import DECLARED, defaults
from vpcepadmin.policies.models import Mode, PolicyRule, Rule
from vpcepadmin.policies.rules import Finding, check_service, check_whitelist

PROD, STAGING = Environment.PRODUCTION.value, Environment.STAGING.value
pytestmark = pytest.mark.django_db


def _set(environment: str, rule: str, mode: str, value: Any = "keep") -> None:
    row = PolicyRule.objects.get(environment=environment, rule=rule)
    row.mode = mode
    if value != "keep":
        row.value = value
    row.save()


def _service(
    approval: bool = True, tcp_proxy: str = "close", ports: tuple[int, ...] = (443,)
) -> dict[str, Any]:
    """Editable values as ``editable_values`` gives them; ``ports`` are server ports (client = 10000+)."""
    return {
        "service_name": "web",
        "description": "",
        "approval_enabled": approval,
        "port_id": "0b4e4d1c-7a5e-4d8f-9c1a-2b3c4d5e6f70",
        "vip_port_id": "",
        "tcp_proxy": tcp_proxy,
        "ports": [{"client_port": 10000 + port, "server_port": port, "protocol": "TCP"} for port in ports],
    }


def _modes(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(finding.rule, finding.field, finding.mode) for finding in findings]


# --- the defaults ------------------------------------------------------------------------------------
def test_it_seeds_the_declared_defaults_for_every_environment() -> None:
    stored = {(row.environment, row.rule): (row.mode, row.value) for row in PolicyRule.objects.all()}
    assert stored == {(env, rule): (mode, value) for env, rule, mode, value in defaults()}
    assert len(stored) == len(Environment.values) * len(Rule.values)
    assert stored[PROD, Rule.CONNECTION_APPROVAL] == (Mode.FORBIDDEN, None)
    assert stored[STAGING, Rule.CONNECTION_APPROVAL] == (Mode.OFF, None)
    assert stored[STAGING, Rule.FORBIDDEN_PORTS] == (Mode.FORBIDDEN, [])
    assert stored[PROD, Rule.WHITELIST_EVERYONE] == (Mode.FORBIDDEN, None)
    assert stored[STAGING, Rule.MAX_MAPPINGS] == (Mode.FORBIDDEN, 200)
    assert stored[PROD, Rule.TCP_TOA] == (Mode.WARNING, None)


def test_the_migrations_frozen_defaults_are_the_declared_ones() -> None:
    frozen = importlib.import_module("vpcepadmin.policies.migrations.0002_seed_defaults")
    assert set(frozen.ENVIRONMENTS) == set(Environment.values)
    for rule, (production, other, value) in frozen.DEFAULTS.items():
        assert DECLARED[rule].default(PROD) == (production, value)
        assert DECLARED[rule].default(STAGING) == (other, value)
    assert set(frozen.DEFAULTS) == set(DECLARED)


def test_a_missing_row_is_judged_by_its_default() -> None:
    PolicyRule.objects.filter(environment=PROD, rule=Rule.CONNECTION_APPROVAL).delete()
    findings = check_service(PROD, _service(approval=True), _service(approval=False), "LB")
    assert _modes(findings) == [(Rule.CONNECTION_APPROVAL, "approval_enabled", Mode.FORBIDDEN)]


# --- connection approval -------------------------------------------------------------------------------
def test_it_forbids_turning_connection_approval_off_on_production() -> None:
    findings = check_service(PROD, _service(approval=True), _service(approval=False), "LB")
    assert _modes(findings) == [(Rule.CONNECTION_APPROVAL, "approval_enabled", Mode.FORBIDDEN)]
    assert "production services" in findings[0].message
    assert "policy “Services keep ‘Connection approval required’ on”" in findings[0].message


def test_it_lets_other_environments_turn_connection_approval_off() -> None:
    assert check_service(STAGING, _service(approval=True), _service(approval=False), "LB") == []


def test_an_approval_already_off_is_a_warning_not_a_refusal() -> None:
    findings = check_service(
        PROD, _service(approval=False), _service(approval=False, tcp_proxy="close"), "LB"
    )
    assert _modes(findings) == [(Rule.CONNECTION_APPROVAL, "approval_enabled", Mode.WARNING)]
    assert "has “Connection approval required” off" in findings[0].message


def test_turning_approval_on_breaks_nothing() -> None:
    assert check_service(PROD, _service(approval=False), _service(approval=True), "LB") == []


@pytest.mark.parametrize("mode", [Mode.NEEDS_APPROVAL, Mode.WARNING])
def test_the_approval_rule_gives_its_mode(mode: str) -> None:
    _set(PROD, Rule.CONNECTION_APPROVAL, mode)
    findings = check_service(PROD, _service(approval=True), _service(approval=False), "LB")
    assert _modes(findings) == [(Rule.CONNECTION_APPROVAL, "approval_enabled", mode)]
    assert rules.needs_approval(findings) is (mode == Mode.NEEDS_APPROVAL)
    assert rules.refusals(findings) == []


# --- forbidden server ports ----------------------------------------------------------------------------
def test_no_port_is_forbidden_by_default() -> None:
    assert check_service(PROD, _service(ports=(443,)), _service(ports=(443, 22, 3389)), "LB") == []


def test_it_forbids_a_new_mapping_to_a_forbidden_server_port_on_its_row() -> None:
    _set(PROD, Rule.FORBIDDEN_PORTS, Mode.FORBIDDEN, [22, 3389])
    findings = check_service(PROD, _service(ports=(443,)), _service(ports=(443, 22, 8080, 3389)), "LB")
    assert _modes(findings) == [
        (Rule.FORBIDDEN_PORTS, "ports-1-server_port", Mode.FORBIDDEN),
        (Rule.FORBIDDEN_PORTS, "ports-3-server_port", Mode.FORBIDDEN),
    ]
    assert findings[0].message.startswith(
        "Server port 22 is forbidden on production services (policy “Forbidden server ports”)."
    )


def test_an_existing_mapping_to_a_forbidden_port_is_only_a_warning() -> None:
    _set(PROD, Rule.FORBIDDEN_PORTS, Mode.FORBIDDEN, [22])
    findings = check_service(PROD, _service(ports=(22, 443)), _service(ports=(22, 443, 8443)), "LB")
    assert _modes(findings) == [(Rule.FORBIDDEN_PORTS, "ports-0-server_port", Mode.WARNING)]
    assert "remove it when you can" in findings[0].message


def test_a_mapping_moved_to_another_client_port_is_new() -> None:
    _set(STAGING, Rule.FORBIDDEN_PORTS, Mode.FORBIDDEN, [22])
    before = _service(ports=(22,))
    after = _service(ports=())
    after["ports"] = [{"client_port": 2222, "server_port": 22, "protocol": "TCP"}]
    assert _modes(check_service(STAGING, before, after, "LB")) == [
        (Rule.FORBIDDEN_PORTS, "ports-0-server_port", Mode.FORBIDDEN)
    ]


@pytest.mark.parametrize(("mode", "expected"), [(Mode.WARNING, [Mode.WARNING]), (Mode.OFF, [])])
def test_the_ports_rule_gives_its_mode(mode: str, expected: list[str]) -> None:
    _set(PROD, Rule.FORBIDDEN_PORTS, mode, [22])
    findings = check_service(PROD, _service(ports=()), _service(ports=(22,)), "LB")
    assert [finding.mode for finding in findings] == expected


def test_a_submitted_row_in_the_forms_strings_is_judged_too() -> None:
    _set(PROD, Rule.FORBIDDEN_PORTS, Mode.FORBIDDEN, [22])
    after = _service(ports=())
    after["ports"] = [{"client_port": "80", "server_port": "22", "protocol": "TCP"}]
    assert _modes(check_service(PROD, _service(ports=()), after, "LB")) == [
        (Rule.FORBIDDEN_PORTS, "ports-0-server_port", Mode.FORBIDDEN)
    ]


# --- at most N mappings --------------------------------------------------------------------------------
def test_it_forbids_more_mappings_than_the_limit() -> None:
    _set(STAGING, Rule.MAX_MAPPINGS, Mode.FORBIDDEN, 2)
    findings = check_service(STAGING, _service(ports=(1, 2)), _service(ports=(1, 2, 3)), "LB")
    assert _modes(findings) == [(Rule.MAX_MAPPINGS, "ports", Mode.FORBIDDEN)]
    assert "this change asks for 3" in findings[0].message
    assert "policy “At most 2 port mappings per service”" in findings[0].message


def test_a_service_already_over_the_limit_may_shrink() -> None:
    _set(STAGING, Rule.MAX_MAPPINGS, Mode.FORBIDDEN, 2)
    findings = check_service(STAGING, _service(ports=(1, 2, 3, 4)), _service(ports=(1, 2, 3)), "LB")
    assert _modes(findings) == [(Rule.MAX_MAPPINGS, "ports", Mode.WARNING)]
    assert check_service(STAGING, _service(ports=(1, 2, 3)), _service(ports=(1, 2)), "LB") == []


def test_the_default_limit_is_the_apis() -> None:
    assert check_service(PROD, _service(ports=()), _service(ports=tuple(range(1, 201))), "LB") == []
    findings = check_service(PROD, _service(ports=()), _service(ports=tuple(range(1, 202))), "LB")
    assert _modes(findings) == [(Rule.MAX_MAPPINGS, "ports", Mode.FORBIDDEN)]


# --- TCP TOA -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["toa_open", "open"])
def test_tcp_toa_on_a_load_balancer_is_a_warning(value: str) -> None:
    findings = check_service(STAGING, _service(), _service(tcp_proxy=value), "LB")
    assert _modes(findings) == [(Rule.TCP_TOA, "tcp_proxy", Mode.WARNING)]
    assert "TOA works only for OBS backends" in findings[0].message


def test_tcp_toa_on_obs_and_the_proxy_protocol_anywhere_break_nothing() -> None:
    assert check_service(STAGING, _service(), _service(tcp_proxy="toa_open"), "OBS") == []
    assert check_service(STAGING, _service(), _service(tcp_proxy="proxy_open"), "LB") == []


def test_tcp_toa_forbidden_refuses_a_new_toa_and_warns_of_an_existing_one() -> None:
    _set(PROD, Rule.TCP_TOA, Mode.FORBIDDEN)
    assert _modes(check_service(PROD, _service(), _service(tcp_proxy="open"), "VM")) == [
        (Rule.TCP_TOA, "tcp_proxy", Mode.FORBIDDEN)
    ]
    kept = check_service(PROD, _service(tcp_proxy="open"), _service(tcp_proxy="open"), "VM")
    assert _modes(kept) == [(Rule.TCP_TOA, "tcp_proxy", Mode.WARNING)]


# --- the whitelist ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", ["*", "iam:domain::*"])
def test_it_forbids_everyone_in_a_production_whitelist(entry: str) -> None:
    findings = check_whitelist(PROD, [entry])
    assert _modes(findings) == [(Rule.WHITELIST_EVERYONE, "entry", Mode.FORBIDDEN)]
    assert "“Everyone” (*)" in findings[0].message


def test_an_account_or_another_environment_breaks_no_whitelist_rule() -> None:
    assert check_whitelist(PROD, ["iam:domain::0123456789abcdef0123456789abcdef"]) == []
    assert check_whitelist(STAGING, ["*"]) == []


def test_everyone_needing_approval_routes_it_into_a_request() -> None:
    _set(STAGING, Rule.WHITELIST_EVERYONE, Mode.NEEDS_APPROVAL)
    findings = check_whitelist(STAGING, ["*"])
    assert rules.needs_approval(findings)
    assert rules.refusals(findings) == []


# --- all together ----------------------------------------------------------------------------------------
def test_it_orders_the_forbidden_first_and_reads_the_rules_once(django_assert_num_queries) -> None:
    _set(PROD, Rule.FORBIDDEN_PORTS, Mode.WARNING, [22])
    _set(PROD, Rule.CONNECTION_APPROVAL, Mode.NEEDS_APPROVAL)
    before = _service(approval=True, ports=(443,))
    after = _service(approval=False, tcp_proxy="toa_open", ports=(443, 22, 25))
    _set(PROD, Rule.MAX_MAPPINGS, Mode.FORBIDDEN, 2)
    with django_assert_num_queries(1):
        findings = check_service(PROD, before, after, "LB")
    assert [finding.mode for finding in findings] == [
        Mode.FORBIDDEN,
        Mode.NEEDS_APPROVAL,
        Mode.WARNING,
        Mode.WARNING,
    ]
    assert [finding.rule for finding in findings] == [
        Rule.MAX_MAPPINGS,
        Rule.CONNECTION_APPROVAL,
        Rule.FORBIDDEN_PORTS,
        Rule.TCP_TOA,
    ]


def test_every_rule_off_finds_nothing() -> None:
    PolicyRule.objects.update(mode=Mode.OFF)
    after = _service(approval=False, tcp_proxy="open", ports=tuple(range(1, 205)))
    assert check_service(PROD, _service(), after, "LB") == []
    assert check_whitelist(PROD, ["*"]) == []


# --- the page --------------------------------------------------------------------------------------------
CHANGE_PORTS = f"/policies/{PROD}/{Rule.FORBIDDEN_PORTS}/"


def _post(client: Client, url: str = CHANGE_PORTS, **values: str) -> Any:
    environment, rule = url.strip("/").split("/")[1:]
    prefix = f"{environment}-{rule}"
    return client.post(url, {f"{prefix}-{name}": value for name, value in values.items()})


def _policy_records() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=Action.CHANGE_POLICY).order_by("seq"))


@pytest.mark.parametrize("who", [NO_ROLE, *PERSONAS])
def test_everyone_signed_in_reads_the_rules_in_force(people, who: str) -> None:
    response = client_for(people[who]).get("/policies/")
    assert response.status_code == 200
    page = response.content.decode()
    shown = text(response)
    for label in Environment.labels:
        assert f"Rules in force on {label} accounts" in page
    assert "Forbidden server ports" in shown
    assert "At most 200 port mappings per service" in shown
    assert '<th scope="row"' in page and '<th scope="col">Mode</th>' in page
    assert ">Policies</a>" in page  # in the navigation
    editable = who == roles.ADMIN
    assert ('action="/policies/production/forbidden_ports/"' in page) is editable


def test_nobody_signed_out_reads_them() -> None:
    response = Client().get("/policies/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", [NO_ROLE, roles.VIEWER, roles.OPERATOR])
def test_a_forged_change_by_a_non_admin_is_refused_and_saves_nothing(people, who: str) -> None:
    response = _post(client_for(people[who]), mode="off", value="22")
    assert response.status_code == 403
    row = PolicyRule.objects.get(environment=PROD, rule=Rule.FORBIDDEN_PORTS)
    assert (row.mode, row.value) == (Mode.FORBIDDEN, [])
    assert _policy_records() == []


def test_an_admin_forbids_ports_and_the_change_is_audited_once(admin_client_, admin_user) -> None:
    response = _post(admin_client_, mode="forbidden", value="3389, 22,22")
    assert response.status_code == 302
    assert response["Location"] == "/policies/"
    row = PolicyRule.objects.get(environment=PROD, rule=Rule.FORBIDDEN_PORTS)
    assert (row.mode, row.value, row.updated_by_username) == (Mode.FORBIDDEN, [22, 3389], "admin")
    [record] = _policy_records()
    assert record.target_type == TargetType.POLICY
    assert record.target_id == "production:forbidden_ports"
    assert record.outcome == Outcome.RECORDED
    assert record.actor_id == admin_user.pk
    assert record.before == {"mode": "forbidden", "value": []}
    assert record.after == {"mode": "forbidden", "value": [22, 3389]}
    assert record.summary == "forbidden_ports on production: value [] → [22, 3389]"
    assert verify_chain().ok
    page = admin_client_.get("/policies/")
    assert "saved. The change is in the audit log." in text(page)
    assert "22, 3389" in text(page)
    assert "by admin" in text(page)
    # and the ports are now refused on production
    findings = check_service(PROD, _service(ports=()), _service(ports=(22,)), "LB")
    assert rules.refusals(findings)


def test_a_mode_change_is_summarised_too(admin_client_) -> None:
    url = f"/policies/{STAGING}/{Rule.CONNECTION_APPROVAL}/"
    assert _post(admin_client_, url, mode="needs_approval").status_code == 302
    [record] = _policy_records()
    assert record.summary == "connection_approval on staging: mode off → needs_approval"
    assert record.after == {"mode": "needs_approval", "value": None}


def test_a_save_without_change_saves_and_records_nothing(admin_client_) -> None:
    before = PolicyRule.objects.get(environment=PROD, rule=Rule.MAX_MAPPINGS).updated_at
    url = f"/policies/{PROD}/{Rule.MAX_MAPPINGS}/"
    response = _post(admin_client_, url, mode="forbidden", value="200")
    assert response.status_code == 302
    assert PolicyRule.objects.get(environment=PROD, rule=Rule.MAX_MAPPINGS).updated_at == before
    assert _policy_records() == []
    assert "nothing changed, so nothing was saved" in text(admin_client_.get("/policies/"))


@pytest.mark.parametrize(
    ("rule", "values", "field", "error"),
    [
        (Rule.FORBIDDEN_PORTS, {"mode": "forbidden", "value": "22, 70000"}, "value", "“70000”"),
        (Rule.FORBIDDEN_PORTS, {"mode": "forbidden", "value": "ssh"}, "value", "Not a port number"),
        (Rule.FORBIDDEN_PORTS, {"mode": "forbidden", "value": "0"}, "value", "from 1 to 65535"),
        (Rule.MAX_MAPPINGS, {"mode": "forbidden", "value": "0"}, "value", "from 1 to 200"),
        (Rule.MAX_MAPPINGS, {"mode": "forbidden", "value": "201"}, "value", "from 1 to 200"),
        (Rule.MAX_MAPPINGS, {"mode": "forbidden", "value": ""}, "value", "from 1 to 200"),
        (Rule.MAX_MAPPINGS, {"mode": "forbidden", "value": "1e2"}, "value", "from 1 to 200"),
        (Rule.TCP_TOA, {"mode": "strict"}, "mode", "Select a valid choice"),
    ],
)
def test_invalid_values_are_refused_on_the_field_and_nothing_is_saved(
    admin_client_, rule: str, values: dict[str, str], field: str, error: str
) -> None:
    stored = list(PolicyRule.objects.values_list("environment", "rule", "mode", "value", "updated_at"))
    response = _post(admin_client_, f"/policies/{PROD}/{rule}/", **values)
    assert response.status_code == 400
    page = response.content.decode()
    field_id = f"id_{PROD}-{rule}-{field}"
    assert f'id="{field_id}"' in page
    assert f'{field_id}_error"' in page.split(f'id="{field_id}"', 1)[1].split(">", 1)[0]  # described by
    assert f'id="{field_id}_error"' in page
    assert 'aria-invalid="true"' in page
    assert error in text(response)
    assert "Nothing was saved." in text(response)
    assert (
        list(PolicyRule.objects.values_list("environment", "rule", "mode", "value", "updated_at")) == stored
    )
    assert _policy_records() == []


def test_an_unknown_rule_or_environment_is_not_found(admin_client_) -> None:
    assert _post(admin_client_, "/policies/production/no_such_rule/", mode="off").status_code == 404
    assert _post(admin_client_, "/policies/moon/tcp_toa/", mode="off").status_code == 404


def test_a_change_asks_for_a_recent_second_factor(admin_client_) -> None:
    mfakit.age_the_check(admin_client_)
    response = _post(admin_client_, mode="off", value="")
    assert response.status_code == 200
    assert "Changing a policy" in text(response)
    assert PolicyRule.objects.get(environment=PROD, rule=Rule.FORBIDDEN_PORTS).mode == Mode.FORBIDDEN
    assert _policy_records() == []


def test_a_rules_read_falls_back_to_its_default_and_a_change_creates_it(admin_client_) -> None:
    PolicyRule.objects.filter(environment=STAGING, rule=Rule.TCP_TOA).delete()
    assert "TCP TOA only for OBS backends" in text(admin_client_.get("/policies/"))
    assert _post(admin_client_, f"/policies/{STAGING}/{Rule.TCP_TOA}/", mode="off").status_code == 302
    assert PolicyRule.objects.get(environment=STAGING, rule=Rule.TCP_TOA).mode == Mode.OFF
    [record] = _policy_records()
    assert record.before == {"mode": "warning", "value": None}


def test_the_django_admin_shows_the_rules_read_only(db) -> None:
    from django.contrib.auth.models import User

    superuser = User.objects.create_superuser("root")
    client = client_for(superuser)
    response = client.get("/admin/policies/policyrule/")
    assert response.status_code == 200
    assert "Forbidden server ports" in response.content.decode()
    assert client.get("/admin/policies/policyrule/add/").status_code == 403
    row = PolicyRule.objects.get(environment=PROD, rule=Rule.FORBIDDEN_PORTS)
    assert client.post(f"/admin/policies/policyrule/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PolicyRule.objects.filter(pk=row.pk).exists()


# --- the audit log shows policy changes ---------------------------------------------------------------------
def _body(response: Any) -> str:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def test_the_audit_pages_and_exports_show_a_policy_change(admin_client_, viewer_client) -> None:
    _post(admin_client_, mode="forbidden", value="22, 3389")
    [record] = _policy_records()
    summary = "forbidden_ports on production: value [] → [22, 3389]"

    listing = viewer_client.get("/audit/", {"category": "policies"})
    assert listing.status_code == 200
    assert summary in text(listing)
    assert "Change policy" in text(listing)

    detail = viewer_client.get(f"/audit/{record.pk}/")
    assert detail.status_code == 200
    shown = text(detail)
    assert "Policy: Forbidden server ports (Production)" in shown
    assert "production:forbidden_ports" in shown

    exported = _body(viewer_client.get("/audit/export.csv", {"category": "policies"})).splitlines(
        keepends=True
    )
    [row] = csv.DictReader(io.StringIO("".join(line for line in exported if not line.startswith("#"))))
    assert (row["action"], row["target_id"], row["outcome"]) == (
        "change_policy",
        record.target_id,
        "recorded",
    )
    assert json.loads(row["after"]) == {"mode": "forbidden", "value": [22, 3389]}
    document = json.loads(_body(viewer_client.get("/audit/export.json", {"category": "policies"})))
    [item] = document["records"]
    assert item["action"] == "change_policy"
    assert item["before"] == {"mode": "forbidden", "value": []}
    assert item["after"] == {"mode": "forbidden", "value": [22, 3389]}
