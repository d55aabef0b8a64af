"""Verify the audit log's hash chain; exit non-zero naming the first broken record."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from vpcepadmin.audit.verification import verify_chain


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if report.first_break is not None:
            broken = report.first_break
            raise CommandError(
                f"Audit chain broken at record #{broken.seq} ({broken.kind}): {broken.detail}."
            )
        self.stdout.write(
            f"Audit chain verified: {report.checked} records, last #{report.last_seq} {report.last_hash}."
        )
