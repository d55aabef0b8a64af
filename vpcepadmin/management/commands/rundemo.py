"""`make run`: migrate, ensure the admin user and demo accounts, start the simulator, the observer
(every minute, as a deployment's scheduler would run ``observe_cloud``, ``expire_requests`` and
``send_notifications``)
and the dashboard."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.core.management.commands import runserver

from vpcepadmin.bootstrap import ADMIN_USERNAME, ensure_admin_user, ensure_demo_accounts
from vpcepadmin.changes.observation import observe
from vpcepadmin.endpoints.approvals import expire_old
from vpcepadmin.notify.delivery import send_left_pending
from vpcepadmin.serving import plan
from vpcepadmin.simulator.demo import demo_seed
from vpcepadmin.simulator.server import SimulatorServer

OBSERVE_EVERY = 60.0  # seconds, as the README's cron line
logger = logging.getLogger("vpcepadmin.observe")


def observe_every(seconds: float, stop: threading.Event) -> None:
    """The demo's scheduler: ``observe_cloud`` now and then every ``seconds`` until ``stop``, so a
    change made through the simulator shows up in the History on its own."""
    from django.db import connection

    while not stop.is_set():
        try:
            for report in observe():
                logger.info("observe_cloud: %s", report.line())
            expire_old()  # as a deployment schedules expire_requests and send_notifications beside it
            send_left_pending()
        except Exception:  # a failed run must not end the demo: the next one tries again
            logger.exception("observe_cloud failed")
        finally:
            connection.close()
        stop.wait(seconds)


class Command(BaseCommand):
    help = "Run the dashboard with the simulator (demo data) as its embedded cloud."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8001)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        password = ensure_admin_user()
        seed = demo_seed(
            access_key=os.environ.get("VPCEPADMIN_DEMO_ACCESS_KEY") or None,
            secret_key=os.environ.get("VPCEPADMIN_DEMO_SECRET_KEY") or None,
            password=os.environ.get("VPCEPADMIN_DEMO_PASSWORD") or None,
        )
        simulator = SimulatorServer(
            host="127.0.0.1",
            port=options["simulator_port"],
            seed=seed,
            state_file=str(settings.VAR_DIR / "simulator-state.json"),
        )
        simulator.start()
        accounts = ensure_demo_accounts(seed, simulator.url)
        stop = threading.Event()
        threading.Thread(
            target=observe_every, args=(OBSERVE_EVERY, stop), name="observer", daemon=True
        ).start()
        self._greet(options, password, simulator.describe(), [a.name for a in accounts])
        server = Runserver()
        server.last_words = self.style.WARNING(admin_password_box(password)) if password else ""
        call_command(server, f"{options['host']}:{options['port']}", use_reloader=False)

    def _greet(
        self, options: dict[str, Any], password: str | None, simulator: str, accounts: list[str]
    ) -> None:
        out = self.stdout
        out.write(simulator)  # a fake cloud: its user and keys are printed on purpose
        out.write(f"Demo accounts: {', '.join(accounts)}")
        out.write(f"Observing the cloud every {OBSERVE_EVERY:g} s (manage.py observe_cloud in production).")
        out.write(
            "This is the demo server. In production: gunicorn -c gunicorn.conf.py vpcepadmin.wsgi "
            f"({plan().describe()} on this machine), PostgreSQL and Redis; see README, “Deployment”."
        )
        out.write(self.style.SUCCESS(f"Dashboard on http://{options['host']}:{options['port']}/"))
        if not password:
            out.write("Sign in as an existing user (the admin password was shown when it was created).")
            out.write(f"A new password: {CHANGE_PASSWORD}")


class Runserver(runserver.Command):
    """Django's ``runserver`` that prints ``last_words`` once it listens, after its own banner: the
    admin password must be the last thing on the screen, not lost among the simulator's keys."""

    last_words = ""

    def on_bind(self, server_port: int) -> None:
        super().on_bind(server_port)
        if self.last_words:
            self.stdout.write(self.last_words)


CHANGE_PASSWORD = f".venv/bin/python manage.py changepassword {ADMIN_USERNAME}"


def admin_password_box(password: str) -> str:
    """The admin user's generated password in a frame of characters, with how to set a new one."""
    lines = [
        f"Admin user created: {ADMIN_USERNAME}",
        f"Password: {password}",
        "Shown once: keep it. At the first sign-in it sets up an authenticator app.",
        f"A new password: {CHANGE_PASSWORD}",
        "(manage.py reads var/local.env itself: run it as it is, in this directory)",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])
