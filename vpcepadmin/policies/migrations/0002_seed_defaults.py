"""The default rules of every environment (README, "Policy guardrails").

A frozen copy of ``declared.DECLARED``'s defaults, as a migration must be (tests/test_policies.py
compares the two); ``services.ensure_defaults`` restores them after a flush.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

ENVIRONMENTS = ("production", "staging", "test", "development")
# rule → (mode in production, mode elsewhere, value)
DEFAULTS: dict[str, tuple[str, str, Any]] = {
    "connection_approval": ("forbidden", "off", None),
    "forbidden_ports": ("forbidden", "forbidden", []),
    "whitelist_everyone": ("forbidden", "off", None),
    "max_mappings": ("forbidden", "forbidden", 200),
    "tcp_toa": ("warning", "warning", None),
}


def seed(apps: Any, schema_editor: Any) -> None:
    rule_model = apps.get_model("policies", "PolicyRule")
    for environment in ENVIRONMENTS:
        for rule, (production, other, value) in DEFAULTS.items():
            mode = production if environment == "production" else other
            rule_model.objects.get_or_create(
                environment=environment, rule=rule, defaults={"mode": mode, "value": value}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
