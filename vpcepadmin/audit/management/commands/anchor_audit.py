"""Append a signed anchor (sequence, hash, time) of the audit chain's newest record to the anchor
file (``VPCEPADMIN_AUDIT_ANCHOR_FILE``) and the log. Run it periodically (e.g. every 15 minutes)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vpcepadmin.audit.anchors import HEAD, AnchorKeyMissing, write_anchor
from vpcepadmin.audit.models import AuditChainHead, AuditRecord


class Command(BaseCommand):
    help = __doc__
    # Reads one row; needs the database settings and the anchor key, not the app's other secrets.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--file", type=Path, metavar="FILE", help="the anchor file (default: the setting)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"] or settings.AUDIT_ANCHOR_FILE
        head = AuditChainHead.objects.filter(id=1).first()
        if head is None or head.seq == 0:
            self.stdout.write("The audit log is empty: nothing to anchor.")
            return
        stored = AuditRecord.objects.filter(seq=head.seq).values_list("hash", flat=True).first()
        if stored != head.hash:
            raise CommandError(
                f"The chain head (#{head.seq}) disagrees with the records: nothing was anchored. "
                "Run manage.py verify_audit."
            )
        try:
            write_anchor(HEAD, head.seq, head.hash, path)
        except AnchorKeyMissing as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Anchored record #{head.seq} ({head.hash}) in {path}.")
