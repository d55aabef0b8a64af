"""The simulated cloud's store: one ``World`` behind one re-entrant lock, with a lazy lifecycle.

Guarantees:

* every read and write of the world happens under ``Store.lock`` (handlers use ``read()`` /
  ``write()``), so concurrent requests see consistent state and checks-then-writes (quota, port
  conflicts) are atomic;
* status transitions are computed from timestamps whenever the world is touched: a ``creating``
  service becomes ``available`` at its ``transition_at`` (its ``updated_at`` becomes that moment) and
  a ``deleting`` service disappears with its endpoints and whitelist at its ``transition_at``;
* with a state file, the world is written atomically (temp file + rename) after every change, in the
  seed-document format of ``seed.py``; tokens are never written.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vpcepadmin.simulator.records import Project, Timings, Token, User, World, utcnow
from vpcepadmin.simulator.seed import dump_world, load_world

# NOTE: IAM tokens are valid for 24 h (vpcep-api.md §10.1).
TOKEN_LIFETIME = timedelta(hours=24)


class Store:
    """Thread-safe holder of the simulated cloud's world and of the IAM tokens it issued."""

    def __init__(
        self,
        world: World,
        *,
        default_timings: Timings,
        state_file: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.state_file = state_file
        self.default_timings = default_timings
        self._world = world
        self._tokens: dict[str, Token] = {}

    @classmethod
    def open(
        cls,
        seed: Mapping[str, Any],
        *,
        timings: Timings,
        state_file: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Store:
        """Load ``state_file`` when it exists, else build the world from ``seed``; then save it."""
        document: Mapping[str, Any] = seed
        if state_file is not None and state_file.exists():
            document = json.loads(state_file.read_text(encoding="utf-8"))
        store = cls(
            load_world(document, now=clock(), timings=timings),
            default_timings=timings,
            state_file=state_file,
            clock=clock,
        )
        store._save()
        return store

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def read(self) -> Iterator[World]:
        """The settled world, locked for the duration of the block."""
        with self.lock:
            if self._settle():
                self._save()
            yield self._world

    @contextmanager
    def write(self) -> Iterator[World]:
        """Like ``read``; the world is saved when the block ends without an exception."""
        with self.lock:
            self._settle()
            yield self._world
            self._save()

    def reset(self, seed: Mapping[str, Any]) -> World:
        """Replace the whole world with ``seed`` (SeedError when malformed) and revoke every token."""
        world = load_world(seed, now=self.clock(), timings=self.default_timings)
        with self.lock:
            self._world = world
            self._tokens.clear()
            self._save()
        return world

    def dump(self) -> dict[str, Any]:
        with self.read() as world:
            return dump_world(world)

    def configure(self, **timings: float) -> Timings:
        """Change lifecycle timings (``creating_seconds``, ``deleting_seconds``); unknown keys: KeyError."""
        with self.write() as world:
            for key, value in timings.items():
                if not hasattr(world.timings, key):
                    raise KeyError(key)
                setattr(world.timings, key, float(value))
            return Timings(world.timings.creating_seconds, world.timings.deleting_seconds)

    def issue_token(self, user: User, project: Project | None) -> Token:
        now = self.clock()
        # NOTE: real tokens are several KB (§10.1); a long value exercises header limits honestly.
        token = Token("MII" + secrets.token_urlsafe(1536), user, project, now, now + TOKEN_LIFETIME)
        with self.lock:
            self._tokens[token.value] = token
        return token

    def find_token(self, value: str) -> Token | None:
        """The token when it was issued and has not expired."""
        with self.lock:
            token = self._tokens.get(value)
        return token if token is not None and token.expires_at > self.clock() else None

    def expire_tokens(self) -> int:
        """Make every issued token expire now; return how many there were."""
        now = self.clock()
        with self.lock:
            for token in self._tokens.values():
                token.expires_at = now
            return len(self._tokens)

    def _settle(self) -> bool:
        now = self.clock()
        changed = False
        for service in list(self._world.services.values()):
            if service.transition_at is None or service.transition_at > now:
                continue
            changed = True
            if service.status == "deleting":
                self._forget_service(service.id)
                continue
            if service.status == "creating":
                service.status = "available"
                service.updated_at = service.transition_at
            service.transition_at = None
        return changed

    def _forget_service(self, service_id: str) -> None:
        world = self._world
        del world.services[service_id]
        for conn in world.connections_of(service_id):
            del world.connections[conn.id]
        for perm in world.permissions_of(service_id):
            del world.permissions[perm.id]

    def _save(self) -> None:
        if self.state_file is None:
            return
        target = self.state_file
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", delete=False
        ) as handle:
            json.dump(dump_world(self._world), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
