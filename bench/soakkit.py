"""Pieces of the soak benchmark (``bench/soak.py``): faults, counting PUTs, and the figures taken from
the database and the simulated cloud afterwards (processes: ``bench.deployment``; pages:
``bench.pages``).

Nothing here imports Django: the dashboard runs in gunicorn and ``manage.py`` subprocesses, as in a
deployment, and the figures are plain SQL.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

COUNTER = re.compile(r"n=(\d+)")
ACTION = "modify_endpoint_service"
APPLIED = ("applied", "reconciled_applied")


def newest_attempt_age(database_url: str) -> float | None:
    """Seconds since the newest attempt was recorded (the database's clock), None without attempts."""
    import psycopg

    with psycopg.connect(database_url) as db:
        row = db.execute(
            "SELECT EXTRACT(EPOCH FROM now() - max(created_at)) FROM audit_auditrecord "
            "WHERE action = %s AND outcome = 'attempted'",
            [ACTION],
        ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


# --- faults -----------------------------------------------------------------------------------------

# Share of the PUT faults per kind (they add up to 1); the simulator picks at most one of these per
# call (the first added wins), so each is posted with its conditional rate (``put_faults``).
FAULT_MIX: tuple[tuple[float, dict[str, Any]], ...] = (
    (0.12, {"action": "status", "status": 500}),
    (0.12, {"action": "status", "status": 500, "apply": True}),
    (0.10, {"action": "status", "status": 503}),
    (0.10, {"action": "status", "status": 503, "apply": True}),
    (0.12, {"action": "status", "status": 400, "error_code": "EndPoint.0002", "error_msg": "Bad request."}),
    (0.10, {"action": "reset_before"}),
    (0.12, {"action": "reset_after"}),
    (0.12, {"action": "apply_then_timeout"}),  # seconds: the read timeout plus one
)
# Latency comes on top of any one fault above; its share of the fault rate, spread over three delays.
LATENCY_SHARE, LATENCIES = 0.10, (0.2, 0.8, 2.0)


def put_faults(rate: float, service_path: str, read_timeout: float) -> list[dict[str, Any]]:
    """Fault documents for ``/_sim/faults`` that hit about ``rate`` of the PUTs to ``service_path``."""
    match = {"method": "PUT", "path": service_path}
    faults, taken = [], 0.0
    for share, spec in FAULT_MIX:
        wanted = rate * share
        document = {**spec, "match": match, "rate": min(1.0, wanted / max(1e-9, 1 - taken))}
        if spec["action"] == "apply_then_timeout":
            document["seconds"] = read_timeout + 1
        faults.append(document)
        taken += wanted
    faults += [
        {
            "action": "latency",
            "seconds": seconds,
            "match": match,
            "rate": rate * LATENCY_SHARE / len(LATENCIES),
        }
        for seconds in LATENCIES
    ]
    return faults


def get_faults(rate: float, service_path: str) -> list[dict[str, Any]]:
    """500 on GETs of one service (not retried by the cloud client): a lost answer whose re-read fails
    leaves the attempt open for ``reconcile_audit``."""
    if rate <= 0:
        return []
    return [
        {"action": "status", "status": 500, "match": {"method": "GET", "path": service_path}, "rate": rate}
    ]


class PutTap:
    """Counts the PUTs the in-process simulator journals (the journal itself keeps only the newest
    10 000 requests, fewer than a long soak sends)."""

    def __init__(self, journal: Any, path: re.Pattern[str]) -> None:
        self._lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.by_service: Counter[str] = Counter()
        self._path = path
        original = journal.record

        def record(request: Any, request_id: str, status: int) -> None:
            original(request, request_id, status)
            found = self._path.search(request.raw_path)
            if request.method == "PUT" and found:
                with self._lock:
                    self.statuses[status] += 1
                    self.by_service[found.group(1)] += 1

        journal.record = record

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.statuses.values())


def bump_counter(description: str) -> tuple[int, str]:
    """The description with its ``n=<int>`` counter incremented (added as ``n=1`` when missing)."""
    found = COUNTER.search(description)
    if found is None:
        return 1, (description + " n=1").strip()
    n = int(found.group(1)) + 1
    return n, description[: found.start()] + f"n={n}" + description[found.end() :]


# --- tallies ----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw, shared by their threads."""

    statuses: Counter[int] = field(default_factory=Counter)
    steps: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, code: int, what: str, request_id: str = "") -> None:
        with self.lock:
            self.statuses[code] += 1
            if code >= 500 and len(self.samples) < 20:
                self.samples.append(f"{code} {what} (X-Request-ID {request_id or '-'})")

    def step(self, name: str) -> None:
        with self.lock:
            self.steps[name] += 1

    def error(self, name: str) -> None:
        with self.lock:
            self.errors[name] += 1

    @property
    def server_errors(self) -> int:
        with self.lock:
            return sum(n for code, n in self.statuses.items() if code >= 500)


