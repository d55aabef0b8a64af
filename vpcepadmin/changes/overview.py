"""What an account's overview card says about the observation of its cloud.

``observation_overview(credential)`` answers, from the database alone (never the cloud), in two
queries whatever the account holds: how many outside changes were observed in the last 24 hours
(audit records "Observed change / new service / deletion" of the account; the baseline is no
change), when the account was last observed successfully, and — when its newest run could not read
the account — that run's error. The count and the link to the records agree: both start at the
same minute (the audit filter's precision).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Subquery
from django.urls import reverse
from django.utils import timezone

from vpcepadmin.audit.filters import AuditFilter
from vpcepadmin.audit.models import OBSERVED_ACTIONS, Action, AuditRecord, Source
from vpcepadmin.changes.models import ObservationRun
from vpcepadmin.credentials.models import CloudCredential

WINDOW = timedelta(hours=24)
# Observed records that are changes (the baseline only says how many services a first run saw).
CHANGE_ACTIONS = tuple(action for action in OBSERVED_ACTIONS if action != Action.OBSERVATION_BASELINE)


@dataclass(frozen=True)
class ObservationOverview:
    """One account's observation at a glance (``last_observed`` None: never observed successfully)."""

    outside_changes: int
    outside_url: str  # the audit log filtered to this account's outside records since ``since``
    last_observed: datetime | None  # shown by ``{% when %}``: UTC, with the relative time
    ever_run: bool
    error: str  # the newest run's error; "" when it read the account
    failed_at: datetime | None


def observation_overview(credential: CloudCredential) -> ObservationOverview:
    """Two queries: the newest run (with the newest successful one's time), and one count."""
    now = timezone.now()
    since = (now - WINDOW).replace(second=0, microsecond=0)
    runs = ObservationRun.objects.filter(credential=credential)
    last_success = runs.filter(error="").order_by("-started_at", "-pk").values("started_at")[:1]
    newest = (
        runs.order_by("-started_at", "-pk")
        .annotate(last_success_at=Subquery(last_success))
        .only("started_at", "error")
        .first()
    )
    count = AuditRecord.objects.filter(
        credential_id=credential.pk, action__in=CHANGE_ACTIONS, created_at__gte=since
    ).count()
    query = AuditFilter(account=credential.pk, source=Source.OUTSIDE, since=since).query_string()
    last_success_at: datetime | None = getattr(newest, "last_success_at", None)
    failed = newest is not None and bool(newest.error)
    return ObservationOverview(
        outside_changes=count,
        outside_url=f"{reverse('audit:list')}?{query}",
        last_observed=last_success_at,
        ever_run=newest is not None,
        error=newest.error if newest is not None and failed else "",
        failed_at=newest.started_at if newest is not None and failed else None,
    )
