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
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import OUTSIDE_ACTOR, Action, AuditRecord, Outcome, TargetType
from vpcepadmin.changes.models import ObservationRun, Snapshot
from vpcepadmin.changes.reconciliation import reconcile_pending
from vpcepadmin.changes.snapshots import (
    CONNECTIONS,
    SERVICE,
    UNSETTLED,
    WHITELIST,
    fingerprint,
    observed_entry,
    part_print,
)
from vpcepadmin.changes.targets import open_attempts
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import (
    MAX_PAGE_SIZE,
    connection_list_all,
    endpoint_service_get,
    endpoint_service_list_all,
    permission_list_all,
)
from vpcepadmin.cloud.errors import CloudError, CloudNotFound
from vpcepadmin.cloud.fanout import in_parallel
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure, note_success

BULK = 500  # rows per bulk statement
RUNS_KEPT = timedelta(days=30)  # observation runs kept for the overview (the baseline runs for ever)
logger = logging.getLogger("vpcepadmin.observe")

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@dataclass(frozen=True)
class Parts:
    """Which parts of each service are observed besides the service itself (``--connections``:
    approval-enabled services' connections; ``--whitelist``: every service's whitelist)."""

    connections: bool = False
    whitelist: bool = False

    @property
    def any(self) -> bool:
        return self.connections or self.whitelist


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
    part_errors: int = 0  # connection or whitelist lists that could not be read (nothing recorded for them)
    duration_ms: int = 0

    def line(self) -> str:
        name = f"“{self.credential.name}”"
        if self.busy:
            return f"{name}: another run is observing this project now; skipped."
        if self.error:
            return f"{name}: could not be read ({self.error}); nothing recorded."
        if self.baseline:
            return f"{name}: baseline of {self.services} services recorded ({self.duration_ms} ms)."
        left = f", {self.skipped} left for the next run (a change in flight)" if self.skipped else ""
        if self.part_errors:
            left += f", {self.part_errors} connection or whitelist list(s) could not be read"
        counts = f"{self.services} services, {self.recorded} outside change(s) recorded{left}"
        return f"{name}: {counts} ({self.duration_ms} ms)."


def observe_account(credential: CloudCredential, parts: Parts = Parts()) -> RunReport:
    """One observation of ``credential``'s project (see the module's guarantees)."""
    report = RunReport(credential)
    started_at, started = timezone.now(), time.monotonic()
    with _project_lock(credential) as acquired:
        if not acquired:
            report.busy = True
            return report
        _observe(credential, report, started_at, parts)
        report.duration_ms = int((time.monotonic() - started) * 1000)
        # Inside the lock: the next run of the project finds it (a baseline is taken once).
        ObservationRun.objects.create(
            credential=credential, cloud=credential.cloud, region=credential.region,
            project_id=credential.project_id, started_at=started_at, duration_ms=report.duration_ms,
            services=report.services, recorded=report.recorded, skipped=report.skipped, baseline=report.baseline,
            error=report.error[:300],
        )  # fmt: skip
    logger.info("observe_cloud: %s", report.line())
    return report


