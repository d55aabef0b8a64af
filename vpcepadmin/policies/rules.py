"""Evaluation of the policy guardrails: what a requested change breaks, and how much that matters.

``check_service`` and ``check_whitelist`` read the rules of one environment (one indexed query) and
return ``Finding``s, the forbidden first; ``service_findings`` and ``whitelist_findings`` are the
same judgement over rules already read (``settings_of``), for a caller that checks several changes.
A rule judges only what the change asks for: what is already in the cloud and stays as it is gives
a warning at most, never a refusal (the operator may be fixing something else). A rule whose row is
missing (a database flushed by a test) is judged by its declared default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vpcepadmin.cloud.types import PortMapping
from vpcepadmin.cloud.whitelist import is_everyone
from vpcepadmin.credentials.models import CloudCredential, Environment
from vpcepadmin.policies.declared import DECLARED, Declared, ValueKind
from vpcepadmin.policies.models import Mode, PolicyRule, Rule

# NOTE: the seed page (modifying-a-vpc-endpoint-service.txt, ``tcp_proxy``): "toa_open" enables TCP
# TOA, "open" TOA and the proxy protocol; TOA is supported only when the backend is OBS.
TOA_VALUES = frozenset({"toa_open", "open"})
TOA_BACKEND = "OBS"
ORDER: dict[str, int] = {Mode.FORBIDDEN: 0, Mode.NEEDS_APPROVAL: 1, Mode.WARNING: 2}
VERDICTS: dict[str, str] = {
    Mode.FORBIDDEN: "is forbidden",
    Mode.NEEDS_APPROVAL: "needs a second person's approval",
    Mode.WARNING: "is discouraged",
}


@dataclass(frozen=True)
class Finding:
    """One rule broken by a change.

    ``field`` is the form field it belongs on: "approval_enabled", "tcp_proxy", "ports" (the whole
    list), ``f"ports-{i}-server_port"`` (row ``i`` of the submitted list, 0-based) or "entry" (the
    whitelist entry); ``mode`` is "forbidden", "needs_approval" or "warning".
    """

    rule: str
    field: str
    message: str
    mode: str


@dataclass(frozen=True)
class Setting:
    """A rule as it is in force in one environment."""

    environment: str
    rule: str
    mode: str
    value: Any
    updated_at: datetime | None = None
    updated_by_username: str = ""

    @property
    def declared(self) -> Declared:
        return DECLARED[self.rule]

    @property
    def key(self) -> tuple[str, str]:
        return self.environment, self.rule

    @property
    def on(self) -> bool:
        return self.mode != Mode.OFF

    def finding(self, field: str, message: str, mode: str | None = None) -> Finding:
        return Finding(self.rule, field, message, mode or self.mode)


Settings = Mapping[str, Setting]


def settings_of(environment: str) -> dict[str, Setting]:
    """The rules in force in ``environment``, by rule key (one query)."""
    rows = PolicyRule.objects.filter(environment=environment)
    return _with_defaults(environment, {row.rule: _setting(row) for row in rows})


def settings_for(credential: CloudCredential) -> dict[str, Setting]:
    """The rules in force for ``credential``'s environment, read once per loaded account: a web
    request's review or confirmation and the change pipeline after it judge by the same rules, with
    one query between them."""
    cached: tuple[str, dict[str, Setting]] | None = getattr(credential, "_policy_settings", None)
    if cached is None or cached[0] != credential.environment:
        cached = (credential.environment, settings_of(credential.environment))
        credential._policy_settings = cached  # type: ignore[attr-defined]
    return cached[1]


def _setting(row: PolicyRule) -> Setting:
    return Setting(row.environment, row.rule, row.mode, row.value, row.updated_at, row.updated_by_username)


def _with_defaults(environment: str, found: dict[str, Setting]) -> dict[str, Setting]:
    settings = {}
    for rule, item in DECLARED.items():
        mode, value = item.default(environment)
        settings[rule] = found.get(rule) or Setting(environment, rule, mode, value)
    return settings


# --- services ------------------------------------------------------------------------------------------
def check_service(
    environment: str, before: Mapping[str, Any], after: Mapping[str, Any], server_type: str
) -> list[Finding]:
    """What changing a service of ``environment`` from ``before`` to ``after`` (editable values, as
    ``cloud.editable.editable_values`` gives them) breaks, the forbidden first. One query."""
    return service_findings(settings_of(environment), before, after, server_type)


def service_findings(
    settings: Settings, before: Mapping[str, Any], after: Mapping[str, Any], server_type: str
) -> list[Finding]:
    """``check_service`` over rules already read (no query)."""
    judges: list[tuple[str, Callable[[Setting], list[Finding]]]] = [
        (Rule.CONNECTION_APPROVAL, lambda s: _approval(s, before, after)),
        (Rule.FORBIDDEN_PORTS, lambda s: _forbidden_ports(s, before, after)),
        (Rule.MAX_MAPPINGS, lambda s: _max_mappings(s, before, after)),
        (Rule.TCP_TOA, lambda s: _tcp_toa(s, before, after, server_type)),
    ]
    findings: list[Finding] = []
    for rule, judge in judges:
        setting = settings.get(rule)
        if setting is not None and setting.on:
            findings += judge(setting)
    return ordered(findings)


def _approval(setting: Setting, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Finding]:
    was = bool(before.get("approval_enabled", True))
    now = bool(after.get("approval_enabled", was))
    if now:
        return []
    where, policy = _env(setting), _policy(setting)
    if not was:
        return [
            setting.finding(
                "approval_enabled",
                f"This {where} service has “Connection approval required” off ({policy}): "
                "turn it on when you can.",
                Mode.WARNING,
            )
        ]
    message = (
        f"Turning “Connection approval required” off {VERDICTS[setting.mode]} on {where} services ({policy})."
    )
    if setting.mode == Mode.FORBIDDEN:
        message += " Leave it on."
    return [setting.finding("approval_enabled", message)]


def _mappings(values: Mapping[str, Any]) -> list[tuple[int, PortMapping]]:
    """The port mappings of ``values`` with their row numbers (rows that are no mapping left out)."""
    items = values.get("ports")
    if not isinstance(items, list | tuple):
        return []
    parsed = ((row, PortMapping.parse(item)) for row, item in enumerate(items))
    return [(row, mapping) for row, mapping in parsed if mapping is not None]


def _forbidden_ports(setting: Setting, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Finding]:
    forbidden = set(_ports(setting.value))
    if not forbidden:
        return []
    existing = {mapping for _, mapping in _mappings(before)}
    where, policy = _env(setting), _policy(setting)
    findings = []
    for row, mapping in _mappings(after):
        if mapping.server_port not in forbidden:
            continue
        field = f"ports-{row}-server_port"
        if mapping in existing:
            message = (
                f"The existing mapping {mapping} forwards to server port {mapping.server_port}, which "
                f"{policy} forbids on {where} services: remove it when you can."
            )
            findings.append(setting.finding(field, message, Mode.WARNING))
            continue
        message = (
            f"Server port {mapping.server_port} {VERDICTS[setting.mode]} on {where} services ({policy})."
        )
        if setting.mode == Mode.FORBIDDEN:
            message += " Choose another server port."
        findings.append(setting.finding(field, message))
    return findings


def _max_mappings(setting: Setting, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Finding]:
    limit = setting.value if isinstance(setting.value, int) else None
    wanted, had = len(_mappings(after)), len(_mappings(before))
    if limit is None or wanted <= limit:
        return []
    where, policy = _env(setting), _policy(setting)
    if wanted <= had:
        message = (
            f"This service already has {had} port mappings, more than {limit} ({policy}): "
            "remove some when you can."
        )
        return [setting.finding("ports", message, Mode.WARNING)]
    message = (
        f"More than {limit} port mappings {VERDICTS[setting.mode]} on {where} services: this "
        f"change asks for {wanted} ({policy})."
    )
    if setting.mode == Mode.FORBIDDEN:
        message += f" Remove {wanted - limit}."
    return [setting.finding("ports", message)]


def _tcp_toa(
    setting: Setting, before: Mapping[str, Any], after: Mapping[str, Any], server_type: str
) -> list[Finding]:
    was = before.get("tcp_proxy") or ""
    now = after.get("tcp_proxy", was) or ""
    if now not in TOA_VALUES or (server_type or "").upper() == TOA_BACKEND:
        return []
    backend = server_type or "unknown"
    policy, where = _policy(setting), _env(setting)
    if now == was:
        message = (
            f"This service has TCP proxy “{now}” (TCP TOA), but its backend is {backend}: TOA works "
            f"only for OBS backends ({policy})."
        )
        return [setting.finding("tcp_proxy", message, Mode.WARNING)]
    message = (
        f"TCP proxy “{now}” (TCP TOA) on a backend of type {backend} {VERDICTS[setting.mode]} on "
        f"{where} services: TOA works only for OBS backends ({policy})."
    )
    return [setting.finding("tcp_proxy", message)]


# --- whitelist ----------------------------------------------------------------------------------------
def check_whitelist(environment: str, entries: Sequence[str]) -> list[Finding]:
    """What adding ``entries`` (as the API spells them: "*", "iam:domain::<id>", …) to the
    whitelist of a service of ``environment`` breaks, the forbidden first. One query."""
    return whitelist_findings(settings_of(environment), entries)


def whitelist_findings(settings: Settings, entries: Iterable[str]) -> list[Finding]:
    """``check_whitelist`` over rules already read (no query)."""
    setting = settings.get(Rule.WHITELIST_EVERYONE)
    if setting is None or not setting.on or not any(map(is_everyone, entries)):
        return []
    message = (
        f"Adding “Everyone” (*) to the whitelist {VERDICTS[setting.mode]} on {_env(setting)} "
        f"services ({_policy(setting)})."
    )
    if setting.mode == Mode.FORBIDDEN:
        message += " Add each account that needs access by its ID instead."
    return [setting.finding("entry", message)]


# --- reading findings ---------------------------------------------------------------------------------
def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Forbidden first, then needs approval, then warnings; otherwise in the order found."""
    return sorted(findings, key=lambda finding: ORDER.get(finding.mode, len(ORDER)))


