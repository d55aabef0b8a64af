"""The pending queue's budget (issue 12): 3 accounts × 20 approval-enabled services, each service with
a few pending connections, the simulator answering every call in 50 ms — every account's section of
/connections/pending/ rendered in under 1 s with a cold cache.

Run from the repository root::

    .venv/bin/python bench/pending.py [--rounds 5] [--latency 0.05] [--services 20] [--pending 3]

The dashboard runs in this process (``bench/inprocess.py``, a fresh SQLite file, local-memory cache)
against the simulator on a real socket. Two accounts sign requests (AK/SK), the third logs in with a
password (one IAM token call more when cold). Each round empties the cache (queues and tokens) and
then requests each account's section as htmx does, first one after the other, then all three at
once (as a browser loads them); it prints each account's times (median and slowest, ms) and the
upstream calls a cold section makes (one service list, one connection list per service, a token).
Exit status 1 when an account took 1 s or more.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import inprocess  # noqa: E402

BUDGET_SECONDS = 1.0


def seed(services: int, pending: int) -> dict[str, Any]:
    """Three projects (two of one account, one of another), ``services`` approval-enabled services in
    each, ``pending`` pending connections on each service from different consumer accounts."""
    from tests import seeds

    every: list[dict[str, Any]] = []
    endpoints: list[dict[str, Any]] = []
    for project in (seeds.PROJECT_ID, seeds.OTHER_PROJECT_ID, seeds.FOREIGN_PROJECT_ID):
        for item in seeds.numbered_services(services, project_id=project):
            every.append(item)
            for n in range(pending):
                endpoints.append(
                    {
                        "id": seeds.stable_uuid("bench-pending", item["id"], n),
                        "service_id": item["id"],
                        "status": "pendingAcceptance",
                        "domain_id": f"{n + 10:x}" * 16,
                        "created_at": f"2026-03-{n + 1:02d}T{len(endpoints) % 24:02d}:00:00Z",
                    }
                )
    return seeds.standard_seed(services=0, endpoint_services=every, endpoints=endpoints)


class Bench:
    def __init__(self, latency: float, services: int, pending: int) -> None:
        from tests import seeds
        from tests.dashboard import client_for, make_account, make_user
        from vpcepadmin.credentials.models import AuthMethod, Environment
        from vpcepadmin.simulator.control import SimulatorControl
        from vpcepadmin.simulator.server import SimulatorServer

        self.server = SimulatorServer(seed=seed(services, pending))
        self.server.__enter__()
        self.control = SimulatorControl(self.server.url)
        self.control.add_fault(action="latency", seconds=latency)  # every API call, IAM included
        url = self.server.url
        self.accounts = [
            make_account(url, name="Production eu-de", environment=Environment.PRODUCTION),
            make_account(url, name="Staging eu-de", project_id=seeds.OTHER_PROJECT_ID),
            make_account(
                url,
                name="Partner (password)",
                project_id=seeds.FOREIGN_PROJECT_ID,
                auth_method=AuthMethod.PASSWORD,
                access_key="",
                iam_username=seeds.FOREIGN_USERNAME,
                domain_name=seeds.FOREIGN_DOMAIN_NAME,
                secret=seeds.FOREIGN_PASSWORD,
            ),
        ]
        self.operator = make_user("operator", username="bench-operator")
        self.clients = [client_for(self.operator) for _ in self.accounts]
        self.expected = services * pending

    def close(self) -> None:
        self.server.__exit__(None, None, None)

    def section(self, index: int) -> float:
        """Seconds to render account ``index``'s section (htmx request), checked for its rows."""
        account = self.accounts[index]
        started = time.perf_counter()
        response = self.clients[index].get(f"/connections/pending/{account.pk}/", HTTP_HX_REQUEST="true")
        elapsed = time.perf_counter() - started
        page = response.content.decode()
        assert response.status_code == 200, page[:400]
        assert f"<strong>{self.expected}</strong> pending connection" in page, (account.name, page[:2000])
        return elapsed

    def cold_calls(self, index: int) -> int:
        from django.core.cache import cache

        cache.clear()
        self.control.clear_journal()
        self.section(index)
        return len(self.control.journal())

    def one_after_another(self) -> list[float]:
        from django.core.cache import cache

        cache.clear()
        return [self.section(index) for index in range(len(self.accounts))]

    def all_at_once(self) -> list[float]:
        from django.core.cache import cache
        from django.db import connections

        cache.clear()
        times = [0.0] * len(self.accounts)

        def load(index: int) -> None:
            try:
                times[index] = self.section(index)
            finally:
                connections.close_all()  # this thread's own database connection

        threads = [threading.Thread(target=load, args=(i,)) for i in range(len(self.accounts))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--pending", type=int, default=3)
    args = parser.parse_args()
    inprocess.configure()
    bench = Bench(args.latency, args.services, args.pending)
    print(
        f"{len(bench.accounts)} accounts × {args.services} approval-enabled services × {args.pending} pending "
        f"connections; upstream latency {args.latency * 1000:.0f} ms; {args.rounds} rounds, cold cache each\n"
    )
    try:
        calls = [bench.cold_calls(index) for index in range(len(bench.accounts))]
        bench.one_after_another()  # warm-up: imports, templates, connections
        sequential = [bench.one_after_another() for _ in range(args.rounds)]
        parallel = [bench.all_at_once() for _ in range(args.rounds)]
    finally:
        bench.close()
    print(
        f"{'account':<22} {'calls':>5} {'alone med':>10} {'alone max':>10} {'3 at once med':>14} {'max':>7}"
    )
    slowest = 0.0
    for index, account in enumerate(bench.accounts):
        alone = [round_[index] * 1000 for round_ in sequential]
        together = [round_[index] * 1000 for round_ in parallel]
        slowest = max(slowest, *alone, *together)
        print(
            f"{account.name:<22} {calls[index]:>5} {statistics.median(alone):>10.0f} {max(alone):>10.0f} "
            f"{statistics.median(together):>14.0f} {max(together):>7.0f}"
        )
    within = slowest < BUDGET_SECONDS * 1000
    print(f"\nbudget: every account rendered in under {BUDGET_SECONDS:g} s (slowest: {slowest:.0f} ms)")
    print("RESULT:", "within budget" if within else "missed")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