def _observe(credential: CloudCredential, report: RunReport, now: datetime, parts: Parts) -> None:
    project = _project(credential)
    reconcile_pending(AuditRecord.objects.filter(**project))
    # Before the cloud is read: the changes of ours still open, and the newest record. A change that
    # settles after this was open now; one that begins after it is numbered later (``_in_flight``).
    mark = AuditRecord.objects.aggregate(newest=Max("seq"))["newest"] or 0
    open_now = set(
        open_attempts(AuditRecord.objects.filter(**project, target_type=SERVICE)).values_list(
            "target_id", flat=True
        )
    )
    client = None
    try:
        client = client_for(credential)
        services = endpoint_service_list_all(client, page_size=MAX_PAGE_SIZE)
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
        busy = _in_flight(project, set(current), mark, open_now)
        with transaction.atomic():
            # A service with a change in flight is kept without a fingerprint: the next run takes
            # its state as it then is, silently (its change records itself).
            _create(project, current, {**prints, **dict.fromkeys(busy, UNSETTLED)}, now)
            recorder.append(_baseline(credential, len(current), context))
        report.baseline, report.recorded = True, 1
        if parts.any:  # their first observation: kept silently, part of the baseline
            quiet = [current[sid] for sid in sorted(current) if sid not in busy]
            _observe_parts(credential, client, report, quiet, parts, (mark, open_now), now)
        return
    unsettled = {sid for sid, value in stored.items() if value == UNSETTLED and sid in current}
    new = current.keys() - stored.keys()
    gone = stored.keys() - current.keys()
    changed = {sid for sid in current.keys() & stored.keys() if prints[sid] != stored[sid]} - unsettled
    busy = _in_flight(project, new | gone | changed | unsettled, mark, open_now)
    new, gone, changed, unsettled = new - busy, gone - busy, changed - busy, unsettled - busy
    gone = {sid for sid in gone if _really_gone(client, sid)}
    report.skipped = len(busy)
    before = dict(
        Snapshot.objects.filter(**project, target_type=SERVICE, target_id__in=gone | changed).values_list(
            "target_id", "state"
        )
    )
    with transaction.atomic():
        for sid in sorted(new):
            recorder.append(observed_entry(credential, Action.OBSERVED_NEW_SERVICE, current[sid], None))
        for sid in sorted(changed):
            recorder.append(observed_entry(credential, Action.OBSERVED_CHANGE, current[sid], before.get(sid)))
        for sid in sorted(gone):
            recorder.append(_gone(credential, sid, before.get(sid), context))
        _create(project, {sid: current[sid] for sid in new}, prints, now)
        _update(project, {sid: current[sid] for sid in changed | unsettled}, prints, now)
        Snapshot.objects.filter(**project, target_id__in=gone).delete()
    report.recorded = len(new) + len(changed) + len(gone)
    if parts.any and client is not None:
        quiet = [current[sid] for sid in sorted(current) if sid not in busy | new]
        _observe_parts(credential, client, report, quiet, parts, (mark, open_now), now)


def _observe_parts(
    credential: CloudCredential,
    client: VpcepClient,
    report: RunReport,
    services: list[EndpointService],
    parts: Parts,
    before_read: tuple[int, set[str]],
    now: datetime,
) -> None:
    """The connections and whitelists of ``services`` (at most ``MAX_CALLS`` reads at once): a part
    seen for the first time is kept silently; a different one is an "Observed change" of its service."""
    project = _project(credential)
    wanted = [(CONNECTIONS, s) for s in services if parts.connections and s.approval_enabled]
    wanted += [(WHITELIST, s) for s in services if parts.whitelist]
    states = in_parallel(_part_reader(client), wanted)
    report.part_errors = sum(isinstance(state, CloudError) for state in states)
    read_now = {
        (part, service.id): state
        for (part, service), state in zip(wanted, states, strict=True)
        if isinstance(state, dict)
    }
    found = Snapshot.objects.filter(
        **project, target_type__in=(CONNECTIONS, WHITELIST), target_id__in={s.id for s in services}
    )
    stored = {(row.target_type, row.target_id): row for row in found}
    different = {
        key
        for key, state in read_now.items()
        if key in stored and stored[key].fingerprint != part_print(state)
    }
    fresh_ids = {sid for key in read_now if key not in stored for sid in [key[1]]}
    busy = _in_flight(project, {sid for _part, sid in different} | fresh_ids, *before_read)
    names = {s.id: s.name or s.id for s in services}
    context = recorder.Context(actor_name=OUTSIDE_ACTOR)
    with transaction.atomic():
        for key in sorted(different):
            if key[1] in busy:
                continue
            row, state = stored[key], read_now[key]
            recorder.append(recorder.Entry(
                action=Action.OBSERVED_CHANGE, target_type=SERVICE, outcome=Outcome.APPLIED, context=context,
                credential=credential, target_id=key[1], target_name=names[key[1]], before=row.state, after=state,
            ))  # fmt: skip
            row.state, row.fingerprint, row.observed_at = state, part_print(state), now
            row.save(update_fields=["state", "fingerprint", "observed_at"])
            report.recorded += 1
        fresh = [
            Snapshot(
                **project,
                target_type=part,
                target_id=sid,
                state=state,
                fingerprint=part_print(state),
                observed_at=now,
            )
            for (part, sid), state in read_now.items()
            if (part, sid) not in stored
            and sid not in busy  # a first look while our change is in flight waits
        ]
        Snapshot.objects.bulk_create(fresh, batch_size=BULK)
    report.skipped += len({sid for _part, sid in different} & busy)


