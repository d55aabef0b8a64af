"""Observing the cloud at scale (issue 13 §3): a full run, a run with nothing changed, and a run after
1 % of the services changed outside the dashboard, printed as figures.

Run from the repository root (an otherwise idle machine)::

    .venv/bin/python bench/observe.py [--accounts 20] [--services 1000] [--latency 0.05]
        [--database-url postgres://postgres@127.0.0.1:5432/vpcepadmin_observe_bench]

Without ``--database-url`` a fresh SQLite file in a temporary directory is used; with it, that
database is dropped and created again (and dropped at the end). The simulator runs in this process:
one project per stored account with ``--services`` services each, one more project of ``SMALL``
services for comparison, and every API call answered after ``--latency`` seconds.

Each run of the observer is a process of its own (this script with ``--child``), as ``manage.py
observe_cloud`` runs when scheduled, so that its memory is its own and not the simulator's: the peak
is the high-water mark of the process's resident set (``VmHWM``, see ``peak_rss_mb``; Django and the
interpreter included), not tracemalloc's Python allocations; the resident set before the first
account is printed beside it. The time is the loop over the accounts (``observe_account``
one after the other, as ``observe`` does), without the process's start. The SQL queries of each
``observe_account`` call are counted with ``CaptureQueriesContext``; its debug cursor formats every
statement, which is in the times (they err on the slow side).

1. baseline: every account observed for the first time (one "Baseline" record each);
2. nothing changed;
3. 1 % of each account's services changed out of band (a new name, description, port mapping or
   approval setting and a newer ``updated_at``; the simulator is reset with the modified seed), and
   as many of the small account's.

Budgets: run 1 in under 15 s; every run's peak resident memory under 200 MB; in every run the same
number of queries for every account and for the small one (no query per service); run 1 writes one
baseline per account; run 2 writes no record; run 3 records exactly the changed services, once
each, as "Observed change". Exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import deployment, inprocess  # noqa: E402
from bench.measure import rss_mb  # noqa: E402

SMALL = 100  # services of the comparison account
BUDGET_SECONDS = 15.0
BUDGET_MB = 200.0
CHANGED_AT = "2030-01-01T00:00:00Z"  # newer than every seeded updated_at


def project_id(index: int) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"vpcepadmin-bench/observe/project/{index}").hex


def changed_indices(count: int, changed: int) -> list[int]:
    """Which ``changed`` of ``count`` numbered services a run-3 seed changes: spread evenly."""
    step = max(1, count // changed)
    return list(range(step // 2, count, step))[:changed]


def changed_service(item: dict[str, Any], ordinal: int) -> dict[str, Any]:
    """``item`` as changed outside the dashboard: one editable field (in turn), a newer ``updated_at``."""
    item = dict(item, updated_at=CHANGED_AT)
    variant = ordinal % 4
    if variant == 0:
        item["description"] = "changed outside vpcepadmin"
    elif variant == 1:
        item["service_name"] = item["service_name"] + "-renamed"
    elif variant == 2:
        item["ports"] = [*item["ports"], {"client_port": 80, "server_port": 8080, "protocol": "TCP"}]
    else:
        item["approval_enabled"] = not item["approval_enabled"]
    return item


def seed(sizes: list[int], changed: int) -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """Projects of the standard account's domain with ``sizes[i]`` services each (``changed`` of each
    changed when > 0): the seed, and the (project, service id) of the changed services."""
    from tests import seeds

    projects, services, targets = [], [], set()
    for index, count in enumerate(sizes):
        project = project_id(index)
        projects.append(
            {"id": project, "name": f"{seeds.REGION}_bench{index:02d}", "domain_id": seeds.DOMAIN_ID,
             "domain_name": seeds.DOMAIN_NAME}
        )  # fmt: skip
        items = seeds.numbered_services(count, project_id=project)
        for ordinal, position in enumerate(changed_indices(count, changed) if changed else []):
            items[position] = changed_service(items[position], ordinal)
            targets.add((project, items[position]["id"]))
        services += items
    document = seeds.standard_seed(services=0, endpoint_services=services)
    document["projects"] += projects
    return document, targets


@dataclass
class Run:
    """One observer process's figures (what ``child`` printed) and what the run wrote."""

    name: str
    wall: float
    rss_before: float
    peak_rss: float
    accounts: list[dict[str, Any]]  # per account: ms, queries, services, recorded, error
    small: dict[str, Any]
    written: list[tuple[str, str, str]]  # (action, project, target id) of the records it appended

    def queries(self) -> list[int]:
        return sorted({account["queries"] for account in self.accounts})


