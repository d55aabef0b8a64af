"""A realistic, correctly hash-chained audit log of any size, written fast with PostgreSQL's COPY.

The content imitates what the edit flow and the account pages write: per change one ``attempted``
record (the API snapshot before, the PUT body) and one outcome record (mostly ``applied`` with the
response body, sometimes rejected, failed or reconciled), single ``conflict`` records, and now and
then a change to a stored account. Records are of realistic size: a share of the services
(``big_share``) have ``BIG_PORTS`` port mappings, which their snapshots and every change of their
mappings carry in full (before, body and after), and a share of the reasons are long (up to about
1000 characters). The chain is computed here with the application's own ``chain.record_hash`` over
exactly the values the database will give back, and the derived columns (summary and diff) with
its own ``changes.derive`` from the values the recorder derives them from, so ``verify_audit``
accepts the result.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vpcepadmin.audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical_json, derived_hash, record_hash

ACTORS = ("alice", "bob", "carol", "dave")
OUTCOMES = (  # outcome of a change, weight
    ("applied", 85),
    ("rejected", 8),
    ("failed", 3),
    ("reconciled_applied", 2),
    ("conflict", 2),
)
ERRORS = {
    "rejected": (400, "EndPoint.0011", "The port mapping conflicts with another service."),
    "failed": (503, "APIGW.0201", "Service unavailable, try again later."),
}
COLUMNS = (
    "id",
    "seq",
    "prev_hash",
    "hash",
    *[name for name in HASHED_FIELDS if name != "seq"],
    "summary",
    "diff",
    "derived_hash",
)
JSON_COLUMNS = frozenset({"before", "request_body", "after", "diff"})
START = datetime(2024, 1, 1, tzinfo=UTC)
BIG_PORTS = 200  # the most port mappings a service has (and what made the list slow)
BIG_SHARE = 0.05  # the share of services with that many
LONG_REASONS = 0.2  # the share of reasons that are a paragraph, not a line
WORDS = (
    "customer", "traffic", "migration", "backend", "listener", "pool", "rollout", "window", "approved",
    "by", "the", "change", "board", "after", "review", "of", "firewall", "rules", "and", "load", "test",
    "results", "for", "region", "eu-de", "tenant", "isolation", "requires", "new", "mapping", "ports",
)  # fmt: skip


@dataclass
class World:
    """The users, accounts and services the records talk about."""

    actors: dict[str, int]
    accounts: list[dict[str, Any]]
    services: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def make(
        cls,
        actors: dict[str, int],
        accounts: list[dict[str, Any]],
        per_account: int = 40,
        big_share: float = BIG_SHARE,
    ) -> World:
        world = cls(actors, accounts)
        rng = random.Random(7)
        big = max(1, round(big_share * per_account * len(accounts))) if big_share > 0 else 0
        for account in accounts:
            for index in range(per_account):
                service_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                world.services.append(
                    {
                        "account": account,
                        "id": service_id,
                        "name": f"svc-{account['id']}-{index:03d}",
                        "port_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "vpc_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "ports": [{"client_port": 443, "server_port": 8443, "protocol": "TCP"}],
                        "approval_enabled": True,
                        "description": "",
                    }
                )
        # Spread over the accounts: every BIG_SHARE-th service has BIG_PORTS mappings.
        step = max(1, len(world.services) // big) if big else 1
        for service in world.services[3::step][:big]:
            service["ports"] = [
                {"client_port": 1000 + 7 * index, "server_port": 20000 + index, "protocol": "TCP"}
                for index in range(BIG_PORTS)
            ]
        return world

    @property
    def big_services(self) -> list[dict[str, Any]]:
        return [service for service in self.services if len(service["ports"]) >= BIG_PORTS // 2]


def _snapshot(service: dict[str, Any], at: datetime) -> dict[str, Any]:
    account = service["account"]
    return {
        "id": service["id"],
        "service_name": f"{account['region']}.{service['name']}.{service['id']}",
        "status": "available",
        "server_type": "LB",
        "service_type": "interface",
        "port_id": service["port_id"],
        "vpc_id": service["vpc_id"],
        "approval_enabled": service["approval_enabled"],
        "ports": [dict(port) for port in service["ports"]],
        "project_id": account["project_id"],
        "created_at": "2023-06-01T08:00:00Z",
        "updated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tags": [{"key": "owner", "value": "platform"}],
        "description": service["description"],
        "tcp_proxy": "close",
    }


def _requested(service: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.6:
        ports = [dict(port) for port in service["ports"]]
        most = BIG_PORTS if len(ports) >= BIG_PORTS // 2 else 3
        if len(ports) > most or (len(ports) > 1 and rng.random() < 0.4):
            ports.pop(rng.randrange(len(ports)))
        else:
            port = 1000 + rng.randrange(60000)
            ports.append({"client_port": port, "server_port": port + 1, "protocol": "TCP"})
        return {"ports": ports}
    if kind < 0.8:
        return {"description": f"Owned by team {rng.randrange(40)}; see wiki page {rng.randrange(9999)}"}
    return {"approval_enabled": not service["approval_enabled"]}


class Chain:
    """Builds rows (tuples in ``COLUMNS`` order) continuing a chain from (seq, hash)."""

    def __init__(
        self, world: World, seq: int = 0, last_hash: str = GENESIS_HASH, next_id: int = 1, seed: int = 1
    ) -> None:
        from vpcepadmin.audit.changes import derive  # the app's own (needs Django set up)

        self.world, self.seq, self.last_hash, self.next_id = world, seq, last_hash, next_id
        self.rng = random.Random(seed)
        self.derive = derive

    def _row(self, attempt_before: Any = None, **values: Any) -> tuple[Any, ...]:
        """One record; an outcome's change starts from ``attempt_before`` (its attempt's before)."""
        self.seq += 1
        values = {name: values.get(name) for name in HASHED_FIELDS} | {"seq": self.seq}
        before = values["before"] if values["before"] is not None else attempt_before
        derived = self.derive(values["action"], before, values["request_body"], values["after"])
        values["created_at"] = START + timedelta(
            seconds=self.seq * 30, microseconds=self.rng.randrange(10**6)
        )
        values["derived_hash"] = derived_hash(derived.summary, derived.diff)
        digest = record_hash(self.last_hash, values)
        row = {**values, "id": self.next_id, "prev_hash": self.last_hash, "hash": digest}
        row |= {"summary": derived.summary, "diff": derived.diff}
        self.next_id += 1
        self.last_hash = digest
        return tuple(_copy_value(name, row[name]) for name in COLUMNS)

    def _common(self, service: dict[str, Any], actor: str, request_id: str, reason: str) -> dict[str, Any]:
        account = service["account"]
        return {
            "actor_id": self.world.actors[actor],
            "actor_username": actor,
            "source_ip": f"10.{self.rng.randrange(4)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}",
            "request_id": request_id,
            "credential_id": account["id"],
            "credential_name": account["name"],
            "cloud": account["cloud"],
            "region": account["region"],
            "project_id": account["project_id"],
            "target_type": "endpoint_service",
            "target_id": service["id"],
            "target_name": service["name"],
            "action": "modify_endpoint_service",
            "reason": reason,
            "error_code": "",
            "error_message": "",
            "cloud_request_id": "",
        }

    def change(self) -> Iterator[tuple[Any, ...]]:
        """One change to a service: an attempt and its outcome, or a single conflict record."""
        rng = self.rng
        service = rng.choice(self.world.services)
        actor = rng.choice(ACTORS)
        at = START + timedelta(seconds=(self.seq + 1) * 30)
        common = self._common(service, actor, uuid.UUID(int=rng.getrandbits(128)).hex, _reason(rng))
        before, body = _snapshot(service, at), _requested(service, rng)
        outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
        if outcome == "conflict":
            yield self._row(**common, outcome="conflict", before=before, request_body=body)
            return
        attempt_id = self.next_id
        yield self._row(**common, outcome="attempted", before=before, request_body=body)
        status, code, message = ERRORS.get(outcome, (200, "", ""))
        after = None
        if outcome in ("applied", "reconciled_applied"):
            service.update(body)
            after = _snapshot(service, at)
        cloud_request_id = uuid.UUID(int=rng.getrandbits(128)).hex
        yield self._row(
            **(common | {"error_code": code, "error_message": message, "cloud_request_id": cloud_request_id}),
            outcome=outcome, request_body=body, after=after, attempt_id=attempt_id, attempt_before=before,
            http_status=None if outcome == "reconciled_applied" else status, duration_ms=80 + rng.randrange(400),
        )  # fmt: skip

    def account_change(self) -> tuple[Any, ...]:
        account = self.rng.choice(self.world.accounts)
        before = {"name": account["name"], "region": account["region"], "access_key": "AKIA…WXYZ"}
        return self._row(
            actor_id=self.world.actors["alice"], actor_username="alice", request_id=uuid.uuid4().hex,
            credential_id=account["id"], credential_name=account["name"], cloud=account["cloud"],
            region=account["region"], project_id=account["project_id"], target_type="credential",
            target_id=str(account["id"]), target_name=account["name"], action="update_credential",
            reason="", before=before, after=before | {"secret_status": "changed"}, outcome="recorded",
            error_code="", error_message="", cloud_request_id="", source_ip="10.0.0.5",
        )  # fmt: skip

    def rows(self, count: int) -> Iterator[tuple[Any, ...]]:
        """Exactly ``count`` more rows."""
        target = self.seq + count
        while self.seq < target:
            if self.rng.random() < 0.01:
                yield self.account_change()
                continue
            for row in self.change():
                yield row
                if self.seq >= target:
                    return


def _reason(rng: random.Random) -> str:
    line = rng.choice(
        (
            f"CHG-{rng.randrange(100000):05d}: open port for release {rng.randrange(1, 40)}",
            f"INC-{rng.randrange(100000):05d}: roll back the mapping change",
            f"CHG-{rng.randrange(100000):05d}: approval policy review",
            "Quarterly clean-up of unused port mappings",
        )
    )
    if rng.random() >= LONG_REASONS:
        return line
    words = [rng.choice(WORDS) for _ in range(rng.randrange(20, 150))]
    return (line + ". " + " ".join(words) + ".")[:1000]


def _copy_value(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS:
        return None if value is None else canonical_json(value)  # as ``CanonicalJSONField`` writes it
    return value
