"""Expire the change requests older than ``VPCEPADMIN_APPROVAL_MAX_AGE``: each one's "expired" audit
record (and its notification) when it is due, not when somebody next opens the request.

Idempotent; schedule it every few minutes beside ``observe_cloud`` (README, "Deployment").
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vpcepadmin.endpoints.approvals import expire_old


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{expire_old()} request(s) expired.")
