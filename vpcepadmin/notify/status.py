"""What admins see of the notifications: recent deliveries and recent failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from vpcepadmin.notify import destinations
from vpcepadmin.notify.models import Notification, Status

RECENT = 200  # rows on /notifications/
FAILURE_WINDOW = timedelta(days=7)  # the failures the navigation's badge counts


@dataclass(frozen=True)
class Overview:
    deliveries: QuerySet[Notification]
    destinations: list[str]  # labels only
    failed_recently: int
    window_days: int


def recent_failures() -> int:
    """Deliveries that failed in the last seven days (0, without a query, when nothing is configured)."""
    if not destinations.configured():
        return 0
    since = timezone.now() - FAILURE_WINDOW
    return Notification.objects.filter(status=Status.FAILED, created_at__gte=since).count()


def overview() -> Overview:
    deliveries = Notification.objects.select_related("record").order_by("-created_at", "-pk")[:RECENT]
    labels = [destination.label for destination in destinations.destinations()]
    return Overview(deliveries, labels, recent_failures(), FAILURE_WINDOW.days)
