"""``PolicyRule``: one guardrail of one environment, as an admin set it (README, "Policy guardrails")."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from vpcepadmin.credentials.models import Environment


class Mode(models.TextChoices):
    """What a rule does with a change that breaks it."""

    OFF = "off", "Off"
    WARNING = "warning", "Warning"  # shown on review; nothing is refused
    NEEDS_APPROVAL = "needs_approval", "Needs approval"  # always a change request, whatever the account
    FORBIDDEN = "forbidden", "Forbidden"  # refused, with the error on the field; nothing is sent


class Rule(models.TextChoices):
    """The rules there are; what each means and its defaults: ``declared.DECLARED``."""

    CONNECTION_APPROVAL = "connection_approval", "Services keep “Connection approval required” on"
    FORBIDDEN_PORTS = "forbidden_ports", "Forbidden server ports"
    WHITELIST_EVERYONE = "whitelist_everyone", "No “Everyone” (*) in the whitelist"
    MAX_MAPPINGS = "max_mappings", "At most N port mappings per service"
    TCP_TOA = "tcp_toa", "TCP TOA only for OBS backends"


class PolicyRule(models.Model):
    """The mode and value of one rule in one environment.

    Guarantees: one row per (environment, rule) — a unique constraint, whose index is also the one
    query an evaluation makes (``rules.settings_of``); ``value`` holds what the rule's declaration
    asks for (a sorted list of ports, a count, or null); changed only through
    ``services.change_rule``, which writes the audit record in the same transaction.
    """

    environment = models.CharField(max_length=16, choices=Environment.choices)
    rule = models.CharField(max_length=32, choices=Rule.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.OFF)
    value = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by_username = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["environment", "rule"]
        constraints = [
            models.UniqueConstraint(fields=["environment", "rule"], name="policy_rule_per_environment")
        ]

    def __str__(self) -> str:
        return f"{self.rule} on {self.environment}: {self.mode}"
