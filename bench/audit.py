"""Benchmark of the audit review budgets (issue 5) on PostgreSQL, printed as figures.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, user postgres):

    .venv/bin/python bench/audit.py --sizes 10000 1000000

It creates the database ``vpcepadmin_bench`` (dropped at the end unless ``--keep``), migrates it,
fills the audit log with realistic, correctly chained records (COPY, the chain computed in Python)
and, at each size in turn, measures:

- ``/audit/``: the first page, a filtered page, a deep page and the page of a service with 200 port
  mappings (plus more filters, for information): median and p90 of the whole request in the
  process, and the SQL queries per request. Budgets: every median < 50 ms, a fixed number of
  queries, and the ratio of the medians between the smallest and the largest size < 1.5;
- the CSV and JSON exports of every record: records per second (budget ≥ 20 000) and the process's
  resident memory before and at its peak while streaming (budget: flat — the same growth at every
  size);
- ``verify_audit``: seconds and records per second (budget ≥ 50 000), also with one process.

Records are of realistic size (``bench.records``): ``--big-share`` of the services (default 5 %)
have 200 port mappings, carried in full by their snapshots and by every change of their mappings,
a fifth of the reasons are long (up to about 1000 characters), and every record has the summary and
diff the application derives and stores.

Exit status 1 when a budget is missed. ``--rounds`` sets the requests per page (default 30).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import records  # noqa: E402
from bench.measure import PeakRss, Timing, time_requests  # noqa: E402

ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
BUDGETED = ("first page", "filtered page", "deep page", "big service")
PAGE_BUDGET_MS, RATIO_BUDGET, EXPORT_BUDGET, VERIFY_BUDGET = 50.0, 1.5, 20_000, 50_000


def configure(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    os.environ.update(
        {
            "DATABASE_URL": admin_url.rsplit("/", 1)[0] + "/" + name,
            "VPCEPADMIN_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "VPCEPADMIN_FERNET_KEYS": "YmVuY2gtb25seS1mZXJuZXQta2V5LTAwMDAwMDAwMDA=",
            "VPCEPADMIN_ALLOWED_HOSTS": "testserver",
            "VPCEPADMIN_SSL_REDIRECT": "0",
            "VPCEPADMIN_SECURE_COOKIES": "0",
            "VPCEPADMIN_LOG_LEVEL": "WARNING",
            "VPCEPADMIN_VAR_DIR": tempfile.mkdtemp(prefix="vpcepadmin-bench-"),
            "DJANGO_SETTINGS_MODULE": "vpcepadmin.settings",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def drop(admin_url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def make_world(big_share: float) -> records.World:
    """Users (the actors and a viewer who reads) and five accounts, one of them production."""
    from django.contrib.auth.models import Group, User

    from vpcepadmin.credentials.models import CloudCredential, Environment

    actors = {name: User.objects.create_user(name).pk for name in records.ACTORS}
    User.objects.create_user("auditor").groups.add(Group.objects.get(name="viewer"))
    accounts = []
    for index in range(5):
        environment = Environment.PRODUCTION if index == 0 else Environment.STAGING
        account = CloudCredential(
            name=f"Account {index}", cloud="otc", region="eu-de", project_id=uuid.uuid4().hex,
            access_key=f"AKBENCH{index:013d}", environment=environment,
        )  # fmt: skip
        account.set_secret("bench-secret")
        account.save()
        accounts.append({"id": account.pk, "name": account.name, "cloud": "otc", "region": "eu-de",
                         "project_id": account.project_id})  # fmt: skip
    return records.World.make(actors, accounts, big_share=big_share)


def chain_head() -> tuple[int, str, int]:
    """Where the generated records continue the chain (seq, hash, next id): after the records that
    setting up the world wrote itself (creating users is a security event)."""
    from django.db.models import Max

    from vpcepadmin.audit.chain import GENESIS_HASH
    from vpcepadmin.audit.models import AuditChainHead, AuditRecord

    head = AuditChainHead.objects.filter(id=1).first()
    last_id = AuditRecord.objects.aggregate(last=Max("id"))["last"] or 0
    return (head.seq, head.hash, last_id + 1) if head is not None else (0, GENESIS_HASH, last_id + 1)


def grow(chain: records.Chain, size: int) -> float:
    """Append records up to ``size`` (COPY), move the chain head, refresh the planner's statistics."""
    from django.db import connection

    started = time.perf_counter()
    # Measuring writes records too (signing the reader in is a security event): continue after them.
    chain.seq, chain.last_hash, chain.next_id = chain_head()
    with connection.cursor() as cursor:
        columns = ", ".join(records.COLUMNS)
        with cursor.copy(f"COPY audit_auditrecord ({columns}) FROM STDIN") as copy:
            for row in chain.rows(size - chain.seq):
                copy.write_row(row)
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('audit_auditrecord', 'id'), %s)", [chain.next_id - 1]
        )
        cursor.execute(
            "INSERT INTO audit_auditchainhead (id, seq, hash) VALUES (1, %s, %s) "
            "ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
            [chain.seq, chain.last_hash],
        )
        cursor.execute("VACUUM ANALYZE audit_auditrecord")
        # The load leaves gigabytes of dirty pages: write them now, not while pages are timed.
        cursor.execute("CHECKPOINT")
    return time.perf_counter() - started


