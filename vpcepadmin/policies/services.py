"""Use cases of the policy guardrails: change one rule (audited), restore missing defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, Outcome, TargetType
from vpcepadmin.credentials.models import Environment
from vpcepadmin.policies.declared import DECLARED, defaults
from vpcepadmin.policies.models import PolicyRule


@dataclass(frozen=True)
class Changed:
    """A rule that was changed: the row as saved, and its mode and value before."""

    rule: PolicyRule
    before: dict[str, Any]


def change_rule(
    environment: str, rule: str, mode: str, value: Any, context: recorder.Context
) -> Changed | None:
    """Set the mode and value of ``rule`` in ``environment``; None when they are what they were.

    Guarantees: the row is locked while it is compared and saved, so two admins saving at once
    are serialised and each change is compared with the one before it; exactly one audit record
    (before and after ``{mode, value}``) is written in the same transaction as the row, or neither.
    ``mode`` and ``value`` must be valid for the rule (``forms.PolicyRuleForm`` checks them).
    """
    item = DECLARED[rule]
    default_mode, default_value = item.default(environment)
    with transaction.atomic():
        row, _ = PolicyRule.objects.select_for_update().get_or_create(
            environment=environment, rule=rule, defaults={"mode": default_mode, "value": default_value}
        )
        before = {"mode": row.mode, "value": row.value}
        after = {"mode": mode, "value": value}
        if before == after:
            return None
        row.mode, row.value = mode, value
        row.updated_at = timezone.now()
        row.updated_by_username = _username(context)
        row.save(update_fields=["mode", "value", "updated_at", "updated_by_username"])
        recorder.append(
            recorder.Entry(
                action=Action.CHANGE_POLICY,
                target_type=TargetType.POLICY,
                outcome=Outcome.RECORDED,
                context=context,
                target_id=f"{environment}:{rule}",
                target_name=f"{item.title} ({Environment(environment).label})",
                before=before,
                request_body={"environment": environment, "rule": rule, **after},
                after=after,
            )
        )
    return Changed(row, before)


def _username(context: recorder.Context) -> str:
    actor = context.actor
    if actor is not None and actor.is_authenticated:
        return str(actor.get_username())
    return context.actor_name or "system"


def ensure_defaults(using: str = "default") -> int:
    """Create the rows of rules that have none, with their declared defaults (after a migrate or a
    flush); rows that exist are left as they are. Returns how many were created."""
    existing = set(PolicyRule.objects.using(using).values_list("environment", "rule"))
    missing = [
        PolicyRule(environment=environment, rule=rule, mode=mode, value=value)
        for environment, rule, mode, value in defaults()
        if (environment, rule) not in existing
    ]
    PolicyRule.objects.using(using).bulk_create(missing, ignore_conflicts=True)
    return len(missing)
