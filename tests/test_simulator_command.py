"""``manage.py runsimulator`` as an operator starts it: a real process on a real port."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import RawApi
from tests.seeds import ACCESS_KEY, SECRET_KEY, services_path, standard_seed

MANAGE = Path(__file__).resolve().parent.parent / "manage.py"


@pytest.fixture
def run_simulator() -> Iterator[Callable[..., tuple[str, str]]]:
    processes = []

    def start(*args: str) -> tuple[str, str]:
        process = subprocess.Popen(
            [sys.executable, str(MANAGE), "runsimulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        processes.append(process)
        banner = []
        assert process.stdout is not None
        for line in process.stdout:
            banner.append(line)
            if line.startswith("Control API"):
                break
        text = "".join(banner)
        found = re.search(r"on (http://127\.0\.0\.1:\d+)", text)
        assert found, text
        return found.group(1), text

    yield start
    for process in processes:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_it_prints_the_demo_credentials_and_serves_them(run_simulator):
    url, banner = run_simulator("--demo")
    keys = re.search(r"AK / SK\s+(\S+) / (\S+)", banner)
    project = re.search(r"project\s+([0-9a-f]{32})\s+eu-de_production", banner)
    assert keys is not None, banner
    assert project is not None, banner
    (access, secret), project_id = keys.groups(), project.group(1)
    assert "demo-operator" in banner
    response = RawApi(url).get(services_path(project_id), access_key=access, secret_key=secret)
    assert response.json()["total_count"] > 10


def test_it_serves_a_seed_file_and_keeps_its_state_file(run_simulator, tmp_path):
    seed_file, state_file = tmp_path / "seed.json", tmp_path / "state.json"
    seed_file.write_text(json.dumps(standard_seed(services=2)))
    url, _ = run_simulator("--seed", str(seed_file), "--state", str(state_file), "--deleting-seconds", "60")
    api = RawApi(url)
    assert api.get(services_path(), access_key=ACCESS_KEY, secret_key=SECRET_KEY).json()["total_count"] == 2
    first = standard_seed(services=2)["endpoint_services"][0]["id"]
    assert api.delete(f"{services_path()}/{first}").status == 204
    saved = json.loads(state_file.read_text())
    assert [s["status"] for s in saved["endpoint_services"]] == ["deleting", "available"]
