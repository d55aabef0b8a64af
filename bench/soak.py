"""Soak of the edit flow's guarantees under faults, bounded, printed as figures.

Run from the repository root (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379)::

    .venv/bin/python bench/soak.py [--seconds 180] [--clients 6] [--workers 3] [--fault-rate 0.1]
        [--database-url postgres://postgres@127.0.0.1:5432/vpcepadmin_soak]
        [--cache-url redis://127.0.0.1:6379/5] [--keep]

It recreates the database, migrates it, starts the simulator in this process (four services, each
description holding a counter ``n=<int>``) with faults on about ``--fault-rate`` of the PUTs (500 and
503 with and without applying, 400, resets before and after, apply-then-timeout, latency), an operator
and two stored AK/SK accounts for the same project, and gunicorn with ``--workers``. ``--clients``
signed-in browsers (half on each account) then loop for ``--seconds``: load a service's edit form,
increment the counter in the description (read-modify-write), review, apply. ``manage.py
reconcile_audit`` runs every 30 s, and once more when every attempt is old enough to be settled.

Printed: PUTs received by the simulator, attempts, outcome records (one per attempt), outcomes by
kind, undetermined, conflicts, busy answers, HTTP statuses (5xx must be 0), and lost updates: each
service's final counter in the cloud must equal the number of attempts recorded as applied.
``verify_audit`` must pass. Exit status 1 when outcomes != attempts, lost updates != 0 or any 5xx.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests  # noqa: TID251  (a browser of the dashboard, not a cloud call)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import deployment, pages, soakkit  # noqa: E402
from bench.pages import Form  # noqa: E402
from bench.soakkit import Tally  # noqa: E402

SERVICES = 4
RECONCILE_EVERY = 30.0
TIMEOUT = (5.0, 90.0)  # per request: connect, read (an apply may wait for another change first)
OPERATOR, PASSWORD = "soak-operator", "soak-operator-password-0123456789"
SECOND_ACCESS_KEY = "AKSOAKSECOND00000002"
SECOND_SECRET_KEY = "SKsoakSecondSecretKey00000000000000000002"
SERVICE_PATH = re.compile(r"/vpc-endpoint-services/([0-9a-f-]{36})$")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--fault-rate", type=float, default=0.1, help="share of PUTs that meet a fault")
    parser.add_argument(
        "--get-fault-rate",
        type=float,
        default=0.02,
        help="share of GETs of a service answered 500 (re-reads fail: attempts left for reconcile_audit)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=3.0,
        help="the cloud client's read timeout (apply_then_timeout +1 s)",
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/vpcepadmin_soak")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--keep", action="store_true", help="keep the database (and the scratch directory)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the clients' choices")
    return parser.parse_args()


# --- set-up -----------------------------------------------------------------------------------------


def soak_seed() -> dict[str, Any]:
    """The standard test account with a second access key, and SERVICES services with a counter."""
    from tests import seeds

    document = seeds.standard_seed(services=SERVICES)
    document["access_keys"].append(
        {"access": SECOND_ACCESS_KEY, "secret": SECOND_SECRET_KEY, "domain_name": seeds.DOMAIN_NAME}
    )
    for service in document["endpoint_services"]:
        service["description"] = "soak n=0"
    return document


SETUP = """
import json
from django.contrib.auth.models import Group, User
from vpcepadmin import roles
from vpcepadmin.credentials.models import AuthMethod, CloudCredential, Environment
from vpcepadmin.mfa.services import issue_recovery_codes
spec = json.loads({spec!r})
user = User.objects.create_user(spec["username"], password=spec["password"])
user.groups.add(Group.objects.get(name=roles.OPERATOR))
codes = issue_recovery_codes(user, count=spec["sign_ins"])
pks = []
for account in spec["accounts"]:
    credential = CloudCredential(
        name=account["name"], cloud="otc", region=spec["region"], project_id=spec["project_id"],
        auth_method=AuthMethod.AKSK, access_key=account["access"], vpcep_endpoint=spec["url"],
        iam_endpoint=spec["url"], environment=Environment.STAGING,
    )
    credential.set_secret(account["secret"])
    credential.save()
    pks.append(credential.pk)
