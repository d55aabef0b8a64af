"""Where each page's time goes, and the page budgets of issue 11, printed as figures.

Run from the repository root (an otherwise idle machine; PostgreSQL and Redis as deployed)::

    .venv/bin/python bench/page_profile.py [--rounds 40] [--latency 0.05]
        [--database-url postgres://postgres@127.0.0.1:5432/vpcepadmin_pages]
        [--cache-url redis://127.0.0.1:6379/6]

Without ``--database-url`` a fresh SQLite file is used; with it, that database is dropped and
created again. The dashboard runs in this process (``bench/inprocess.py``) against the simulator,
which adds ``--latency`` to every API call. Each page is requested ``--rounds`` times after a
warm-up, as an operator (the audit pages as an admin); for each it prints the upstream calls, the
median server time, the median of server time minus the upstream round trips (what the budgets
limit), and the medians of where that time went: middleware, SQL (and the number of queries),
template rendering, the cloud client's own work, and the rest of the view.

Budgets (server time minus upstream, median): service list with 25 and with 1000 services, service
page and edit page ≤ 15 ms; review of 200 port mappings ≤ 40 ms; apply of 200 port mappings ≤ 30 ms;
audit list and service history of records with 200-mapping changes ≤ 50 ms. The upstream calls per
page must stay what they are (one GET per page, GET + PUT per apply, none for the audit list). A
service's Connections and Whitelist tabs (issue 12): one GET per page and the same number of SQL
queries with 30 or 500 connections or entries.
Exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import deployment, inprocess  # noqa: E402
from bench.inprocess import Profiler, Split, median  # noqa: E402

MAPPINGS = 200


@dataclass(frozen=True)
class Page:
    """A page to measure: its name, its budget (ms over upstream; None: for information only),
    the upstream calls it may make, and the function making one timed request."""

    name: str
    budget: float | None
    calls: tuple[str, ...]


@dataclass
class Figures:
    page: Page
    splits: list[Split]

    def med(self, attribute: str) -> float:
        return median([float(getattr(split, attribute)) for split in self.splits])

    @property
    def calls(self) -> set[tuple[str, ...]]:
        return {tuple(split.calls) for split in self.splits}

    @property
    def within(self) -> bool:
        budget_ok = self.page.budget is None or self.med("own") <= self.page.budget
        return budget_ok and self.calls == {self.page.calls}


class Bench:
    def __init__(self, rounds: int, latency: float) -> None:
        from tests.dashboard import client_for, make_account, make_user
        from vpcepadmin.simulator.control import SimulatorControl
        from vpcepadmin.simulator.server import SimulatorServer

        self.rounds, self.latency = rounds, latency
        self.profiler = Profiler()
        self.server = SimulatorServer(seed=self._seed(25))
        self.server.__enter__()
        self.control = SimulatorControl(self.server.url)
        self.account = make_account(self.server.url, name="Bench account")
        self.operator = client_for(make_user("operator", username="bench-operator"))
        self.admin = client_for(make_user("admin", username="bench-admin"))
        self.results: list[Figures] = []

    def close(self) -> None:
        self.server.__exit__(None, None, None)

    @staticmethod
    def _seed(count: int, ports: int = 1) -> dict[str, Any]:
        from tests.seeds import standard_seed

        seed = standard_seed(services=count)
        mappings = [
            {"client_port": 1000 + i, "server_port": 2000 + i, "protocol": "TCP"} for i in range(ports)
        ]
        seed["endpoint_services"][0]["ports"] = mappings
        return seed

    def reset(self, count: int, ports: int = 1) -> str:
        """The simulator with ``count`` services (the first with ``ports`` mappings); its id."""
        seed = self._seed(count, ports)
        self.control.reset(seed)
        self.control.add_fault(action="latency", seconds=self.latency, match={"path": "^/v1/"})
        service_id: str = seed["endpoint_services"][0]["id"]
        return service_id

    def run(
        self, page: Page, request: Callable[[int], Any], prepare: Callable[[int], None] | None = None
    ) -> None:
        splits = []
        for index in range(-3, self.rounds):
            if prepare is not None:
                prepare(index)
            with self.profiler.measure() as split:
                response = request(index)
            assert response.status_code in (200, 302), (
                page.name,
                response.status_code,
                response.content[:400],
            )
            if index >= 0:
                splits.append(split)
        self.results.append(Figures(page, splits))
        print_row(self.results[-1])

    def get(self, client: Any, url: str) -> Callable[[int], Any]:
        return lambda _index: client.get(url)


def browsing(bench: Bench) -> None:
    account = bench.account.pk
    service_id = bench.reset(25)
    get = ("GET",)
    bench.run(
        Page("service list, 25 services", 15, get),
        bench.get(bench.operator, f"/credentials/{account}/services/"),
    )
    detail = f"/credentials/{account}/services/{service_id}/"
    bench.run(Page("service page", 15, get), bench.get(bench.operator, detail))
    bench.run(Page("edit page", 15, get), bench.get(bench.operator, detail + "edit/"))
    bench.run(Page("overview", None, ()), bench.get(bench.operator, "/"))
    bench.run(
        Page("account card (fragment)", None, get),
        bench.get(bench.operator, f"/credentials/{account}/services/summary/"),
    )
    bench.run(Page("accounts list", None, ()), bench.get(bench.operator, "/credentials/"))
    bench.run(Page("account page", None, ()), bench.get(bench.operator, f"/credentials/{account}/"))
    bench.reset(1000)
    bench.run(
        Page("service list, 1000 services", 15, get),
        bench.get(bench.operator, f"/credentials/{account}/services/"),
    )


def editing(bench: Bench) -> str:
    """Edit page, review and apply of a service with 200 port mappings; returns its id."""
    from tests.editing import Editor

    service_id = bench.reset(3, ports=MAPPINGS)
    editor = Editor(bench.operator, bench.account.pk, service_id)
    bench.run(
        Page(f"edit page, {MAPPINGS} mappings", None, ("GET",)), lambda _i: bench.operator.get(editor.url)
    )

    def ports(index: int) -> list[tuple[int, int, str]]:
        return [(1000 + i, 3000 + i + (index % 2), "TCP") for i in range(MAPPINGS)]

    def load(_index: int) -> None:
        editor.load()

    bench.run(
        Page(f"review POST, {MAPPINGS} mappings", 40, ("GET",)),
        lambda index: editor.submit("review", ports=ports(index)),
        prepare=load,
    )

    def review(index: int) -> None:
        editor.load()
        editor.submit("review", ports=ports(index))

    bench.run(
        Page(f"apply POST, {MAPPINGS} mappings", 30, ("GET", "PUT")),
        lambda _index: editor.submit("apply", raw=apply_form(editor)),
        prepare=review,
    )
    return service_id


def apply_form(editor: Any) -> dict[str, str]:
    """What the review page's form sends: the signed version and reviewed values, and a reason."""
    reason = "OPS-4711: move the backend ports to the new pool, agreed with the service owners " * 2
    return {"version": editor.version, "reviewed": editor.reviewed, "reason": reason[:200], "action": "apply"}


