"""What each policy rule means, the value it takes and its defaults: declared once (style.md rule 9).

The page, the form that changes a rule, the evaluation (``rules``), the defaults that
``services.ensure_defaults`` restores after a flush and the README are derived from ``DECLARED``.
(The data migration keeps its own frozen copy of the defaults, as migrations do; a test compares it.)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vpcepadmin.credentials.models import Environment
from vpcepadmin.policies.models import Mode, Rule

# NOTE: the API refuses more than 200 port mappings per service (vpcep-api.md, limits).
API_MAX_MAPPINGS = 200
MIN_PORT, MAX_PORT = 1, 65535


class ValueKind(StrEnum):
    """What a rule's value is."""

    PORTS = "ports"  # a sorted list of distinct port numbers, 1–65535
    COUNT = "count"  # an integer, 1–API_MAX_MAPPINGS


@dataclass(frozen=True)
class Declared:
    """One rule: its key, title (``Rule``'s label), what it checks, its value and its defaults."""

    rule: Rule
    description: str
    value_kind: ValueKind | None
    production_mode: Mode
    other_mode: Mode
    default_value: Any = None

    @property
    def title(self) -> str:
        return self.rule.label

    def default(self, environment: str) -> tuple[Mode, Any]:
        """(mode, value) of the rule in ``environment`` until an admin changes it."""
        mode = self.production_mode if environment == Environment.PRODUCTION else self.other_mode
        return mode, self.default_value

    def title_with(self, value: Any) -> str:
        """The title with its N replaced by the value in force ("At most 200 port mappings …")."""
        if self.value_kind is ValueKind.COUNT and isinstance(value, int):
            return self.title.replace("N", str(value), 1)
        return self.title


DECLARED: dict[str, Declared] = {
    item.rule.value: item
    for item in (
        Declared(
            Rule.CONNECTION_APPROVAL,
            "A service's “Connection approval required” stays on, so that no endpoint connects "
            "before an operator accepts it.",
            None,
            Mode.FORBIDDEN,
            Mode.OFF,
        ),
        Declared(
            Rule.FORBIDDEN_PORTS,
            "No new port mapping forwards to one of these server ports (e.g. 22 for SSH, 3389 for "
            "remote desktop). Mappings already in the cloud are shown as warnings.",
            ValueKind.PORTS,
            Mode.FORBIDDEN,
            Mode.FORBIDDEN,
            [],
        ),
        Declared(
            Rule.WHITELIST_EVERYONE,
            "“Everyone” (*) is never added to a service's whitelist: every account that needs access "
            "is added by its ID.",
            None,
            Mode.FORBIDDEN,
            Mode.OFF,
        ),
        Declared(
            Rule.MAX_MAPPINGS,
            f"A change never leaves a service with more than N port mappings (the API allows "
            f"{API_MAX_MAPPINGS}).",
            ValueKind.COUNT,
            Mode.FORBIDDEN,
            Mode.FORBIDDEN,
            API_MAX_MAPPINGS,
        ),
        Declared(
            Rule.TCP_TOA,
            "TCP TOA (TCP proxy “toa_open” or “open”) works only when the backend is OBS; on any "
            "other backend it is flagged.",
            None,
            Mode.WARNING,
            Mode.WARNING,
        ),
    )
}


def declared(rule: str) -> Declared:
    """The declaration of ``rule``; ``KeyError`` for a rule that does not exist."""
    return DECLARED[rule]


def defaults() -> list[tuple[str, str, str, Any]]:
    """(environment, rule, mode, value) of every rule in every environment, by default."""
    return [
        (environment, rule, *item.default(environment))
        for environment in Environment.values
        for rule, item in DECLARED.items()
    ]
