"""Exactly one true outcome whatever crashes: a deployment (gunicorn on its own PostgreSQL database)
is killed mid-PUT, and a database session is terminated mid-PUT (issue 9, D1 and D3).

These run in both suite runs (SQLite and PostgreSQL): the deployment always has a PostgreSQL
database of its own, as production does.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from bench import deployment, pages
from tests import mfakit, seeds

DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/vpcepadmin_crash_{os.getpid()}"
OPERATOR, PASSWORD = "crash-operator", "crash-operator-password-1"
AUTHENTICATOR = mfakit.Authenticator.new()  # the operator's phone: operators sign in with a second factor
# A small time budget so that an attempt is old enough to settle within a test (reconcile after 17 s).
BUDGET = {
    "VPCEPADMIN_WORKER_TIMEOUT": "14",
    "VPCEPADMIN_EDIT_APPLY_DEADLINE": "4",
    "VPCEPADMIN_EDIT_LOCK_TIMEOUT": "1",
    "VPCEPADMIN_CLOUD_DEADLINE": "3",
}
RECONCILE_AFTER = 14 + 3
SETUP = """
import json
from django.contrib.auth.models import Group, User
from vpcepadmin.credentials.models import AuthMethod, CloudCredential, Environment
spec = json.loads({spec!r})
user = User.objects.create_user(spec["username"], password=spec["password"])
user.groups.add(Group.objects.get(name="operator"))
from vpcepadmin.mfa.models import AuthenticatorDevice
device = AuthenticatorDevice(user=user, name="phone", confirmed=True)
device.set_key(bytes.fromhex(spec["totp_key"]))
device.save()
account = CloudCredential(name="Crash account", cloud="otc", region=spec["region"], project_id=spec["project"],
    auth_method=AuthMethod.AKSK, access_key=spec["access"], vpcep_endpoint=spec["url"], iam_endpoint=spec["url"],
    environment=Environment.STAGING)
account.set_secret(spec["secret"])
account.save()
print({mark!r} + json.dumps(account.pk))
"""


@dataclass
class Deployment:
    env: dict[str, str]
    account: int
    scratch: Path
    server: Any = None
    url: str = ""
    log: Path = field(default_factory=Path)

    def start(self, workers: int = 2) -> None:
        port = deployment.free_port()
        self.url, self.log = f"http://127.0.0.1:{port}", self.scratch / f"gunicorn-{port}.log"
        self.server = deployment.start_gunicorn(self.env, workers, port, self.log)
        deployment.wait_healthy(self.url, self.server)

    def kill(self) -> None:
        """SIGKILL the whole server (master and workers): no request gets to finish anything."""
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=10)

    def reconcile(self) -> str:
        result = deployment.manage(self.env, "reconcile_audit")
        assert result.returncode == 0, result.stderr
        return result.stdout

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(DATABASE_URL, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def attempts(self) -> list[tuple[int, list[str]]]:
        """Every attempt with the outcomes recorded for it."""
        attempts = self.rows("SELECT id FROM audit_auditrecord WHERE outcome = 'attempted' ORDER BY seq")
        return [
            (pk, [o for (o,) in self.rows("SELECT outcome FROM audit_auditrecord WHERE attempt_id = %s", pk)])
            for (pk,) in attempts
        ]


@pytest.fixture(scope="module")
def crashable(simulator_server) -> Iterator[Deployment]:
    deployment.recreate_database(DATABASE_URL)
    scratch = deployment.scratch_dir("vpcepadmin-crash-")
    env = {**deployment.deployment_env(DATABASE_URL, "", scratch, read_timeout=5), **BUDGET}
    try:
        migrated = deployment.manage(env, "migrate", "--no-input")
        assert migrated.returncode == 0, migrated.stderr
        spec = {
            "username": OPERATOR, "password": PASSWORD, "region": seeds.REGION, "project": seeds.PROJECT_ID,
            "access": seeds.ACCESS_KEY, "secret": seeds.SECRET_KEY, "url": simulator_server.url,
            "totp_key": AUTHENTICATOR.key.hex(),
        }  # fmt: skip
        account = deployment.manage_json(env, SETUP.format(spec=json.dumps(spec), mark=deployment.MARK))
        yield Deployment(env, int(account), scratch)
    finally:
        deployment.drop_database(DATABASE_URL)


@pytest.fixture
def live(crashable, simulator) -> Iterator[Deployment]:
    crashable.start()
    try:
        yield crashable
    finally:
        deployment.stop_process(crashable.server)


class Browser:
    """One operator's browser on the live deployment: sign in, then load, review and apply."""

    def __init__(self, live: Deployment, service_id: str) -> None:
        self.live, self.session = live, requests.Session()
        self.edit = f"{live.url}/credentials/{live.account}/services/{service_id}/edit/"
        login = self.session.get(f"{live.url}/accounts/login/", timeout=(3, 10))
        form = next(f for f in pages.forms_of(login.text) if f.value("csrfmiddlewaretoken"))
        signed_in = self.session.post(
            f"{live.url}/accounts/login/",
            data=form.replaced(username=OPERATOR, password=PASSWORD),
            timeout=(3, 10),
            allow_redirects=False,
        )
        assert signed_in.status_code == 302
        verify = self.session.get(f"{live.url}/accounts/mfa/verify/", timeout=(3, 10))
        form = next(f for f in pages.forms_of(verify.text) if f.value("csrfmiddlewaretoken"))
        verified = self.session.post(
            f"{live.url}/accounts/mfa/verify/",
            data=form.replaced(otp_token=AUTHENTICATOR.code()),
            timeout=(3, 10),
            allow_redirects=False,
        )
        assert verified.status_code == 302, verified.text[:500]

    def review(self, description: str) -> pages.Form:
        loaded = self.session.get(self.edit, timeout=(3, 10))
        form = next(f for f in pages.forms_of(loaded.text) if f.id == "edit-form")
        review = self.session.post(
            self.edit, data=form.replaced(description=description, action="review"), timeout=(3, 10)
        )
        return next(f for f in pages.forms_of(review.text) if f.value("reviewed"))

    def apply(self, reviewed: pages.Form) -> requests.Response:
        data = reviewed.replaced(action="apply", reason="crash test")
        return self.session.post(self.edit, data=data, timeout=(3, 60), allow_redirects=False)


