"""Remove audit records older than ``VPCEPADMIN_AUDIT_RETENTION_DAYS`` days (0, the default, keeps
them for ever). The chain stays verifiable from a signed anchor, and the pruning is recorded."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vpcepadmin.audit.anchors import AnchorKeyMissing
from vpcepadmin.audit.retention import PruneRefused, prune
from vpcepadmin.audit.verification import default_workers


class Command(BaseCommand):
    help = __doc__
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would be removed; remove nothing"
        )
        parser.add_argument(
            "--workers", type=int, default=settings.AUDIT_VERIFY_WORKERS, help="processes verifying (0: auto)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.AUDIT_RETENTION_DAYS
        if days <= 0:
            self.stdout.write(
                "Retention is for ever (VPCEPADMIN_AUDIT_RETENTION_DAYS is 0): nothing to prune."
            )
            return
        try:
            result = prune(days, dry_run=options["dry_run"], workers=default_workers(options["workers"]))
        except (AnchorKeyMissing, PruneRefused) as error:
            raise CommandError(f"Not pruned: {error}") from error
        if result is None:
            self.stdout.write(f"No record is older than {days} days: nothing to prune.")
        elif result.record is None:
            cutoff = f"{result.cutoff:%Y-%m-%d %H:%M} UTC"
            self.stdout.write(
                f"Would remove {result.removed} records up to #{result.through_seq} (older than {cutoff})."
            )
        else:
            self.stdout.write(
                f"Removed {result.removed} records up to #{result.through_seq} (older than "
                f"{result.cutoff:%Y-%m-%d %H:%M} UTC); the chain now starts there, anchored. "
                f"Recorded as #{result.record.seq}."
            )