print({mark!r} + json.dumps({{"accounts": pks, "codes": codes}}))
"""

BUDGET = """
import json
from django.conf import settings
found = {{name: getattr(settings, name, None) for name in ("RECONCILE_AFTER", "EDIT_APPLY_DEADLINE")}}
try:
    from vpcepadmin.budget import Budget
    found["reconcile_after"] = Budget.of(settings).reconcile_after
except Exception:
    pass
print({mark!r} + json.dumps(found))
"""


def create_people(env: dict[str, str], simulator_url: str, sign_ins: int) -> tuple[list[int], list[str]]:
    """The operator and two stored AK/SK accounts of one project; returns the accounts' pks and
    ``sign_ins`` recovery codes of the operator (one per client's sign-in: operators sign in with a
    second factor, and an authenticator app's code serves one sign-in per 30 seconds)."""
    from tests import seeds

    spec = {
        "username": OPERATOR,
        "password": PASSWORD,
        "region": seeds.REGION,
        "project_id": seeds.PROJECT_ID,
        "url": simulator_url,
        "sign_ins": sign_ins,
        "accounts": [
            {"name": "Soak account A", "access": seeds.ACCESS_KEY, "secret": seeds.SECRET_KEY},
            {"name": "Soak account B", "access": SECOND_ACCESS_KEY, "secret": SECOND_SECRET_KEY},
        ],
    }
    made = deployment.manage_json(env, SETUP.format(spec=json.dumps(spec), mark=deployment.MARK))
    return list(made["accounts"]), list(made["codes"])


def settle_after(env: dict[str, str]) -> float:
    """Seconds after which an attempt may be settled: the reconciler's window when the settings have
    one (``Budget.reconcile_after`` / ``RECONCILE_AFTER``), else the apply deadline, else 10 s."""
    found = deployment.manage_json(env, BUDGET.format(mark=deployment.MARK))
    for name in ("reconcile_after", "RECONCILE_AFTER", "EDIT_APPLY_DEADLINE"):
        if found.get(name):
            return float(found[name])
    return 10.0


# --- the clients ------------------------------------------------------------------------------------


@dataclass
class Operator:
    """One browser: signed in, editing the soaked services of one stored account in a loop."""

    name: str
    base: str
    account: int
    services: list[str]
    tally: Tally
    rng: random.Random
    recovery_codes: list[str]  # shared by the clients; each sign-in uses one up

    def __post_init__(self) -> None:
        self.session = requests.Session()

    def request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        """One request, its status counted (5xx with its request id)."""
        response = self.session.request(
            method, self.base + path, timeout=TIMEOUT, allow_redirects=False, **kwargs
        )
        self.tally.status(
            response.status_code, f"{what} {method} {path}", response.headers.get("X-Request-ID", "")
        )
        return response

    def sign_in(self) -> None:
        page = self.request("GET", "/accounts/login/", "login")
        form = next(f for f in pages.forms_of(page.text) if f.value("csrfmiddlewaretoken"))
        data = form.replaced(username=OPERATOR, password=PASSWORD, next="/")
        answer = self.request("POST", "/accounts/login/", "login", data=data)
        if answer.status_code != 302:
            raise RuntimeError(f"{self.name}: sign-in answered {answer.status_code}")
        page = self.request("GET", "/accounts/mfa/verify/", "login")
        form = next(f for f in pages.forms_of(page.text) if f.value("csrfmiddlewaretoken"))
        data = form.replaced(otp_token=self.recovery_codes.pop())
        answer = self.request("POST", "/accounts/mfa/verify/", "login", data=data)
        if answer.status_code != 302:
            raise RuntimeError(f"{self.name}: the second factor answered {answer.status_code}")

    def run(self, until: float) -> None:
        """Edit until the monotonic clock reaches ``until`` (the edit in progress then finishes)."""
        try:
            self.sign_in()
        except (requests.RequestException, RuntimeError, StopIteration) as exc:
            self.tally.error(f"sign-in: {type(exc).__name__}")
            return
        while time.monotonic() < until:
            try:
                self.edit_once(self.rng.choice(self.services))
            except requests.RequestException as exc:
                self.tally.error(f"client: {type(exc).__name__}")
                time.sleep(0.5)
            except Exception as exc:  # a bug of this harness must not end the client silently
                self.tally.error(f"harness: {type(exc).__name__}: {exc}")
                time.sleep(0.5)

    def edit_once(self, service_id: str) -> None:
        """Load, increment the counter, review, apply; each step's result counted."""
        edit = f"/credentials/{self.account}/services/{service_id}/edit/"
        loaded = self.request("GET", edit, "load")
        form = self._edit_form(loaded)
        if form is None:
            self.tally.step(f"load: {_problem(loaded)}")
            time.sleep(0.2)
            return
        self.tally.step("load: ok")
        _, description = soakkit.bump_counter(form.value("description") or "")
        review = self.request(
            "POST", edit, "review", data=form.replaced(description=description, action="review")
        )
        reviewed = next((f for f in pages.forms_of(review.text) if f.value("reviewed")), None)
        if review.status_code != 200 or reviewed is None:
            self.tally.step(f"review: {_problem(review)}")
            time.sleep(0.2)
            return
        self.tally.step("review: ok")
        reason = f"soak {self.name}: {description}"
        applied = self.request("POST", edit, "apply", data=reviewed.replaced(action="apply", reason=reason))
        detail = f"/credentials/{self.account}/services/{service_id}/"
        outcome = pages.classify_apply(
            applied.status_code, applied.headers.get("Location", ""), applied.text, detail
        )
        self.tally.step(f"apply: {outcome}")

    @staticmethod
    def _edit_form(response: requests.Response) -> Form | None:
        if response.status_code != 200:
            return None
        return next((f for f in pages.forms_of(response.text) if f.id == "edit-form"), None)


def _problem(response: requests.Response) -> str:
    """A short name for a page that is not the one expected."""
    if response.status_code != 200:
        return f"http_{response.status_code}"
    texts = [text for kind, text in pages.alerts(response.text) if kind in ("danger", "warning")]
    return ("problem: " + texts[0][:60]) if texts else "unexpected page"


# --- the reconciler ---------------------------------------------------------------------------------


class Reconciler(threading.Thread):
    """``manage.py reconcile_audit`` every RECONCILE_EVERY seconds until stopped."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(name="reconciler", daemon=True)
        self.env = env
        self.stopped = threading.Event()
        self.runs: list[tuple[int, str]] = []

    def run(self) -> None:
        while not self.stopped.wait(RECONCILE_EVERY):
            self.runs.append(run_reconcile(self.env))

    def failures(self) -> int:
        return sum(1 for code, _ in self.runs if code != 0)


def run_reconcile(env: dict[str, str]) -> tuple[int, str]:
    """One run: its exit status and its last line (or its error)."""
    result = deployment.manage(env, "reconcile_audit", timeout=240)
    lines = (result.stdout.strip() or result.stderr.strip() or "(no output)").splitlines()
    return result.returncode, lines[-1] if result.returncode == 0 else " | ".join(lines[-3:])


# --- the run ----------------------------------------------------------------------------------------


@dataclass
class Run:
    """What happened, for the report."""

    tally: Tally
    tap: soakkit.PutTap
    state: dict[str, Any]
    services: list[str]
    reconciler: Reconciler
    final_reconcile: tuple[int, str]
    waited: float
    gunicorn_log: Path


def soak(args: argparse.Namespace, scratch: Path) -> int:
    """Set everything up, soak, settle, report; the exit status."""
    from vpcepadmin.simulator.control import SimulatorControl
    from vpcepadmin.simulator.server import SimulatorServer

    env = deployment.deployment_env(args.database_url, args.cache_url, scratch / "var", args.read_timeout)
    deployment.recreate_database(args.database_url)
    migrated = deployment.manage(env, "migrate", "--no-input", timeout=600)
    if migrated.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
    seed = soak_seed()
    services = [service["id"] for service in seed["endpoint_services"]]
    log = scratch / "gunicorn.log"
    with SimulatorServer(seed=seed) as simulator:
        tap = soakkit.PutTap(simulator.app.journal, SERVICE_PATH)
        control = SimulatorControl(simulator.url)
        accounts, codes = create_people(env, simulator.url, sign_ins=args.clients)
        after = settle_after(env)
        for fault in soakkit.put_faults(args.fault_rate, SERVICE_PATH.pattern, args.read_timeout):
            control.add_fault(**fault)
        for fault in soakkit.get_faults(args.get_fault_rate, SERVICE_PATH.pattern):
            control.add_fault(**fault)
        reconciler = Reconciler(env)
        gunicorn = None
        try:
            port = deployment.free_port()
            gunicorn = deployment.start_gunicorn(env, args.workers, port, log)
            base = f"http://127.0.0.1:{port}"
            deployment.wait_healthy(base, gunicorn)
            print(
                f"soak: {args.seconds:g} s, {args.clients} clients on {len(accounts)} accounts of one project, "
                f"{args.workers} gunicorn workers, {SERVICES} services; faults on {args.fault_rate:g} of PUTs, "
                f"500 on {args.get_fault_rate:g} of service GETs; attempts settle after {after:g} s",
                flush=True,
            )
            reconciler.start()
            tally = drive(args, base, accounts, services, codes)
        finally:
            reconciler.stopped.set()
            deployment.stop_process(gunicorn)
            control.clear_faults()  # the last reconciliation must be able to read every service
        reconciler.join(timeout=300)
        waited = wait_until_settleable(args.database_url, after)
        final = run_reconcile(env)
        state = control.state()
    run = Run(tally, tap, state, services, reconciler, final, waited, log)
    return report(args, env, run)


def drive(
    args: argparse.Namespace, base: str, accounts: list[int], services: list[str], codes: list[str]
) -> Tally:
    """Run the clients for ``--seconds``; the edits in progress then finish (each request bounded)."""
    tally = Tally()
    rng = random.Random(args.seed)
    operators = [
        Operator(
            f"c{i}", base, accounts[i % len(accounts)], services, tally, random.Random(rng.random()), codes
        )
        for i in range(args.clients)
    ]
    until = time.monotonic() + args.seconds
    threads = [threading.Thread(target=o.run, args=(until,), name=o.name, daemon=True) for o in operators]
    for thread in threads:
        thread.start()
    progress = threading.Thread(target=_progress, args=(tally, until, threads), daemon=True)
    progress.start()
    limit = until + 3 * TIMEOUT[1] + 30  # the last edit: at most three requests
    for thread in threads:
        thread.join(timeout=max(0.0, limit - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        tally.error(f"clients still running at the time limit: {', '.join(stuck)}")
    return tally


def _progress(tally: Tally, until: float, threads: list[threading.Thread]) -> None:
    """A line every 30 s, so that a long soak shows it is alive."""
    while any(thread.is_alive() for thread in threads):
        time.sleep(min(30.0, max(1.0, until - time.monotonic())))
        with tally.lock:
            applies = sum(n for step, n in tally.steps.items() if step.startswith("apply:"))
            fivexx = sum(n for code, n in tally.statuses.items() if code >= 500)
        left = max(0.0, until - time.monotonic())
        print(f"  … {applies} applies, {fivexx} 5xx, {left:.0f} s left", flush=True)
        if left <= 0:
            return


def wait_until_settleable(database_url: str, after: float) -> float:
    """Sleep until the newest attempt is older than ``after`` (plus a margin); seconds slept."""
    age = soakkit.newest_attempt_age(database_url)
    wait = 0.0 if age is None else max(0.0, after + 2.0 - age)
    if wait:
        print(f"waiting {wait:.0f} s until every attempt can be settled …", flush=True)
        time.sleep(wait)
    return wait


# --- the report -------------------------------------------------------------------------------------


def report(args: argparse.Namespace, env: dict[str, str], run: Run) -> int:
    """Print the figures; 1 when a guarantee was broken."""
    counters = soakkit.final_counters(run.state, run.services)
    figures = soakkit.collect(args.database_url, counters)
    verified = deployment.manage(env, "verify_audit", timeout=600)
    tally = run.tally
    steps = tally.steps
    applies = sum(n for step, n in steps.items() if step.startswith("apply:"))
    fivexx = tally.server_errors
    put_statuses = ", ".join(f"{code or 'reset'}: {n}" for code, n in sorted(run.tap.statuses.items()))
    failed_sends = figures.outcomes.get("failed", 0)
    print("\n=== soak summary ===")
    print(f"PUTs received by the simulator: {run.tap.total}  ({put_statuses})")
    print(f"attempts (audit 'attempted'): {figures.attempts}")
    print(f"outcome records settling an attempt: {figures.outcome_total}  (must equal attempts)")
    print(
        "attempts with 0 / 1 / ≥2 settling outcomes: "
        f"{figures.settling.get(0, 0)} / {figures.settling.get(1, 0)} / {figures.settling.get(2, 0)}"
    )
    print(f"  plus 'unknown' records linked to attempts (they settle nothing): {figures.linked_unknown}")
    if figures.orphans:
        print(f"  outcome records whose attempt does not exist: {figures.orphans}")
    kinds = (
        "applied", "rejected", "failed", "reconciled_applied", "reconciled_not_applied", "undetermined", "unknown",
    )  # fmt: skip
    by_kind = {**figures.outcomes, "unknown": figures.linked_unknown}
    print("outcomes by kind: " + ", ".join(f"{k} {by_kind.get(k, 0)}" for k in kinds))
    others = sorted(set(figures.outcomes) - set(kinds))
    if others:
        print("  other outcome kinds: " + ", ".join(f"{k} {figures.outcomes[k]}" for k in others))
    print(f"undetermined: {figures.outcomes.get('undetermined', 0)}")
    print(f"PUTs vs attempts not sent ('failed'): {run.tap.total} = {figures.attempts} - {failed_sends}? "
          f"{'yes' if run.tap.total == figures.attempts - failed_sends else 'NO'}")  # fmt: skip
    print(f"conflicts: {figures.conflicts} records; {steps.get('apply: conflict', 0)} conflict pages")
    print(f"busy answers: {steps.get('apply: busy', 0)}")
    print(f"applies by the page: {applies} — " + _counts(steps, "apply: "))
    print("loads: " + _counts(steps, "load: ") + " | reviews: " + _counts(steps, "review: "))
    print("HTTP statuses: " + ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses.items())))
    print(f"5xx: {fivexx}")
    for sample in tally.samples:
        print(f"  {sample}")
    if tally.errors:
        print("client errors: " + ", ".join(f"{k}: {n}" for k, n in sorted(tally.errors.items())))
    _report_services(figures)
    print(f"LOST UPDATES: {figures.lost_updates}")
    runs = run.reconciler.runs
    print(f"reconcile_audit: {len(runs)} periodic run(s), {run.reconciler.failures()} failed; "
          f"waited {run.waited:.0f} s, last run (exit {run.final_reconcile[0]}): {run.final_reconcile[1]}")  # fmt: skip
    verify_line = (verified.stdout.strip() or verified.stderr.strip() or "(no output)").splitlines()
    print(f"verify_audit (exit {verified.returncode}): {verify_line[-1] if verify_line else ''}")
    _report_gunicorn(run.gunicorn_log)
    failures = []
    if figures.outcome_total != figures.attempts or figures.settling.get(0) or figures.settling.get(2):
        failures.append("outcomes != attempts")
    if figures.lost_updates:
        failures.append(f"lost updates: {figures.lost_updates}")
    if fivexx:
        failures.append(f"5xx: {fivexx}")
    if verified.returncode != 0:
        failures.append("verify_audit failed")
    print("\nRESULT: " + ("FAILED — " + "; ".join(failures) if failures else "ok"))
    return 1 if failures else 0


def _counts(steps: Counter[str], prefix: str) -> str:
    found = sorted(
        ((k.removeprefix(prefix), n) for k, n in steps.items() if k.startswith(prefix)), key=lambda i: -i[1]
    )
    return ", ".join(f"{k} {n}" for k, n in found) or "none"


def _report_services(figures: soakkit.Figures) -> None:
    for check in figures.services:
        line = (
            f"  service {check.service_id}: cloud n={check.final_n}, applied increments {len(check.applied)}, "
            f"unsettled or undetermined {check.undetermined}"
        )
        if check.lost:
            line += f"  MISMATCH ({check.lost})"
        if check.duplicates:
            line += f"; n written by several applied attempts: {check.duplicates[:10]}"
        print(line)


def _report_gunicorn(log: Path) -> None:
    """Worker timeouts and tracebacks in gunicorn's log (there should be none)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return
    timeouts, tracebacks = text.count("WORKER TIMEOUT"), text.count("Traceback")
    if timeouts or tracebacks:
        print(f"gunicorn log: {timeouts} worker timeout(s), {tracebacks} traceback(s); the first:")
        first = text[text.find("Traceback") :] if tracebacks else text[text.find("WORKER TIMEOUT") - 200 :]
        print("    " + "\n    ".join(first.splitlines()[:40]))


def main() -> int:
    args = parse_args()
    scratch = deployment.scratch_dir("vpcepadmin-soak-")
    try:
        return soak(args, scratch)
    finally:
        if not args.keep:
            deployment.drop_database(args.database_url)
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"kept: database {args.database_url}, scratch {scratch}")


if __name__ == "__main__":
    sys.exit(main())
