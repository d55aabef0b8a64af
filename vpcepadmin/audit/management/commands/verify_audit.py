"""Verify the audit log's hash chain (and, with ``--anchors``, the signed anchors); exit non-zero
naming the first problem. Every run is recorded for the badge on /audit/."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vpcepadmin.audit.anchors import AnchorKeyMissing
from vpcepadmin.audit.integrity import run_verification
from vpcepadmin.audit.verification import default_workers

SHOWN_PROBLEMS = 20


class Command(BaseCommand):
    help = __doc__
    # Needs the database settings and, for anchors, the anchor key: not the app's other secrets.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--anchors", type=Path, metavar="FILE", help="also check the signed anchors in FILE (JSON lines)"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.AUDIT_VERIFY_WORKERS,
            help="processes on PostgreSQL (0: auto)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path | None = options["anchors"]
        if path is not None and not path.is_file():
            raise CommandError(f"There is no anchor file at {path}.")
        try:
            verification = run_verification(path, default_workers(options["workers"]))
        except AnchorKeyMissing as error:
            raise CommandError(str(error)) from error
        report, failures = verification.report, []
        if report.first_break is not None:
            broken = report.first_break
            failures.append(f"Audit chain broken at record #{broken.seq} ({broken.kind}): {broken.detail}.")
        else:
            self.stdout.write(
                f"Audit chain verified: {report.checked} records, last #{report.last_seq} {report.last_hash}."
            )
        problems = verification.anchor_problems
        if problems:
            failures.append(f"Anchors: {len(problems)} problem(s) in {path}:")
            failures.extend(f"  {problem.kind}: {problem.detail}" for problem in problems[:SHOWN_PROBLEMS])
        elif path is not None:
            self.stdout.write(
                f"Anchors verified: {verification.anchors_checked} anchors in {path} match the chain."
            )
        if failures:
            raise CommandError("\n".join(failures))
