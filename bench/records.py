"""A realistic, correctly hash-chained audit log of any size, written fast with PostgreSQL's COPY.

The content imitates what the edit flow and the account pages write: per change one ``attempted``
record (the API snapshot before, the PUT body) and one outcome record (mostly ``applied`` with the
response body, sometimes rejected, failed or reconciled), single ``conflict`` records, and now and
then a change to a stored account. The chain is computed here with the application's own
``chain.record_hash`` over exactly the values the database will give back, so ``verify_audit``
accepts the result.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vpcepadmin.audit.chain import GENESIS_HASH, HASHED_FIELDS, record_hash

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
COLUMNS = ("id", "seq", "prev_hash", "hash", *[name for name in HASHED_FIELDS if name != "seq"])
JSON_COLUMNS = frozenset({"before", "request_body", "after"})
START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class World:
    """The users, accounts and services the records talk about."""

    actors: dict[str, int]
    accounts: list[dict[str, Any]]
    services: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def make(cls, actors: dict[str, int], accounts: list[dict[str, Any]], per_account: int = 40) -> World:
        world = cls(actors, accounts)
        rng = random.Random(7)
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
        return world


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
        if len(ports) > 3 or (len(ports) > 1 and rng.random() < 0.4):
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

    def __init__(self, world: World, seq: int = 0, last_hash: str = GENESIS_HASH, seed: int = 1) -> None:
        self.world, self.seq, self.last_hash = world, seq, last_hash
        self.rng = random.Random(seed)

    def _row(self, **values: Any) -> tuple[Any, ...]:
        self.seq += 1
        values = {name: values.get(name) for name in HASHED_FIELDS} | {"seq": self.seq}
        values["created_at"] = START + timedelta(
            seconds=self.seq * 30, microseconds=self.rng.randrange(10**6)
        )
        digest = record_hash(self.last_hash, values)
        row = {**values, "id": self.seq, "prev_hash": self.last_hash, "hash": digest}
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
        attempt_id = self.seq + 1
        yield self._row(**common, outcome="attempted", before=before, request_body=body)
        status, code, message = ERRORS.get(outcome, (200, "", ""))
        after = None
        if outcome in ("applied", "reconciled_applied"):
            service.update(body)
            after = _snapshot(service, at)
        cloud_request_id = uuid.UUID(int=rng.getrandbits(128)).hex
        yield self._row(
            **(common | {"error_code": code, "error_message": message, "cloud_request_id": cloud_request_id}),
            outcome=outcome, request_body=body, after=after, attempt_id=attempt_id,
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
    return rng.choice(
        (
            f"CHG-{rng.randrange(100000):05d}: open port for release {rng.randrange(1, 40)}",
            f"INC-{rng.randrange(100000):05d}: roll back the mapping change",
            f"CHG-{rng.randrange(100000):05d}: approval policy review",
            "Quarterly clean-up of unused port mappings",
        )
    )


def _copy_value(name: str, value: Any) -> Any:
    if name in JSON_COLUMNS:
        return None if value is None else json.dumps(value, ensure_ascii=False)
    return value