def _part_reader(client: VpcepClient) -> Callable[[tuple[str, EndpointService]], dict[str, Any] | CloudError]:
    """What a worker thread reads for one part of one service: its state as snapshots keep it."""

    def read(item: tuple[str, EndpointService]) -> dict[str, Any] | CloudError:
        part, service = item
        try:
            if part == CONNECTIONS:
                found = connection_list_all(client, service.id)
                return {CONNECTIONS: {c.id: {"status": c.status, "domain_id": c.domain_id} for c in found}}
            return {WHITELIST: sorted(entry.permission for entry in permission_list_all(client, service.id))}
        except CloudError as exc:
            return exc

    return read


def _project(credential: CloudCredential) -> dict[str, str]:
    return {"cloud": credential.cloud, "region": credential.region, "project_id": credential.project_id}


def _really_gone(client: VpcepClient, service_id: str) -> bool:
    """A service missing from the listing is asked for by itself (one GET) before its deletion is
    recorded: paging by offset can miss one when another is deleted between two pages."""
    try:
        endpoint_service_get(client, service_id)
    except CloudNotFound:
        return True
    except CloudError:
        return False  # cannot tell now: the next run asks again
    return False


def _in_flight(project: dict[str, str], targets: set[str], mark: int, open_before: set[str]) -> set[str]:
    """Of ``targets``, those whose state may be in flight: a change of ours open before the cloud was
    read (``open_before``), or one that began since (numbered after ``mark``) — its outcome moves the
    snapshot itself, in its own transaction."""
    if not targets:
        return set()
    records = AuditRecord.objects.filter(**project, target_type=SERVICE, target_id__in=targets)
    recent = records.filter(seq__gt=mark, outcome=Outcome.ATTEMPTED).values_list("target_id", flat=True)
    return (set(recent) | open_before) & targets


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
    """The snapshots of ``services``: one INSERT run for every row (``executemany``), so one query
    however many services a project has; ``bulk_create`` splits rows into statements (at most 999
    parameters on SQLite: 111 snapshots each)."""
    if not services:
        return
    rows = [_snapshot(project, service, prints[sid], now) for sid, service in services.items()]
    fields = [field for field in Snapshot._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns, marks = ", ".join(quote(field.column) for field in fields), ", ".join(["%s"] * len(fields))
    insert = f"INSERT INTO {quote(Snapshot._meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    values = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(insert, values)


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


def _gone(
    credential: CloudCredential, service_id: str, before: Any, context: recorder.Context
) -> recorder.Entry:
    name = (before.get("service_name") or service_id) if isinstance(before, dict) else service_id
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


def observe(credentials: list[CloudCredential] | None = None, parts: Parts = Parts()) -> list[RunReport]:
    """Observe each account (all stored accounts by default), one after the other; runs older than
    ``RUNS_KEPT`` are dropped (the audit log keeps what they found)."""
    chosen = credentials if credentials is not None else list(CloudCredential.objects.order_by("name", "pk"))
    reports = [observe_account(credential, parts) for credential in chosen]
    keep_from = timezone.now() - RUNS_KEPT
    ObservationRun.objects.filter(started_at__lt=keep_from).exclude(baseline=True).delete()
    return reports