def _in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call())
        except requests.RequestException as exc:  # the server was killed under it
            result.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _description(simulator) -> str:
    return str(simulator.control.state()["endpoint_services"][0]["description"])


def test_a_worker_killed_mid_put_gets_one_true_outcome(live, simulator) -> None:
    """D1: the reconciler ran at once after the kill, wrote "not applied", and then the PUT landed."""
    service_id = simulator.seed["endpoint_services"][0]["id"]
    browser = Browser(live, service_id)
    reviewed = browser.review("landed after the crash")
    simulator.add_fault(action="latency", seconds=4, match={"method": "PUT"}, count=1)
    thread, _answer = _in_background(lambda: browser.apply(reviewed))
    _until(lambda: live.attempts() != [], 10, "the attempt to be committed")
    time.sleep(0.3)  # the PUT is on its way to the cloud, which holds it for 4 s
    live.kill()
    thread.join(timeout=10)
    assert "younger than" in live.reconcile()  # in flight as far as anyone can tell: left alone
    assert [outcomes for _pk, outcomes in live.attempts()] == [[]]
    _until(lambda: _description(simulator) == "landed after the crash", 10, "the PUT to land")
    (created,) = live.rows("SELECT created_at FROM audit_auditrecord WHERE outcome = 'attempted'")[0]
    time.sleep(max(0.0, RECONCILE_AFTER + 1 - (time.time() - created.timestamp())))
    live.reconcile()
    assert [outcomes for _pk, outcomes in live.attempts()] == [["reconciled_applied"]]
    assert len(simulator.journal(method="PUT")) == 1
    live.start()  # the fixture stops what it started
    verified = deployment.manage(live.env, "verify_audit")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_terminated_database_session_lets_no_second_change_through(live, simulator) -> None:
    """D3: the advisory lock died with A's session; B applied with no conflict and A's PUT then
    overwrote B's change."""
    service_id = simulator.seed["endpoint_services"][0]["id"]
    first, second = Browser(live, service_id), Browser(live, service_id)
    reviewed_a, reviewed_b = first.review("from A"), second.review("from B")
    simulator.add_fault(action="latency", seconds=2.5, match={"method": "PUT"}, count=1)
    before = len(live.attempts())
    thread, answer = _in_background(lambda: first.apply(reviewed_a))
    _until(lambda: len(live.attempts()) > before, 10, "A's attempt to be committed")
    terminated = live.rows(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert terminated, "no session of the deployment was terminated"
    blocked = second.apply(reviewed_b)
    assert blocked.status_code == 200 and "has no outcome yet" in blocked.text
    thread.join(timeout=30)
    assert answer and getattr(answer[0], "status_code", None) == 302  # A's outcome was still written
    assert _description(simulator) == "from A"
    assert len(simulator.journal(method="PUT")) == 1
    assert [outcomes for _pk, outcomes in live.attempts()][before:] == [["applied"]]
