from __future__ import annotations

from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """Registers the ``runsimulator`` command; the simulator itself uses neither Django nor a database."""

    name = "vpcepadmin.simulator"
    label = "simulator"
    verbose_name = "VPCEP simulator"
