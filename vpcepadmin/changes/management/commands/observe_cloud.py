"""Observe the cloud: record every change to the endpoint services made outside the dashboard.

Each stored account (or those named with ``--account``) is read with list calls and compared with its
last observed state; ``--connections`` and ``--whitelist`` add the connections of services that
require approval and every service's whitelist (at most 8 calls at a time per account). Every
difference is an audit record by "outside vpcepadmin"; the first run of a project records one
baseline. Safe to run on several hosts at once and as often as wanted: schedule it every few
minutes (README, "For auditors"). Exit status 1 when an account could not be read.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vpcepadmin.changes.observation import Parts, observe
from vpcepadmin.credentials.models import CloudCredential

logger = logging.getLogger("vpcepadmin.observe")


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account", type=int, action="append", metavar="PK", help="only this stored account (repeatable)"
        )
        parser.add_argument(
            "--connections",
            action="store_true",
            help="also the connections of services that require approval",
        )
        parser.add_argument("--whitelist", action="store_true", help="also the whitelist of every service")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = None
        if options["account"]:
            chosen = list(CloudCredential.objects.filter(pk__in=options["account"]).order_by("name", "pk"))
            missing = set(options["account"]) - {credential.pk for credential in chosen}
            if missing:
                raise CommandError(f"No stored account with id {', '.join(map(str, sorted(missing)))}.")
        reports = observe(chosen, Parts(connections=options["connections"], whitelist=options["whitelist"]))
        for report in reports:
            self.stdout.write(report.line())
        recorded = sum(report.recorded for report in reports)
        failed = [report for report in reports if report.error]
        summary = (
            f"{len(reports)} account(s) observed, {recorded} record(s) written, {len(failed)} unreadable."
        )
        logger.info("observe_cloud: %s", summary)
        self.stdout.write(summary)
        if failed:
            raise SystemExit(1)