class Bench:
    """The simulator with every project, the stored accounts, and the observer processes' runs."""

    def __init__(self, accounts: int, services: int, latency: float) -> None:
        from tests.dashboard import make_account
        from vpcepadmin.audit.models import AuditChainHead
        from vpcepadmin.simulator.control import SimulatorControl
        from vpcepadmin.simulator.server import SimulatorServer

        # The chain's head row as any log in use has it: the very first record creates it (3 queries
        # more), which would make the first account look different from the others.
        AuditChainHead.objects.get_or_create(id=1)

        self.sizes = [services] * accounts + [SMALL]
        self.changed = max(1, services // 100)
        self.latency = latency
        self.server = SimulatorServer(seed=seed(self.sizes, 0)[0])
        self.server.__enter__()
        self.control = SimulatorControl(self.server.url, timeout=60)
        self.control.add_fault(action="latency", seconds=latency)  # every API call
        url = self.server.url
        self.accounts = [
            make_account(url, name=f"Bench {index:02d}", project_id=project_id(index)).pk
            for index in range(accounts)
        ]
        self.small = make_account(url, name="Bench small", project_id=project_id(accounts)).pk

    def close(self) -> None:
        self.server.__exit__(None, None, None)

    def change_out_of_band(self) -> set[tuple[str, str]]:
        """1 % of each account's services changed in the cloud; their (project, service id)."""
        document, targets = seed(self.sizes, self.changed)
        self.control.reset(document)
        self.control.add_fault(action="latency", seconds=self.latency)
        return targets

    def observe(self, name: str) -> Run:
        """One observer process over every account, then the small one; what it appended."""
        from django.db import connections

        from vpcepadmin.audit.models import AuditRecord

        mark = AuditRecord.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        connections.close_all()  # nothing of this process stands in the child's way
        accounts = ",".join(map(str, self.accounts))
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            accounts,
            "--compare",
            str(self.small),
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        lines = [line for line in done.stdout.splitlines() if line.startswith(deployment.MARK)]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"the observer failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        figures = json.loads(lines[-1][len(deployment.MARK) :])
        written = AuditRecord.objects.filter(seq__gt=mark).values_list("action", "project_id", "target_id")
        return Run(name=name, written=sorted(written), **figures)


def peak_rss_mb() -> float:
    """The high-water mark of this process's resident set (``VmHWM``), in MB. Not ``ru_maxrss``: on
    Linux a child's ``ru_maxrss`` starts from its parent's resident set when it was forked (kept
    across ``exec``), and the parent here holds the simulator with every service."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(accounts: list[int], compare: int) -> None:
    """The observer process: each of ``accounts`` observed in turn (timed), then ``compare``."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from vpcepadmin.changes.observation import observe_account
    from vpcepadmin.credentials.models import CloudCredential

    stored = CloudCredential.objects.in_bulk([*accounts, compare])
    for credential in stored.values():
        # ``note_success`` stamps an account at most once a minute (no query when it did lately):
        # counted every time, so that a run's counts do not depend on when the last one was.
        credential.last_success_at = None

    def one(pk: int) -> dict[str, Any]:
        with CaptureQueriesContext(connection) as captured:
            report = observe_account(stored[pk])
        queries = len(captured)
        connection.queries_log.clear()  # the statements' text is not the observer's memory
        return {
            "ms": report.duration_ms, "queries": queries, "services": report.services,
            "recorded": report.recorded, "error": report.error or ("busy" if report.busy else ""),
        }  # fmt: skip

    rss_before = rss_mb()
    started = time.perf_counter()
    figures = [one(pk) for pk in accounts]
    wall = time.perf_counter() - started
    peak = peak_rss_mb()
    result = {
        "wall": wall,
        "rss_before": rss_before,
        "peak_rss": peak,
        "accounts": figures,
        "small": one(compare),
    }
    print(deployment.MARK + json.dumps(result), flush=True)


def misses(bench: Bench, runs: list[Run], targets: set[tuple[str, str]]) -> list[str]:
    """Every budget the runs missed, in words."""
    from vpcepadmin.audit.models import Action

    found = []
    baseline, idle, changed = runs
    if baseline.wall >= BUDGET_SECONDS:
        found.append(f"run 1 took {baseline.wall:.1f} s (budget {BUDGET_SECONDS:g} s)")
    for run in runs:
        if run.peak_rss >= BUDGET_MB:
            found.append(f"{run.name}: peak RSS {run.peak_rss:.0f} MB (budget {BUDGET_MB:g} MB)")
        if len(run.queries()) > 1 or run.queries() != [run.small["queries"]]:
            found.append(
                f"{run.name}: queries per account vary: {run.queries()}, small {run.small['queries']}"
            )
        errors = {a["error"] for a in [*run.accounts, run.small] if a["error"]}
        if errors:
            found.append(f"{run.name}: accounts not observed: {'; '.join(sorted(errors))}")
    baselines = [w for w in baseline.written if w[0] == Action.OBSERVATION_BASELINE]
    if len(baselines) != len(baseline.written) or len(baselines) != len(bench.accounts) + 1:
        found.append(f"run 1 wrote {len(baseline.written)} records, not one baseline per account")
    if idle.written:
        found.append(f"run 2 wrote {len(idle.written)} records with nothing changed")
    expected = sorted((str(Action.OBSERVED_CHANGE), project, target) for project, target in targets)
    if changed.written != expected:
        extra = len(set(changed.written) - set(expected))
        missing = len(set(expected) - set(changed.written))
        found.append(
            f"run 3 wrote {len(changed.written)} records for {len(expected)} changes "
            f"({missing} missing, {extra} unexpected, {len(changed.written) - len(set(changed.written))} twice)"
        )
    return found


HEADER = (
    f"{'run':<24} {'wall s':>7} {'budget':>7} {'acct med':>9} {'acct max':>9} {'queries':>8} "
    f"{'small':>6} {'records':>8} {'RSS before':>11} {'peak RSS':>9}"
)


def print_row(run: Run) -> None:
    times = [account["ms"] for account in run.accounts]
    queries = "/".join(map(str, run.queries()))
    budget = f"<{BUDGET_SECONDS:g}" if run.name.startswith("1") else "—"
    print(
        f"{run.name:<24} {run.wall:7.2f} {budget:>7} {statistics.median(times):9.0f} {max(times):9.0f} "
        f"{queries:>8} {run.small['queries']:>6} {len(run.written):>8} {run.rss_before:10.0f}M "
        f"{run.peak_rss:8.0f}M",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--database-url")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # the observer process: account ids
    parser.add_argument("--compare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child([int(pk) for pk in args.child.split(",")], args.compare)
        return 0
    if args.database_url:
        deployment.recreate_database(args.database_url)
    inprocess.configure(args.database_url)  # the child inherits the environment, hence the database
    from django.db import connection

    print(
        f"database: {connection.vendor}; {args.accounts} accounts × {args.services} services "
        f"(and one of {SMALL} to compare); upstream latency {args.latency * 1000:.0f} ms; "
        f"each run one observer process\n",
        flush=True,
    )
    bench = Bench(args.accounts, args.services, args.latency)
    print(HEADER)
    try:
        runs = [bench.observe("1 baseline")]
        print_row(runs[-1])
        runs.append(bench.observe("2 nothing changed"))
        print_row(runs[-1])
        targets = bench.change_out_of_band()
        runs.append(bench.observe(f"3 {bench.changed} changed/account"))
        print_row(runs[-1])
    finally:
        bench.close()
    found = misses(bench, runs, targets)
    print(
        "\nwall: the loop over the accounts; acct: observe_account per account (ms); queries: SQL per"
        f" account (every distinct count), small: the account of {SMALL} services;\nrecords: audit"
        " records the run appended; RSS: the observer process's resident set before the first account"
        " and its peak (VmHWM)."
    )
    print("\nRESULT:", "within budget" if not found else "OVER BUDGET: " + "; ".join(found))
    if args.database_url:
        from django.db import connections

        connections.close_all()
        deployment.drop_database(args.database_url)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
