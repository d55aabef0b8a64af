"""Benchmark of the edit flow's budgets (issue 4), printed as figures.

- Loading the edit page: upstream calls (budget: one GET).
- Applying: upstream calls (budget: one GET + one PUT, plus one token call when the cache is cold)
  and SQL queries (budget: a fixed number, the same for 1 and 200 mappings).
- With the simulator answering in 50 ms, the server-side time of apply minus the time spent in
  the upstream round trips, at the median, with 200 port mappings (budget: < 30 ms).

Run: ``.venv/bin/python bench/edit_apply.py [--rounds 40] [--latency 0.05] [--database-url URL]``.
Without --database-url it uses a fresh SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import inprocess  # noqa: E402


class UpstreamTimer:
    """Per request: server time (the outermost middleware, so all of Django's work) and the time
    spent inside the cloud client's transport (the upstream round trips)."""

    def __init__(self) -> None:
        from vpcepadmin.cloud.transport import Transport
        from vpcepadmin.middleware import RequestIdMiddleware

        self.spent = 0.0
        self.server = 0.0
        self.calls: list[str] = []
        original = Transport.send
        outermost = RequestIdMiddleware.__call__

        def served(middleware: Any, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return outermost(middleware, request)
            finally:
                self.server += time.perf_counter() - started

        RequestIdMiddleware.__call__ = served  # type: ignore[method-assign,assignment]

        def timed(transport: Any, request: Any, auth: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(transport, request, auth)
            finally:
                self.spent += time.perf_counter() - started
                self.calls.append(request.method)

        Transport.send = timed  # type: ignore[method-assign,assignment]

    def reset(self) -> None:
        self.spent, self.server, self.calls = 0.0, 0.0, []


def scenario(rounds: int, latency: float, mappings: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.dashboard import client_for, make_account, make_user
    from tests.editing import Editor
    from tests.seeds import service, standard_seed
    from vpcepadmin.simulator.control import SimulatorControl
    from vpcepadmin.simulator.server import SimulatorServer

    timer = UpstreamTimer()
    with SimulatorServer(seed=standard_seed()) as server:
        control = SimulatorControl(server.url)
        account = make_account(server.url, name=f"bench-{mappings}")
        client = client_for(make_user("operator", username=f"bench-operator-{mappings}"))
        overheads, totals, loads, applies, queries = [], [], [], [], []
        # Round 0 warms up (the audit chain's head row is created by the very first record).
        for index in range(rounds + 1):
            seed = standard_seed(services=0)
            target = service(ports=[{"client_port": 443, "server_port": 8443, "protocol": "TCP"}])
            seed["endpoint_services"] = [target]
            control.reset(seed)
            control.add_fault(action="latency", seconds=latency, match={"path": "^/v1/"})
            editor = Editor(client, account.pk, target["id"])
            timer.reset()
            editor.load()
            loads.append(list(timer.calls))
            ports = [(1000 + i, 2000 + i + index, "TCP") for i in range(mappings)]
            editor.submit("review", ports=ports)
            timer.reset()
            with CaptureQueriesContext(connection) as captured:
                response = editor.submit("apply", reason="benchmark", ports=ports)
            assert response.status_code == 302, response.content[:500]
            if index == 0:
                continue
            applies.append(list(timer.calls))
            queries.append(len(captured))
            totals.append(timer.server * 1000)
            overheads.append((timer.server - timer.spent) * 1000)
    return {"overheads": overheads, "totals": totals, "loads": loads, "applies": applies, "queries": queries}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    inprocess.configure(args.database_url)
    from django.db import connection

    print(
        f"database: {connection.vendor}; simulator latency {args.latency * 1000:.0f} ms; {args.rounds} rounds"
    )
    failed = False
    for mappings in (1, 200):
        result = scenario(args.rounds, args.latency, mappings)
        median = statistics.median(result["overheads"])
        p90 = statistics.quantiles(result["overheads"], n=10)[-1]
        load_calls = {tuple(calls) for calls in result["loads"]}
        apply_calls = {tuple(calls) for calls in result["applies"]}
        print(f"\n{mappings} port mapping(s):")
        print(f"  load: upstream calls per load {sorted(load_calls)}")
        print(
            f"  apply: upstream calls per apply {sorted(apply_calls)}; SQL queries {sorted(set(result['queries']))}"
        )
        print(f"  apply server time: median {statistics.median(result['totals']):.1f} ms")
        print(
            f"  apply minus upstream round trips: median {median:.1f} ms, p90 {p90:.1f} ms (budget < 30 ms)"
        )
        failed |= load_calls != {("GET",)} or apply_calls != {("GET", "PUT")} or median >= 30
        failed |= len(set(result["queries"])) != 1
    print("\nRESULT:", "within budget" if not failed else "OVER BUDGET")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