# --- figures ----------------------------------------------------------------------------------------


@dataclass
class ServiceCheck:
    service_id: str
    final_n: int
    applied: list[int]  # the counters that attempts recorded as applied wrote
    undetermined: int  # attempts whose outcome does not say (undetermined / still open)

    @property
    def lost(self) -> int:
        """Increments recorded as applied that the cloud does not hold, or that the cloud holds and no
        record explains (0 when the final counter is within what the records allow)."""
        low, high = len(self.applied), len(self.applied) + self.undetermined
        if self.final_n < low:
            return low - self.final_n
        return max(0, self.final_n - high)

    @property
    def duplicates(self) -> list[int]:
        """Counter values written by more than one applied attempt (a read-modify-write overwritten)."""
        return sorted(n for n, times in Counter(self.applied).items() if times > 1)


@dataclass
class Figures:
    attempts: int
    settling: Counter[int]  # settling outcome records per attempt → how many attempts
    outcomes: Counter[str]  # settling outcome records by kind
    linked_unknown: int  # ``unknown`` records linked to attempts (do not settle them)
    orphans: int  # outcome records whose attempt does not exist
    conflicts: int
    other_records: Counter[str]  # records of other actions, by action
    services: list[ServiceCheck]

    @property
    def outcome_total(self) -> int:
        return sum(self.outcomes.values())

    @property
    def lost_updates(self) -> int:
        return sum(check.lost for check in self.services)


SETTLING_EXCLUDED = ("attempted", "unknown")


def collect(database_url: str, final_counters: Mapping[str, int]) -> Figures:
    """The figures of the audit log, checked against the counters the cloud holds at the end."""
    import psycopg

    with psycopg.connect(database_url) as db:
        rows = db.execute(
            "SELECT id, action, outcome, attempt_id, target_id, request_body FROM audit_auditrecord ORDER BY seq"
        ).fetchall()
    attempts: dict[int, tuple[str, Any]] = {}
    linked: dict[int, list[str]] = {}
    conflicts, linked_unknown, orphans = 0, 0, 0
    other: Counter[str] = Counter()
    for pk, action, outcome, attempt_id, target_id, body in rows:
        if action != ACTION:
            other[action] += 1
        elif outcome == "attempted":
            attempts[pk] = (target_id, body)
        elif outcome == "conflict":
            conflicts += 1
        if attempt_id is not None:
            if outcome == "unknown":
                linked_unknown += 1
            else:
                linked.setdefault(attempt_id, []).append(outcome)
    orphans = sum(len(v) for k, v in linked.items() if k not in attempts)
    settling: Counter[int] = Counter(min(len(linked.get(pk, [])), 2) for pk in attempts)
    outcomes = Counter(o for pk in attempts for o in linked.get(pk, []))
    checks = _service_checks(attempts, linked, final_counters)
    return Figures(len(attempts), settling, outcomes, linked_unknown, orphans, conflicts, other, checks)


def _service_checks(
    attempts: Mapping[int, tuple[str, Any]], linked: Mapping[int, list[str]], final: Mapping[str, int]
) -> list[ServiceCheck]:
    checks = {sid: ServiceCheck(sid, n, [], 0) for sid, n in final.items()}
    for pk, (target_id, body) in attempts.items():
        check = checks.setdefault(target_id, ServiceCheck(target_id, 0, [], 0))
        results = linked.get(pk, [])
        written = COUNTER.search(str((body or {}).get("description", "")))
        if any(o in APPLIED for o in results) and written:
            check.applied.append(int(written.group(1)))
        elif not results or "undetermined" in results:
            check.undetermined += 1
    return sorted(checks.values(), key=lambda c: c.service_id)


def final_counters(state: Mapping[str, Any], service_ids: Iterable[str]) -> dict[str, int]:
    """The counter ``n`` each soaked service holds in the cloud now (``/_sim/state``)."""
    wanted = set(service_ids)
    counters = {}
    for service in state.get("endpoint_services", []):
        if service["id"] in wanted:
            found = COUNTER.search(service.get("description") or "")
            counters[service["id"]] = int(found.group(1)) if found else 0
    return counters