def table_mb() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('audit_auditrecord')")
        return float(cursor.fetchone()[0]) / 2**20


def page_urls(world: records.World, size: int) -> dict[str, str]:
    from vpcepadmin.audit.models import AuditRecord

    middle = AuditRecord.objects.get(seq=size // 2)
    ticket = middle.reason.split(":")[0] if middle.reason.startswith(("CHG-", "INC-")) else "CHG-00001"
    day = middle.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
    service = world.services[7]
    return {
        "first page": "/audit/",
        # A full page at every size (the pages compared must show as many rows).
        "filtered page": "/audit/?actor=alice&action=modify_endpoint_service&outcome=applied",
        "service + outcome": f"/audit/?service={service['id']}&outcome=applied",
        "deep page": "/audit/?before=100",
        # Every row a change with 200 port mappings (the rows once decoded them all) — with
        # ``--big-share 0`` the page of an ordinary service.
        "big service": f"/audit/?service={(world.big_services or world.services)[0]['id']}",
        "actor + outcome": "/audit/?actor=alice&outcome=rejected",
        "account + action": f"/audit/?account={world.accounts[1]['id']}&action=update_credential",
        "service by name": f"/audit/?service={service['name']}",
        "free text, rare": f"/audit/?q={ticket}",
        "free text, common": "/audit/?q=release",
        "one day": f"/audit/?since={day:%Y-%m-%dT%H:%M}&until={day + timedelta(days=1):%Y-%m-%dT%H:%M}",
        "deep, filtered": "/audit/?outcome=applied&before=200",
    }


@dataclass
class SizeFigures:
    size: int
    build_s: float
    pages: dict[str, Timing] = field(default_factory=dict)
    exports: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # s, baseline MB, peak MB
    verify: dict[int, float] = field(default_factory=dict)  # workers → seconds
    detail: Timing | None = None


def measure_export(client: Any, kind: str) -> tuple[float, float, float]:
    with PeakRss() as memory:
        started = time.perf_counter()
        response = client.get(f"/audit/export.{kind}")
        for _chunk in response.streaming_content:
            pass
        elapsed = time.perf_counter() - started
    return elapsed, memory.baseline, memory.peak


def measure_verify(workers: int) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    out = io.StringIO()
    call_command("verify_audit", workers=workers, stdout=out)
    elapsed = time.perf_counter() - started
    assert "Audit chain verified" in out.getvalue(), out.getvalue()
    return elapsed


def measure(size: int, world: records.World, chain: records.Chain, rounds: int) -> SizeFigures:
    from django.contrib.auth.models import User
    from django.test import Client

    from vpcepadmin.audit.models import AuditRecord

    print(f"\n== {size:,} records", flush=True)
    figures = SizeFigures(size, grow(chain, size))
    print(f"built in {figures.build_s:.1f} s; the table takes {table_mb():,.0f} MB", flush=True)
    client = Client()
    client.force_login(User.objects.get(username="auditor"))
    for name, url in page_urls(world, size).items():
        figures.pages[name] = time_requests(client, url, rounds)
    for kind in ("csv", "json"):
        figures.exports[kind] = measure_export(client, kind)
    for workers in (0, 1):
        figures.verify[workers] = measure_verify(workers)
    middle = AuditRecord.objects.get(seq=size // 2)
    figures.detail = time_requests(client, f"/audit/{middle.pk}/", rounds)
    print_size(figures)
    return figures


def print_size(figures: SizeFigures) -> None:
    size = figures.size
    for name, timing in figures.pages.items():
        mark = "budget" if name in BUDGETED else "info  "
        print(f"  {mark} {name:18} median {timing.median:6.1f} ms  p90 {timing.p90:6.1f} ms  "
              f"queries {sorted(timing.queries)}  {timing.url}")  # fmt: skip
    if figures.detail is not None:
        print(f"  info   {'record page':18} median {figures.detail.median:6.1f} ms  "
              f"queries {sorted(figures.detail.queries)}")  # fmt: skip
    for kind, (seconds, baseline, peak) in figures.exports.items():
        print(f"  export {kind:4} {size / seconds:10,.0f} records/s ({seconds:.1f} s); "
              f"RSS {baseline:.0f} MB before, peak {peak:.0f} MB (+{peak - baseline:.1f} MB)")  # fmt: skip
    for workers, seconds in figures.verify.items():
        label = "auto workers" if workers == 0 else f"{workers} process"
        print(f"  verify_audit ({label}): {seconds:.1f} s, {size / seconds:,.0f} records/s")


def verdicts(all_figures: list[SizeFigures]) -> list[str]:
    """The budgets missed (empty: all met)."""
    missed = []
    small, large = all_figures[0], all_figures[-1]
    for figures in all_figures:
        for name in BUDGETED:
            if figures.pages[name].median >= PAGE_BUDGET_MS:
                missed.append(f"{name} at {figures.size:,}: median {figures.pages[name].median:.1f} ms")
        for kind, (seconds, _, _) in figures.exports.items():
            if figures.size / seconds < EXPORT_BUDGET:
                missed.append(f"export {kind} at {figures.size:,}: {figures.size / seconds:,.0f} records/s")
        if figures.size / figures.verify[0] < VERIFY_BUDGET and figures.size >= 100_000:
            missed.append(
                f"verify_audit at {figures.size:,}: {figures.size / figures.verify[0]:,.0f} records/s"
            )
    print(f"\n== from {small.size:,} to {large.size:,} records")
    for name in BUDGETED:
        ratio = large.pages[name].median / small.pages[name].median
        queries = small.pages[name].queries | large.pages[name].queries
        print(f"  {name:14} ratio of medians {ratio:.2f}; queries per request {sorted(queries)}")
        if ratio >= RATIO_BUDGET:
            missed.append(f"{name}: ratio {ratio:.2f}")
        if len(queries) != 1:
            missed.append(f"{name}: query count not fixed {sorted(queries)}")
    for kind in small.exports:
        growth = [f.exports[kind][2] - f.exports[kind][1] for f in (small, large)]
        print(f"  export {kind}: RSS growth while streaming {growth[0]:.1f} MB → {growth[1]:.1f} MB")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--big-share", type=float, default=records.BIG_SHARE, help="share of services with 200 port mappings"
    )
    parser.add_argument("--admin-url", default=ADMIN_URL, help="a PostgreSQL URL allowed to create databases")
    parser.add_argument("--name", default="vpcepadmin_bench", help="the database to create (and drop)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    configure(args.admin_url, args.name)
    try:
        world = make_world(args.big_share)
        chain = records.Chain(world, *chain_head())
        import importlib.util

        print(
            f"orjson accelerator: {'yes' if importlib.util.find_spec('orjson') else 'no'}; CPUs: {os.cpu_count()}; "
            f"{len(world.big_services)} of {len(world.services)} services with {records.BIG_PORTS} port mappings; "
            f"{records.LONG_REASONS:.0%} of the reasons long"
        )
        all_figures = [measure(size, world, chain, args.rounds) for size in sorted(args.sizes)]
        missed = verdicts(all_figures)
    finally:
        if not args.keep:
            drop(args.admin_url, args.name)
    print("\nall budgets met" if not missed else "\nbudgets missed:\n  " + "\n  ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
