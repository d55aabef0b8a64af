"""The app server's plan: threaded workers derived from the cores, overridable, checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vpcepadmin.serving import plan

ROOT = Path(__file__).resolve().parent.parent


def test_workers_are_the_cores_plus_one_with_twelve_threads() -> None:
    assert (plan({}, core_count=2).workers, plan({}, core_count=2).threads) == (3, 12)
    assert plan({}, core_count=8).workers == 9
    assert plan({}, core_count=2).derived
    assert plan({}, core_count=2).problems() == []


def test_the_environment_overrides_and_a_starving_plan_is_reported() -> None:
    chosen = plan({"VPCEPADMIN_WORKERS": "2", "VPCEPADMIN_THREADS": "4"}, core_count=2)
    assert (chosen.workers, chosen.threads, chosen.derived) == (2, 4, False)
    assert "slow clients" in chosen.problems()[0]
    assert plan({"VPCEPADMIN_WORKERS": "x"}, core_count=2).problems()  # nonsense serves nothing


def test_gunicorn_reads_the_plan() -> None:
    code = (
        "import runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(c['workers'], c['threads'], c['worker_class'], c['worker_connections'])"
    )
    env = {"PATH": "/usr/bin:/bin", "VPCEPADMIN_WORKERS": "5", "VPCEPADMIN_THREADS": "16"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert out == ["5", "16", "gthread", "16"]