def tabs(bench: Bench) -> list[str]:
    """A service's Connections and Whitelist tabs (issue 12): one upstream call per page and the same
    number of SQL queries whatever the service holds. Returns the pages whose queries vary."""
    from tests.seeds import stable_uuid

    account = bench.account.pk
    varying = []
    for tab, key in (("connections", "endpoints"), ("whitelist", "permissions")):
        queries = set()
        for count in (30, 500):
            seed = bench._seed(25)
            service_id = seed["endpoint_services"][0]["id"]
            seed[key] = [_item(key, service_id, stable_uuid("bench", key, n), n) for n in range(count)]
            bench.control.reset(seed)
            bench.control.add_fault(action="latency", seconds=bench.latency, match={"path": "^/v1/"})
            url = f"/credentials/{account}/services/{service_id}/{tab}/"
            bench.run(Page(f"{tab} tab, 25 of {count}", None, ("GET",)), bench.get(bench.operator, url))
            queries |= {split.queries for split in bench.results[-1].splits}
        if len(queries) > 1:
            varying.append(f"{tab} tab: SQL queries vary ({sorted(queries)})")
    return varying


def _item(key: str, service_id: str, item_id: str, n: int) -> dict[str, Any]:
    if key == "endpoints":
        return {
            "id": item_id,
            "service_id": service_id,
            "status": "pendingAcceptance",
            "domain_id": f"{n:032x}",
        }
    return {"service_id": service_id, "permission": f"iam:domain::{n:032x}", "permission_type": "domainId"}


def auditing(bench: Bench, service_id: str) -> None:
    from vpcepadmin.audit.models import AuditRecord

    account = bench.account.pk
    bench.run(Page("audit list (200-mapping records)", 50, ()), bench.get(bench.admin, "/audit/"))
    bench.run(
        Page("service history tab", 50, ("GET",)),
        bench.get(bench.operator, f"/credentials/{account}/services/{service_id}/?tab=history"),
    )
    newest = AuditRecord.objects.order_by("-seq").values_list("pk", flat=True).first()
    bench.run(Page("audit record (200 mappings)", None, ()), bench.get(bench.admin, f"/audit/{newest}/"))


HEADER = (
    f"{'page':<34} {'calls':<9} {'server':>7} {'−upstr':>7} {'budget':>7}   "
    f"{'mw':>5} {'sql':>5} {'(n)':>4} {'render':>6} {'client':>6} {'other':>6}"
)


def print_row(figures: Figures) -> None:
    page = figures.page
    calls = "/".join(sorted({"+".join(c) or "none" for c in figures.calls}))
    budget = f"≤{page.budget:g}" if page.budget is not None else "—"
    verdict = "" if figures.within else "  OVER"
    queries = "/".join(str(n) for n in sorted({split.queries for split in figures.splits}))
    print(
        f"{page.name:<34} {calls:<9} {figures.med('server'):7.1f} {figures.med('own'):7.1f} {budget:>7}   "
        f"{figures.med('middleware'):5.1f} {figures.med('sql'):5.1f} {queries:>4} {figures.med('template'):6.1f} "
        f"{figures.med('client'):6.1f} {figures.med('other'):6.1f}{verdict}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--database-url")
    parser.add_argument("--cache-url")
    args = parser.parse_args()
    if args.database_url:
        deployment.recreate_database(args.database_url)
    inprocess.configure(args.database_url, args.cache_url)
    from django.db import connection

    print(
        f"database: {connection.vendor}; cache: {'redis' if args.cache_url else 'local memory'}; "
        f"upstream latency {args.latency * 1000:.0f} ms; {args.rounds} rounds; medians in ms\n"
    )
    print(HEADER)
    bench = Bench(args.rounds, args.latency)
    try:
        browsing(bench)
        service_id = editing(bench)
        auditing(bench, service_id)
        varying = tabs(bench)
    finally:
        bench.close()
    over = [figures.page.name for figures in bench.results if not figures.within] + varying
    print("\nmw: middleware; sql (n): SQL time and queries; render: templates without their SQL;")
    print("client: the cloud client without the round trips; other: the rest of the view.")
    print("\nRESULT:", "within budget" if not over else "OVER BUDGET: " + "; ".join(over))
    if args.database_url:
        from django.db import connections

        connections.close_all()
        deployment.drop_database(args.database_url)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
