"""Settle the attempts left open (a crash, or an answer that proved nothing and a failed re-read).

Only attempts older than the longest possible apply are looked at. Each one's service is re-read and
compared with the state before and the requested values; the result is one record linked to the
attempt: ``reconciled: applied``, ``reconciled: not applied`` or ``undetermined`` (needs review).
Schedule it every few minutes (README, "Deployment").
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vpcepadmin.changes.reconciliation import reconcile_pending


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        results = reconcile_pending()
        for line in results:
            self.stdout.write(line)
        self.stdout.write(f"{len(results)} attempt(s) looked at.")
