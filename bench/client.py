"""Benchmark of the cloud client's per-call cost: ours against plain ``requests`` and the official SDK.

Run: ``.venv/bin/python bench/client.py [--rounds 200] [--warm-up 20] [--log-level INFO]``
(``--profile list|get500|…`` prints a cProfile of our client for one operation instead).

The simulator is started in this process (``SimulatorServer``, real HTTP on loopback, AK/SK verified)
with 25 services in one project, for the list, and two services with 200 and 500 port mappings in
another project, for get and update. Each operation is timed per call, ``--rounds`` times for each
client after ``--warm-up`` untimed calls. The clients take turns in blocks of ``BLOCK`` calls in a
row, each block after one untimed call, so that background load hits all three alike while no timed
call follows another client's: each client has its own keep-alive connection, served by its own
simulator thread, and waking that thread after another one ran costs up to a millisecond on a small
VM — a cost of the simulator's threads, not of any client, which would only blur the comparison.

- ours: ``vpcepadmin.cloud`` (``endpoint_service_list/get/update``) as the dashboard runs it —
  AK/SK auth, the network policy of the tests (``tests.cloudkit.FAST`` timeouts), the app's logging
  configuration at ``--log-level`` (default INFO, as deployed) with its lines written to /dev/null;
- plain: the least a caller can do for the same answer, and so the fair floor: one
  ``requests.Session`` (``trust_env=False``, as ours, so neither reads proxies or .netrc per call)
  sends the same request with the same headers, signed by the same signer
  (``vpcepadmin.cloud.signing.sign``: signing is required either way, so it costs both sides the
  same), with a (connect, read) timeout tuple and no redirects, and then only ``json.loads`` the
  body — no typed objects, no body cap or total deadline, no error mapping, no log line;
- SDK: ``huaweicloudsdkvpcep`` 's ``VpcepClient`` with the same credentials and a (connect, read)
  timeout, returning its own model objects.

The operations: list (``limit=25`` of 25 services), get of the service with 200 and with 500
mappings, and update (a PUT changing only the description; the answer is the whole service) of each.

Printed, per operation: the median ms per call (wall clock) of each client, the ratios ours/plain
and SDK/ours, the median CPU time of the calling thread per call (``cpu``: the client's own work,
the simulator's threads excluded; steadier than the wall clock when the machine is busy), and the
medians of the phases of our calls (sign, HTTP exchange including reading the body, JSON decode,
typed parse, and the rest: building the request, the log line, the result), from a separate pass
with timed wrappers. Budgets, on the wall-clock medians: ours/plain <= 1.3 and SDK/ours >= 2.0 for
every operation; the exit status is 1 when one is missed. The simulator and the clients share this
process and the machine's cores, so run it on a quiet machine and rerun when the figures look noisy.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import logging
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAIN_LIMIT = 1.3  # ours / plain, at most
SDK_LIMIT = 2.0  # SDK / ours, at least
LIST_SERVICES = 25
BIG_SERVICES = (200, 500)  # port mappings of the services read and updated
TIMEOUT = (3.05, 10.0)


def configure_logging(level: str) -> None:
    """The app's logging configuration (settings.LOGGING) at ``level``, written to /dev/null."""
    os.environ.setdefault(
        "VPCEPADMIN_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    )
    os.environ.setdefault("VPCEPADMIN_FERNET_KEYS", "YmVuY2gtb25seS1mZXJuZXQta2V5LTAwMDAwMDAwMDA=")
    os.environ["VPCEPADMIN_LOG_LEVEL"] = level
    os.environ["DJANGO_SETTINGS_MODULE"] = "vpcepadmin.settings"
    import django

    django.setup()
    sink = open(os.devnull, "w")  # noqa: SIM115 (open for the whole run)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sink)


@dataclass
class World:
    url: str
    list_project: str
    big_project: str
    big_ids: dict[int, str]  # mappings -> service id


def seed_document() -> tuple[dict[str, Any], dict[int, str]]:
    from tests.seeds import OTHER_PROJECT_ID, service, stable_uuid, standard_seed

    seed = standard_seed(services=LIST_SERVICES)
    big_ids = {}
    for mappings in BIG_SERVICES:
        service_id = stable_uuid("bench", "big", mappings)
        big_ids[mappings] = service_id
        ports = [
            {"client_port": 1000 + i, "server_port": 20000 + i, "protocol": "TCP"} for i in range(mappings)
        ]
        seed["endpoint_services"].append(
            service(
                project_id=OTHER_PROJECT_ID,
                id=service_id,
                service_name=f"big-{mappings}",
                description="benchmark",
                tags=[{"key": "owner", "value": "bench"}],
                ports=ports,
            )
        )
    return seed, big_ids


# --- the three clients ----------------------------------------------------------------------------
Call = Callable[[], Any]


class Ours:
    def __init__(self, url: str, project_id: str) -> None:
        from tests.cloudkit import aksk_client

        self.client = aksk_client(url, project_id=project_id)

    def list(self) -> Any:
        from vpcepadmin.cloud.endpoint_services import endpoint_service_list

        return endpoint_service_list(self.client, limit=LIST_SERVICES)

    def get(self, service_id: str) -> Any:
        from vpcepadmin.cloud.endpoint_services import endpoint_service_get

        return endpoint_service_get(self.client, service_id)

    def update(self, service_id: str, description: str) -> Any:
        from vpcepadmin.cloud.editable import ServiceChanges
        from vpcepadmin.cloud.endpoint_services import endpoint_service_update

        return endpoint_service_update(self.client, service_id, ServiceChanges(description=description))


class Plain:
    """A requests.Session, the same signer and headers, json.loads: the floor (see the docstring)."""

    def __init__(self, url: str, project_id: str) -> None:
        import requests  # noqa: TID251 (the baseline is plain requests, on purpose)

        from tests.seeds import ACCESS_KEY, SECRET_KEY

        self.url, self.project_id = url.rstrip("/"), project_id
        self.host = url.split("://", 1)[1].rstrip("/")
        self.access_key, self.secret_key = ACCESS_KEY, SECRET_KEY
        self.session = requests.Session()
        self.session.trust_env = False

    def _call(self, method: str, path: str, query: list[tuple[str, str]], body: bytes = b"") -> Any:
        from vpcepadmin.cloud import signing

        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Host": self.host,
            "X-Sdk-Date": signing.format_sdk_date(datetime.now(UTC)),
            "X-Project-Id": self.project_id,
        }
        headers["Authorization"] = signing.sign(
            method=method,
            path=path,
            query_pairs=query,
            headers=headers,
            body=body,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )
        target = self.url + path + (f"?{signing.canonical_query(query)}" if query else "")
        response = self.session.request(
            method, target, data=body or None, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
        if response.status_code != 200:
            raise RuntimeError(f"plain {method} {path}: HTTP {response.status_code}")
        return json.loads(response.content)

    def list(self) -> Any:
        path = f"/v1/{self.project_id}/vpc-endpoint-services"
        return self._call("GET", path, [("limit", str(LIST_SERVICES))])

    def get(self, service_id: str) -> Any:
        return self._call("GET", f"/v1/{self.project_id}/vpc-endpoint-services/{service_id}", [])

    def update(self, service_id: str, description: str) -> Any:
        body = json.dumps({"description": description}, separators=(",", ":")).encode()
        return self._call("PUT", f"/v1/{self.project_id}/vpc-endpoint-services/{service_id}", [], body)


class Sdk:
    def __init__(self, url: str, project_id: str) -> None:
        from huaweicloudsdkcore.auth.credentials import BasicCredentials
        from huaweicloudsdkcore.http.http_config import HttpConfig
        from huaweicloudsdkvpcep.v1 import VpcepClient

        from tests.seeds import ACCESS_KEY, SECRET_KEY

        config = HttpConfig.get_default_config()
        config.timeout = TIMEOUT
        credentials = BasicCredentials(ACCESS_KEY, SECRET_KEY, project_id)
        self.client = (
            VpcepClient.new_builder()
            .with_credentials(credentials)
            .with_endpoints([url])
            .with_http_config(config)
            .build()
        )

    def list(self) -> Any:
        from huaweicloudsdkvpcep.v1 import ListEndpointServiceRequest

        return self.client.list_endpoint_service(ListEndpointServiceRequest(limit=LIST_SERVICES))

    def get(self, service_id: str) -> Any:
        from huaweicloudsdkvpcep.v1 import ListServiceDetailsRequest

        return self.client.list_service_details(ListServiceDetailsRequest(vpc_endpoint_service_id=service_id))

    def update(self, service_id: str, description: str) -> Any:
        from huaweicloudsdkvpcep.v1 import UpdateEndpointServiceRequest, UpdateEndpointServiceRequestBody

        body = UpdateEndpointServiceRequestBody(description=description)
        return self.client.update_endpoint_service(
            UpdateEndpointServiceRequest(vpc_endpoint_service_id=service_id, body=body)
        )


CLIENTS = ("ours", "plain", "sdk")


def operations(world: World) -> dict[str, dict[str, Call]]:
    """Operation name -> client name -> a call that does it once (updates alternate descriptions)."""

    def clients(project_id: str) -> dict[str, Ours | Plain | Sdk]:
        return {
            "ours": Ours(world.url, project_id),
            "plain": Plain(world.url, project_id),
            "sdk": Sdk(world.url, project_id),
        }

    def get(client: Ours | Plain | Sdk, service_id: str) -> Call:
        return lambda: client.get(service_id)

    def update(client: Ours | Plain | Sdk, service_id: str) -> Call:
        return lambda: client.update(service_id, f"benchmark {next(counter)}")

    counter = itertools.count()
    list_clients, big_clients = clients(world.list_project), clients(world.big_project)
    ops: dict[str, dict[str, Call]] = {"list": {name: c.list for name, c in list_clients.items()}}
    for mappings, service_id in world.big_ids.items():
        ops[f"get{mappings}"] = {name: get(c, service_id) for name, c in big_clients.items()}
    for mappings, service_id in world.big_ids.items():
        ops[f"update{mappings}"] = {name: update(c, service_id) for name, c in big_clients.items()}
    return ops


def check_answers(ops: dict[str, dict[str, Call]], world: World) -> None:
    """Each client gets the answer the benchmark means (so no client is timed doing less)."""
    assert len(ops["list"]["ours"]().services) == LIST_SERVICES
    assert len(ops["list"]["plain"]()["endpoint_services"]) == LIST_SERVICES
    assert len(ops["list"]["sdk"]().endpoint_services) == LIST_SERVICES
    for mappings in world.big_ids:
        assert len(ops[f"get{mappings}"]["ours"]().ports) == mappings
        assert len(ops[f"update{mappings}"]["ours"]().value.ports) == mappings
        for op in (f"get{mappings}", f"update{mappings}"):
            assert len(ops[op]["plain"]()["ports"]) == mappings
            assert len(ops[op]["sdk"]().ports) == mappings


BLOCK = 10  # timed calls of one client in a row


@dataclass
class Figures:
    wall: dict[str, list[float]]  # ms per call
    cpu: dict[str, list[float]]  # ms of this thread's CPU per call (the simulator's threads excluded)

    def median(self, client: str, kind: str = "wall") -> float:
        return statistics.median((self.wall if kind == "wall" else self.cpu)[client])


def time_calls(calls: dict[str, Call], rounds: int, warm_up: int) -> Figures:
    """``rounds`` timed calls of each client, in blocks of ``BLOCK`` calls in a row, the clients'
    blocks taking turns in a rotating order; each block starts with one untimed call."""
    names = list(calls)
    for _ in range(warm_up):
        for name in names:
            calls[name]()
    figures = Figures({name: [] for name in names}, {name: [] for name in names})
    blocks = max(1, -(-rounds // BLOCK))
    for index in range(blocks):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            call = calls[name]
            call()
            wall, cpu = figures.wall[name], figures.cpu[name]
            for _ in range(min(BLOCK, rounds - index * BLOCK)):
                started, started_cpu = time.perf_counter(), time.thread_time()
                call()
                cpu.append((time.thread_time() - started_cpu) * 1000)
                wall.append((time.perf_counter() - started) * 1000)
    return figures


# --- our client's phases --------------------------------------------------------------------------
PHASES = ("sign", "http", "decode", "parse")


class Phases:
    """Times the phases of our client's calls by wrapping the functions that do them."""

    def __init__(self) -> None:
        self.spent = dict.fromkeys(PHASES, 0.0)

    def wrap(self, owner: Any, name: str, phase: str) -> Callable[[], None]:
        """Wrap the function (or method) ``name`` of the module (or class) ``owner``; returns the undo."""
        original = owner.__dict__[name]
        spent = self.spent

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[phase] += time.perf_counter() - started

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)

    @contextmanager
    def installed(self) -> Iterator[None]:
        from vpcepadmin.cloud import auth, endpoint_services, transport

        undo = [
            self.wrap(auth.AkSkAuth, "headers", "sign"),
            self.wrap(transport.Transport, "_exchange", "http"),
            self.wrap(transport, "decode_json", "decode"),
            self.wrap(endpoint_services, "_parse", "parse"),
        ]
        try:
            yield
        finally:
            for step in reversed(undo):
                step()


def breakdown(call: Call, rounds: int) -> dict[str, float]:
    """Median ms per call of each phase (and of the whole call, and of the rest) over ``rounds`` calls."""
    phases = Phases()
    samples: dict[str, list[float]] = {name: [] for name in (*PHASES, "other", "total")}
    with phases.installed():
        for _ in range(rounds):
            phases.spent.update(dict.fromkeys(PHASES, 0.0))
            started = time.perf_counter()
            call()
            total = time.perf_counter() - started
            for name in PHASES:
                samples[name].append(phases.spent[name] * 1000)
            samples["other"].append((total - sum(phases.spent.values())) * 1000)
            samples["total"].append(total * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def profile(call: Call, rounds: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(35)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=20)
    parser.add_argument("--log-level", default="INFO")
    operation_names = ["list", *(f"{verb}{n}" for verb in ("get", "update") for n in BIG_SERVICES)]
    parser.add_argument("--profile", choices=operation_names, help="cProfile our client for one operation")
    args = parser.parse_args()
    configure_logging(args.log_level)

    from tests.seeds import OTHER_PROJECT_ID, PROJECT_ID
    from vpcepadmin.simulator.server import SimulatorServer

    seed, big_ids = seed_document()
    with SimulatorServer(seed=seed) as server:
        world = World(server.url, PROJECT_ID, OTHER_PROJECT_ID, big_ids)
        ops = operations(world)
        check_answers(ops, world)
        if args.profile:
            profile(ops[args.profile]["ours"], args.rounds)
            return 0
        print(
            f"median ms per call over {args.rounds} calls of each client (after {args.warm_up} warm-up "
            f"calls); log level {args.log_level}; simulator in this process"
        )
        print(
            f"{'operation':<10} {'ours':>7} {'plain':>7} {'sdk':>7} {'ours/plain':>11} {'sdk/ours':>9}"
            f"   cpu: {'ours':>6} {'plain':>6} {'sdk':>6}"
            f"   ours by phase: {'  '.join(f'{p:>6}' for p in (*PHASES, 'other'))}"
        )
        missed: list[str] = []
        for name, calls in ops.items():
            figures = time_calls(calls, args.rounds, args.warm_up)
            wall = {client: figures.median(client) for client in CLIENTS}
            cpu = {client: figures.median(client, "cpu") for client in CLIENTS}
            phases = breakdown(calls["ours"], args.rounds)
            plain_ratio = wall["ours"] / wall["plain"]
            sdk_ratio = wall["sdk"] / wall["ours"]
            flags = ("!" if plain_ratio > PLAIN_LIMIT else " ") + ("!" if sdk_ratio < SDK_LIMIT else " ")
            print(
                f"{name:<10} {wall['ours']:7.3f} {wall['plain']:7.3f} {wall['sdk']:7.3f} "
                f"{plain_ratio:10.2f}{flags[0]} {sdk_ratio:8.2f}{flags[1]}   "
                f"     {cpu['ours']:6.3f} {cpu['plain']:6.3f} {cpu['sdk']:6.3f}   "
                f"{'':>15}{'  '.join(f'{phases[p]:6.3f}' for p in (*PHASES, 'other'))}"
            )
            if plain_ratio > PLAIN_LIMIT:
                missed.append(f"{name}: ours/plain {plain_ratio:.2f} > {PLAIN_LIMIT}")
            if sdk_ratio < SDK_LIMIT:
                missed.append(f"{name}: SDK/ours {sdk_ratio:.2f} < {SDK_LIMIT}")
    print(f"\nbudgets: ours/plain <= {PLAIN_LIMIT}, SDK/ours >= {SDK_LIMIT} ('!' marks a miss)")
    for line in missed:
        print("MISSED", line)
    print("RESULT:", "OVER BUDGET" if missed else "within budget")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
