"""A production-like deployment on this machine, for benchmarks and tests that need real processes:
the environment, ``manage.py`` runs, gunicorn (as the README deploys it), and throwaway PostgreSQL
databases. Nothing here imports Django: the dashboard runs in its own processes, as deployed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARK = "BENCH-JSON "  # prefix of the one line a ``manage.py shell -c`` script prints for us

# --- environment and processes ----------------------------------------------------------------------


def deployment_env(database_url: str, cache_url: str, var_dir: Path, read_timeout: float) -> dict[str, str]:
    """A production-like configuration (tests/test_security.py PROD_ENV), but plain HTTP on loopback
    and the simulator allowed as an endpoint; nothing inherited from this shell's VPCEPADMIN_*."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("VPCEPADMIN_", "DATABASE_URL", "DJANGO_"))
    }
    return {
        **clean,
        "VPCEPADMIN_SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH",
        "VPCEPADMIN_FERNET_KEYS": "c29hay1vbmx5LWZlcm5ldC1rZXktMDAwMDAwMDAwMDA=",
        "VPCEPADMIN_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "VPCEPADMIN_CACHE_URL": cache_url,
        "VPCEPADMIN_SIMULATOR": "1",
        "VPCEPADMIN_SSL_REDIRECT": "0",
        "VPCEPADMIN_SECURE_COOKIES": "0",
        "VPCEPADMIN_VAR_DIR": str(var_dir),
        "VPCEPADMIN_LOG_LEVEL": "WARNING",
        "VPCEPADMIN_CLOUD_READ_TIMEOUT": f"{read_timeout:g}",
    }


def manage(env: Mapping[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``manage.py args`` with exactly ``env``; never raises on a non-zero exit (callers judge)."""
    try:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return subprocess.CompletedProcess(exc.cmd, -9, out, f"timed out after {timeout:g} s")


def manage_json(env: Mapping[str, str], code: str, timeout: float = 120) -> Any:
    """Run ``code`` in ``manage.py shell -c`` and return what it printed after ``MARK``."""
    result = manage(env, "shell", "-c", code, timeout=timeout)
    for line in result.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    raise RuntimeError(f"manage.py shell failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_gunicorn(
    env: Mapping[str, str], workers: int | None, port: int, log: Path
) -> subprocess.Popen[bytes]:
    """gunicorn as the README deploys it (``gunicorn.conf.py`` when the repository has one), in its own
    process group so that it can be ended with everything it started; ``workers`` None: the
    configuration's own count."""
    command = [str(Path(sys.executable).with_name("gunicorn")), "vpcepadmin.wsgi"]
    if (ROOT / "gunicorn.conf.py").is_file():
        command += ["-c", "gunicorn.conf.py"]
    else:
        command += ["--timeout", "60"]
    command += ["--workers", str(workers)] if workers else []
    command += ["--bind", f"127.0.0.1:{port}"]
    with log.open("wb") as output:
        return subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until ``url/healthz`` answers 200; RuntimeError when the server died or ``timeout`` passed."""
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:  # noqa: S310  (http only)
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url}/healthz did not answer 200 within {timeout:g} s")


def stop_process(process: subprocess.Popen[bytes] | None, grace: float = 10) -> None:
    """End ``process`` and its process group (TERM, then KILL after ``grace``)."""
    if process is None or process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def scratch_dir(prefix: str = "vpcepadmin-bench-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


# --- the database -----------------------------------------------------------------------------------


def split_url(database_url: str) -> tuple[str, str]:
    """(URL of the server's ``postgres`` database, name of the soak database)."""
    base, name = database_url.rsplit("/", 1)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"unexpected database name {name!r}")
    return f"{base}/postgres", name


def recreate_database(database_url: str) -> None:
    import psycopg

    admin_url, name = split_url(database_url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")


def drop_database(database_url: str) -> None:
    import psycopg

    admin_url, name = split_url(database_url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