def refusals(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that refuse the change (nothing is sent, nothing requested)."""
    return [finding for finding in findings if finding.mode == Mode.FORBIDDEN]


def needs_approval(findings: Iterable[Finding]) -> bool:
    """Whether a finding routes the change into a change request, whatever the account's setting."""
    return any(finding.mode == Mode.NEEDS_APPROVAL for finding in findings)


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.mode == Mode.WARNING]


# --- the page -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleInForce:
    """One rule of one environment as ``/policies/`` shows it."""

    setting: Setting
    title: str
    description: str
    mode_label: str
    value_text: str
    value_kind: str  # "ports", "count" or "" (the rule takes no value)

    @property
    def rule(self) -> str:
        return self.setting.rule

    @property
    def environment(self) -> str:
        return self.setting.environment


@dataclass(frozen=True)
class EnvironmentRules:
    environment: str
    label: str
    rules: list[RuleInForce]


def rules_in_force() -> list[EnvironmentRules]:
    """Every rule of every environment, in the order of the environments and of the declaration
    (one query)."""
    found: dict[str, dict[str, Setting]] = {environment: {} for environment in Environment.values}
    for row in PolicyRule.objects.all():
        found.setdefault(row.environment, {})[row.rule] = _setting(row)
    return [
        EnvironmentRules(
            environment,
            label,
            [in_force(setting) for setting in _with_defaults(environment, found[environment]).values()],
        )
        for environment, label in Environment.choices
    ]


def in_force(setting: Setting) -> RuleInForce:
    item = setting.declared
    return RuleInForce(
        setting=setting,
        title=item.title_with(setting.value),
        description=item.description,
        mode_label=Mode(setting.mode).label,
        value_text=value_text(item, setting.value),
        value_kind=item.value_kind.value if item.value_kind else "",
    )


def value_text(item: Declared, value: Any) -> str:
    """A rule's value in words: ports as "22, 3389" (or "none"), a count as a number, else ""."""
    if item.value_kind is ValueKind.PORTS:
        return ", ".join(map(str, _ports(value))) or "none"
    if item.value_kind is ValueKind.COUNT:
        return str(value) if isinstance(value, int) else "not set"
    return ""


# --- words --------------------------------------------------------------------------------------------
def _ports(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return sorted({port for port in value if type(port) is int})


def _env(setting: Setting) -> str:
    try:
        return str(Environment(setting.environment).label).lower()
    except ValueError:
        return setting.environment


def _policy(setting: Setting) -> str:
    """ "policy “<title>”", with the quotation marks inside the title turned into single ones."""
    title = setting.declared.title_with(setting.value).replace("“", "‘").replace("”", "’")
    return f"policy “{title}”"
