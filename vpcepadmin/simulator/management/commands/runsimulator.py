"""``manage.py runsimulator``: serve the fake VPCEP + IAM cloud until interrupted (HTTP, and HTTPS too
with ``--tls-port``)."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from vpcepadmin.simulator.seed import SeedError
from vpcepadmin.simulator.server import SimulatorServer


class Command(BaseCommand):
    help = "Serve the VPCEP v1 + IAM simulator (a fake cloud for the demo and the tests)."
    # The simulator needs nothing from the project's settings; checks would demand production secrets.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--tls-port",
            type=int,
            help="also serve HTTPS on this port, with a certificate from a CA made at start",
        )
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--seed", type=Path, help="a seed document (JSON, see vpcepadmin/simulator/seed.py)"
        )
        source.add_argument("--demo", action="store_true", help="demo data with fresh random credentials")
        parser.add_argument(
            "--state", type=Path, help="load state from FILE if present; save after every change"
        )
        parser.add_argument("--creating-seconds", type=float, default=3.0)
        parser.add_argument("--deleting-seconds", type=float, default=3.0)

    def handle(self, *args: Any, **options: Any) -> None:
        seed = None
        if options["seed"] is not None:
            try:
                seed = json.loads(options["seed"].read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read the seed {options['seed']}: {exc}") from exc
        try:
            server = SimulatorServer(
                host=options["host"],
                port=options["port"],
                seed=seed,
                demo=options["demo"],
                state_file=options["state"],
                creating_seconds=options["creating_seconds"],
                deleting_seconds=options["deleting_seconds"],
                tls_port=options["tls_port"],
            )
        except (SeedError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        # NOTE: it is a fake cloud: printing its credentials is the point of --demo.
        self.stdout.write(server.describe())
        self.stdout.write("Control API under /_sim/. Quit with CONTROL-C.")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
