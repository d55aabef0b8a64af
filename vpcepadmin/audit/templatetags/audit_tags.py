"""Template filters of the audit pages."""

from __future__ import annotations

from django import template

from vpcepadmin.audit.rows import OUTCOME_CLASSES

register = template.Library()


@register.filter
def outcome_class(outcome: str) -> str:
    """The Bootstrap badge classes of an outcome (green applied, red refused or failed, …)."""
    return OUTCOME_CLASSES.get(outcome, "text-bg-secondary")
