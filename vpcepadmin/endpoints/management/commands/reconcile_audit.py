"""Settle attempts that have no outcome (a crash between PUT and outcome) or an unknown one.

Each such attempt's service is re-read and compared with the request; the result is appended as a
``reconciled: applied`` / ``reconciled: not applied`` record linked to the attempt.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vpcepadmin.endpoints.reconciliation import reconcile_pending


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        results = reconcile_pending()
        for line in results:
            self.stdout.write(line)
        self.stdout.write(f"{len(results)} attempt(s) looked at.")
