"""Observing the cloud: every change to an account's endpoint services, whatever made it.

``observe_account`` reads all of an account's services (list calls, the API's largest page) and
compares each with its last observed state (``Snapshot``); every difference is one audit record by
"outside vpcepadmin" — "Observed change" (the field diff as for our own changes, the status too),
"Observed new service", "Observed deletion" — with the state before (the snapshot) and after (the
cloud, its ``updated_at`` included). The first run of a project writes one "Baseline" record instead.

Guarantees:
- **No false drift.** A change applied through the dashboard updates the snapshot in the same
  transaction as its outcome record (``snapshots.record_applied``). Attempts old enough are reconciled first;
  a target with an open attempt, or one that began after the cloud was read, is left for the next
  run (``skipped``): its state is in flight.
- **One run per project at a time**, across hosts (a PostgreSQL advisory lock, tried, never waited
  for; a lock per process on SQLite): a second run at the same moment skips the project, so each
  change is recorded once. Runs are idempotent: nothing changed, nothing written but the run.
- **Constant SQL per account**: the snapshots are read and written in bulk; only a difference costs
  its own record.
- An account that cannot be read records nothing and keeps its error on its last run.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import OUTSIDE_ACTOR, Action, AuditRecord, Outcome, TargetType
from vpcepadmin.changes.models import ObservationRun, Snapshot
from vpcepadmin.changes.reconciliation import reconcile_pending
from vpcepadmin.changes.snapshots import SERVICE, fingerprint
from vpcepadmin.changes.targets import open_attempts
from vpcepadmin.cloud.endpoint_services import MAX_PAGE_SIZE, endpoint_service_list_all
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure, note_success

BULK = 500  # rows per bulk statement

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@dataclass
class RunReport:
    """What one run did for one account."""

    credential: CloudCredential
    services: int = 0
    recorded: int = 0
    skipped: int = 0
    baseline: bool = False
    error: str = ""
    busy: bool = False  # another run was observing the project
    duration_ms: int = 0
    changes: list[str] = field(default_factory=list)

    def line(self) -> str:
        name = f"“{self.credential.name}”"
        if self.busy:
            return f"{name}: another run is observing this project now; skipped."
        if self.error:
            return f"{name}: could not be read ({self.error}); nothing recorded."
        if self.baseline:
            return f"{name}: baseline of {self.services} services recorded ({self.duration_ms} ms)."
        left = f", {self.skipped} left for the next run (a change in flight)" if self.skipped else ""
        counts = f"{self.services} services, {self.recorded} outside change(s) recorded{left}"
        return f"{name}: {counts} ({self.duration_ms} ms)."


def observe_account(credential: CloudCredential) -> RunReport:
    """One observation of ``credential``'s project (see the module's guarantees)."""
    report = RunReport(credential)
    started_at, started = timezone.now(), time.monotonic()
    with _project_lock(credential) as acquired:
        if not acquired:
            report.busy = True
            return report
        _observe(credential, report, started_at)
    report.duration_ms = int((time.monotonic() - started) * 1000)
    ObservationRun.objects.create(
        credential=credential, cloud=credential.cloud, region=credential.region, project_id=credential.project_id,
        started_at=started_at, duration_ms=report.duration_ms, services=report.services, recorded=report.recorded,
        skipped=report.skipped, baseline=report.baseline, error=report.error[:300],
    )  # fmt: skip
    return report


def _observe(credential: CloudCredential, report: RunReport, now: datetime) -> None:
    project = _project(credential)
    reconcile_pending(AuditRecord.objects.filter(**project))
    mark = AuditRecord.objects.aggregate(newest=Max("seq"))["newest"] or 0
    try:
        services = endpoint_service_list_all(client_for(credential), page_size=MAX_PAGE_SIZE)
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        report.error = str(exc) if isinstance(exc, CloudError) else "The stored secret cannot be decrypted."
        return
    note_success(credential)
    report.services = len(services)
    current = {service.id: service for service in services}
    prints = {service_id: fingerprint(service) for service_id, service in current.items()}
    stored = dict(
        Snapshot.objects.filter(**project, target_type=SERVICE).values_list("target_id", "fingerprint")
    )
    context = recorder.Context(actor_name=OUTSIDE_ACTOR)
    if not stored and not ObservationRun.objects.filter(**project, error="").exists():
        with transaction.atomic():
            _create(project, current, prints, now)
            recorder.append(_baseline(credential, len(current), context))
        report.baseline, report.recorded = True, 1
        return
    new = current.keys() - stored.keys()
    gone = stored.keys() - current.keys()
    changed = {sid for sid in current.keys() & stored.keys() if prints[sid] != stored[sid]}
    busy = _in_flight(project, new | gone | changed, mark)
    new, gone, changed = new - busy, gone - busy, changed - busy
    report.skipped = len(busy)
    before = dict(
        Snapshot.objects.filter(**project, target_type=SERVICE, target_id__in=gone | changed).values_list(
            "target_id", "state"
        )
    )
    with transaction.atomic():
        for sid in sorted(new):
            recorder.append(_observed(credential, Action.OBSERVED_NEW_SERVICE, current[sid], None, context))
        for sid in sorted(changed):
            recorder.append(
                _observed(credential, Action.OBSERVED_CHANGE, current[sid], before.get(sid), context)
            )
        for sid in sorted(gone):
            recorder.append(_gone(credential, sid, before.get(sid), context))
        _create(project, {sid: current[sid] for sid in new}, prints, now)
        _update(project, {sid: current[sid] for sid in changed}, prints, now)
        Snapshot.objects.filter(**project, target_type=SERVICE, target_id__in=gone).delete()
        Snapshot.objects.filter(**project, target_type=SERVICE).exclude(target_id__in=busy).update(
            observed_at=now
        )
    report.recorded = len(new) + len(changed) + len(gone)
    report.changes = sorted(new | changed | gone)


def _project(credential: CloudCredential) -> dict[str, str]:
    return {"cloud": credential.cloud, "region": credential.region, "project_id": credential.project_id}


def _in_flight(project: dict[str, str], targets: set[str], mark: int) -> set[str]:
    """Of ``targets``, those whose state may be in flight: an attempt still open, or one that began
    after the cloud was read (numbered after ``mark``) — its outcome updates the snapshot itself."""
    if not targets:
        return set()
    records = AuditRecord.objects.filter(**project, target_type=SERVICE, target_id__in=targets)
    recent = records.filter(seq__gt=mark, outcome=Outcome.ATTEMPTED).values_list("target_id", flat=True)
    still_open = open_attempts(records).values_list("target_id", flat=True)
    return set(recent) | set(still_open)


def _snapshot(
    project: dict[str, str], service: EndpointService, fingerprint_: str, now: datetime
) -> Snapshot:
    return Snapshot(
        **project, target_type=SERVICE, target_id=service.id, state=service.to_api(), fingerprint=fingerprint_,
        cloud_updated_at=service.updated_at, observed_at=now,
    )  # fmt: skip


def _create(
    project: dict[str, str], services: dict[str, EndpointService], prints: dict[str, str], now: datetime
) -> None:
    rows = [_snapshot(project, service, prints[sid], now) for sid, service in services.items()]
    Snapshot.objects.bulk_create(rows, batch_size=BULK)


def _update(
    project: dict[str, str], services: dict[str, EndpointService], prints: dict[str, str], now: datetime
) -> None:
    if not services:
        return
    rows = {
        row.target_id: row
        for row in Snapshot.objects.filter(**project, target_type=SERVICE, target_id__in=services)
    }
    for sid, service in services.items():
        row = rows[sid]
        row.state, row.fingerprint = service.to_api(), prints[sid]
        row.cloud_updated_at, row.observed_at = service.updated_at, now
    fields = ["state", "fingerprint", "cloud_updated_at", "observed_at"]
    Snapshot.objects.bulk_update(list(rows.values()), fields, batch_size=BULK)


def _observed(
    credential: CloudCredential, action: str, service: EndpointService, before: Any, context: recorder.Context
) -> recorder.Entry:
    return recorder.Entry(
        action=action, target_type=SERVICE, outcome=Outcome.APPLIED, context=context, credential=credential,
        target_id=service.id, target_name=service.name or service.id, before=before, after=service.to_api(),
    )  # fmt: skip


def _gone(
    credential: CloudCredential, service_id: str, before: Any, context: recorder.Context
) -> recorder.Entry:
    name = before.get("service_name") or service_id if isinstance(before, dict) else service_id
    return recorder.Entry(
        action=Action.OBSERVED_DELETION, target_type=SERVICE, outcome=Outcome.APPLIED, context=context,
        credential=credential, target_id=service_id, target_name=str(name), before=before,
    )  # fmt: skip


def _baseline(credential: CloudCredential, count: int, context: recorder.Context) -> recorder.Entry:
    return recorder.Entry(
        action=Action.OBSERVATION_BASELINE, target_type=TargetType.CREDENTIAL, outcome=Outcome.APPLIED,
        context=context, credential=credential, target_id=str(credential.pk), target_name=credential.name,
        after={"services": count},
    )  # fmt: skip


@contextmanager
def _project_lock(credential: CloudCredential) -> Iterator[bool]:
    """Whether this run may observe the project now (True) or another run does (False)."""
    key = "/".join(("vpcepadmin:observe", credential.cloud, credential.region, credential.project_id))
    if connection.vendor == "postgresql":
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [number])
            acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [number])
        return
    with _local_guard:
        lock = _local_locks.setdefault(key, threading.Lock())
    acquired = lock.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


def observe(credentials: list[CloudCredential] | None = None) -> list[RunReport]:
    """Observe each account (all stored accounts by default), one after the other."""
    chosen = credentials if credentials is not None else list(CloudCredential.objects.order_by("name", "pk"))
    return [observe_account(credential) for credential in chosen]
