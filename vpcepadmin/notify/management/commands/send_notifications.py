"""Send the notifications a stopped process left behind (rows pending for over a minute).

Normally every notification is sent in the background right after its change commits; this command
is the safety net for a process that stopped first. Idempotent and safe on several hosts at once
(each row is claimed by one conditional UPDATE): schedule it every few minutes, beside
``observe_cloud`` (README, "Notifications").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vpcepadmin.notify.delivery import LEFT_PENDING_AFTER, send_left_pending


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=LEFT_PENDING_AFTER.total_seconds(),
            metavar="SECONDS",
            help="only rows pending at least this long (default 60: younger ones are being sent)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = send_left_pending(timedelta(seconds=options["older_than"]))
        self.stdout.write(
            f"send_notifications: {counts['delivered']} delivered, {counts['failed']} failed, "
            f"{counts['interrupted']} interrupted while sending marked failed"
        )
