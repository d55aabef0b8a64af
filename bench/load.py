"""The dashboard under load as deployed (gunicorn, PostgreSQL, Redis), printed as figures (issue 11).

Run from the repository root on an otherwise idle machine (PostgreSQL on 127.0.0.1:5432, Redis on
127.0.0.1:6379)::

    .venv/bin/python bench/load.py [--users 20] [--seconds 60] [--latency 0.1]
        [--workers N] [--threads N] [--database-url URL] [--cache-url URL]

It recreates the database, migrates it, starts the simulator in this process (25 services, every
API call answered after ``--latency``), an operator with a stored account, and gunicorn with
``gunicorn.conf.py`` (its worker and thread counts unless ``--workers``/``--threads``). Then:

1. one user, one page at a time (``--rounds`` each): the time a browser waits, and from the app's
   ``Server-Timing`` header (``VPCEPADMIN_SERVER_TIMING=1``) the server's time, its time waiting for
   the cloud, and the difference — what one page costs on the server, as deployed;
2. ``--users`` signed-in users, each loading the service list, a service page and an edit page in
   turn with no pause, for ``--seconds``: requests per second, median and p90 of every request, and
   the HTTP statuses. Budget: p90 < upstream latency + 200 ms, and no 5xx.

Exit status 1 when the budget is missed or a request failed.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import deployment, soak  # noqa: E402
from bench.soakkit import Tally  # noqa: E402

SERVICES = 25
TIMING = re.compile(r"cloud;dur=([0-9.]+).*db;dur=([0-9.]+).*app;dur=([0-9.]+)")
P90_MARGIN = 0.2  # seconds over the upstream latency


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=40, help="requests per page for the one-user figures")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every API call")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: gunicorn.conf.py's)")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/vpcepadmin_load")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/7")
    return parser.parse_args()


@dataclass
class Browser(soak.Operator):
    """A signed-in operator who browses: list, a service, its edit page; every request timed."""

    times: list[float] = field(default_factory=list)

    def timed(self, path: str, what: str) -> tuple[float, tuple[float, float, float]]:
        """Seconds the browser waited, and the server's (cloud, db, app) ms from Server-Timing."""
        started = time.perf_counter()
        response = self.request("GET", path, what)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            self.tally.error(f"{what}: HTTP {response.status_code}")
        found = TIMING.search(response.headers.get("Server-Timing", ""))
        server = (float(found[1]), float(found[2]), float(found[3])) if found else (0.0, 0.0, 0.0)
        return elapsed, server

    def pages(self) -> list[tuple[str, str]]:
        service = self.rng.choice(self.services)
        base = f"/credentials/{self.account}/services/"
        return [(base, "list"), (f"{base}{service}/", "service"), (f"{base}{service}/edit/", "edit")]

    def browse(self, until: float) -> None:
        while time.monotonic() < until:
            for path, what in self.pages():
                try:
                    self.times.append(self.timed(path, what)[0])
                except Exception as exc:  # counted, never silent
                    self.tally.error(f"{what}: {type(exc).__name__}")
                    time.sleep(0.2)


def one_user(browser: Browser, rounds: int) -> None:
    """Each page alone: what the browser waited, and the server's own time (all minus the cloud)."""
    print(f"\none user, {rounds} requests per page, medians in ms:")
    print(f"  {'page':<8} {'wait':>7} {'server':>7} {'cloud':>7} {'db':>6} {'server − cloud':>15}")
    for path, what in browser.pages():
        for _ in range(3):
            browser.timed(path, what)
        runs = [browser.timed(path, what) for _ in range(rounds)]
        wait = statistics.median(r[0] * 1000 for r in runs)
        cloud, db, app = (statistics.median(r[1][i] for r in runs) for i in range(3))
        own = statistics.median(r[1][2] - r[1][0] for r in runs)
        print(f"  {what:<8} {wait:7.1f} {app:7.1f} {cloud:7.1f} {db:6.1f} {own:15.1f}")


def many_users(browsers: list[Browser], seconds: float) -> float:
    """All browsers at once for ``seconds``; returns the wall time."""
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=b.browse, args=(until,), daemon=True) for b in browsers]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return time.monotonic() - started


def run(args: argparse.Namespace, scratch: Path) -> int:
    from tests import seeds
    from vpcepadmin.simulator.control import SimulatorControl
    from vpcepadmin.simulator.server import SimulatorServer

    env = deployment.deployment_env(args.database_url, args.cache_url, scratch / "var", read_timeout=10)
    env["VPCEPADMIN_SERVER_TIMING"] = "1"
    if args.threads:
        env["VPCEPADMIN_THREADS"] = str(args.threads)
    deployment.recreate_database(args.database_url)
    migrated = deployment.manage(env, "migrate", "--no-input", timeout=600)
    if migrated.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    seed = seeds.standard_seed(services=SERVICES)
    services = [service["id"] for service in seed["endpoint_services"]]
    gunicorn = None
    with SimulatorServer(seed=seed) as simulator:
        SimulatorControl(simulator.url).add_fault(
            action="latency", seconds=args.latency, match={"path": "^/v1/"}
        )
        accounts, codes = soak.create_people(env, simulator.url, sign_ins=args.users + 1)
        try:
            port = deployment.free_port()
            gunicorn = deployment.start_gunicorn(env, args.workers, port, scratch / "gunicorn.log")
            base = f"http://127.0.0.1:{port}"
            deployment.wait_healthy(base, gunicorn)
            tally = Tally()
            rng = random.Random(11)
            browsers = [
                Browser(f"u{i}", base, accounts[0], services, tally, random.Random(rng.random()), codes)
                for i in range(args.users + 1)
            ]
            for browser in browsers:
                browser.sign_in()
            print(
                f"gunicorn: {_plan(scratch / 'gunicorn.log', args)}; upstream latency {args.latency * 1000:.0f} ms"
            )
            one_user(browsers[-1], args.rounds)
            wall = many_users(browsers[:-1], args.seconds)
        finally:
            deployment.stop_process(gunicorn)
    return report(args, browsers[:-1], tally, wall)


def _plan(log: Path, args: argparse.Namespace) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    booted = text.count("Booting worker")
    threads = args.threads or os.environ.get("VPCEPADMIN_THREADS") or "gunicorn.conf.py's"
    return f"{booted} workers × {threads} threads"


def report(args: argparse.Namespace, browsers: list[Browser], tally: Tally, wall: float) -> int:
    times = sorted(t for browser in browsers for t in browser.times)
    if not times:
        print("no request completed")
        return 1
    p90 = times[int(len(times) * 0.9) - 1]
    budget = args.latency + P90_MARGIN
    statuses = Counter(tally.statuses)
    failures = sum(n for code, n in statuses.items() if code >= 500) + sum(tally.errors.values())
    print(f"\n{args.users} users for {wall:.0f} s, no pause between requests:")
    print(f"  {len(times)} requests, {len(times) / wall:.1f} per second")
    print(
        f"  median {statistics.median(times) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms (budget < {budget * 1000:.0f} ms)"
    )
    print(f"  statuses {dict(sorted(statuses.items()))}; errors {dict(tally.errors) or 'none'}")
    ok = p90 < budget and failures == 0
    print("\nRESULT:", "within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


def main() -> int:
    args = parse_args()
    scratch = deployment.scratch_dir("vpcepadmin-load-")
    try:
        return run(args, scratch)
    finally:
        deployment.drop_database(args.database_url)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
