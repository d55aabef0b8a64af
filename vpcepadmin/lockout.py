"""Brute force is stopped: django-axes with two limits, the trusted client address, and audit records.

The rule (README, "Sign-in protection"): after ``LOCKOUT_USER_FAILURES`` failed sign-ins for one
username from one client address, that pair is locked; after ``LOCKOUT_ADDRESS_FAILURES`` failures
from one address across usernames, the address is locked; each for ``LOCKOUT_MINUTES`` after the
failure that locked it. While locked, even the right password is refused, with the same answer
whether or not the user exists. axes keeps the failures in the database (``AccessAttempt``: one row
per username, address and user agent, with a count and the time of the last failure), so every app
process sees the same counts.

A lock begins with a ``LOCKED_OUT`` audit record; whoever ends it early (``/lockouts/``, axes'
``axes_reset*`` commands) leaves an ``UNLOCKED`` record. Locks that simply run out leave none.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.http import HttpRequest
from django.utils import timezone

from vpcepadmin.audit import security
from vpcepadmin.audit.models import Action, TargetType
from vpcepadmin.middleware import client_ip

USER, ADDRESS = "user", "address"


def client_address(request: HttpRequest) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address the audit log records (``client_ip``: the trusted proxy
    header when one is configured, else the peer), never a header the client may write.

    None when that is not an IP address (a misconfigured proxy): such requests are counted together,
    rather than the database refusing the value and the sign-in failing with a 500.
    """
    address = client_ip(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


def failure_limit(request: HttpRequest | None = None, credentials: dict[str, Any] | None = None) -> int:
    """``AXES_FAILURE_LIMIT``: the user limit, the scale ``TwoLimitHandler.get_failures`` answers on."""
    return int(settings.LOCKOUT_USER_FAILURES)


def cool_off(request: HttpRequest | None = None) -> timedelta:
    """``AXES_COOLOFF_TIME``: how long a lock lasts after the failure that set it."""
    return timedelta(minutes=settings.LOCKOUT_MINUTES)


@dataclass(frozen=True)
class Counts:
    """Failures within the cool-off time: of one username from one address, and of that address."""

    pair: int
    address: int


class TwoLimitHandler(AxesDatabaseHandler):  # type: ignore[misc]  # axes ships no types
    """axes' database handler with two limits where axes has one.

    axes compares one number, ``get_failures``, with one limit, ``AXES_FAILURE_LIMIT``: before a
    sign-in (refused when reached) and after a failure (which then locks). Both decisions go through
    ``get_failures``, so it answers on the user limit's scale: the username's failures from this
    address, raised to the user limit when the address has reached the address limit. Hence
    ``get_failures >= AXES_FAILURE_LIMIT`` exactly when the pair or the address is locked.
    """

    def counts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> Counts:
        """One query; only failures whose row was touched within the cool-off time count (as in axes)."""
        username = get_client_username(request, credentials)
        totals = AccessAttempt.objects.filter(
            _address(request.axes_ip_address),  # type: ignore[attr-defined]
            attempt_time__gte=get_cool_off_threshold(request),
        ).aggregate(
            address=Sum("failures_since_start"),
            pair=Sum("failures_since_start", filter=Q(username=username)),
        )
        return Counts(pair=totals["pair"] or 0, address=totals["address"] or 0)

    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        counts = self.counts(request, credentials)
        if counts.address >= settings.LOCKOUT_ADDRESS_FAILURES:
            return max(counts.pair, settings.LOCKOUT_USER_FAILURES)
        return counts.pair

    def reset_user_attempts(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """After a successful sign-in (``AXES_RESET_ON_SUCCESS``): that user's failures from that address
        only. axes would delete every failure of every lockout parameter, the address's included, so
        that whoever holds one account could spray other usernames and clear the address's count
        with a sign-in of their own."""
        username = get_client_username(request, credentials)
        deleted, _ = AccessAttempt.objects.filter(
            _address(request.axes_ip_address),  # type: ignore[attr-defined]
            username=username,
        ).delete()
        return int(deleted)

    def reset_attempts(
        self, *, ip_address: str | None = None, username: str | None = None, ip_or_username: bool = False
    ) -> int:
        """axes' reset (its ``axes_reset*`` commands, ``axes.utils.reset``), recording the locks it ends."""
        with recording_unlocks():
            count = super().reset_attempts(
                ip_address=ip_address, username=username, ip_or_username=ip_or_username
            )
        return int(count)


def _address(address: str | None) -> Q:
    return Q(ip_address=address) if address else Q(ip_address__isnull=True)


def _username(username: str | None) -> Q:
    return Q(username=username) if username else Q(username__isnull=True) | Q(username="")


# --- the locks in place ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Lock:
    """One lock in place: a username from an address (``USER``), or an address (``ADDRESS``)."""

    kind: str
    username: str  # "" for an address lock
    address: str  # "" when the address was unknown
    failures: int
    last_failure: datetime
    until: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.username, self.address)

    @property
    def target(self) -> str:
        """What the audit record names: the username, or the address."""
        return self.username if self.kind == USER else self.address or "unknown"

    def __str__(self) -> str:
        address = self.address or "an unknown address"
        return f"{self.username} from {address}" if self.kind == USER else address


def current_locks() -> list[Lock]:
    """Every lock in place now, the most recent failure first."""
    return _locks_among(AccessAttempt.objects.all())


def locks_from(address: str | None) -> list[Lock]:
    """The locks in place on ``address`` (None: unknown): its user locks and its own."""
    return _locks_among(AccessAttempt.objects.filter(_address(address)))


def _locks_among(attempts: QuerySet[Any]) -> list[Lock]:
    """The locks these failures make now, computed as ``TwoLimitHandler`` decides."""
    recent = attempts.filter(attempt_time__gte=timezone.now() - cool_off())
    pairs: dict[tuple[str, str], list[tuple[int, datetime]]] = defaultdict(list)
    addresses: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for username, address, failures, at in recent.values_list(
        "username", "ip_address", "failures_since_start", "attempt_time"
    ):
        pairs[(username or "", address or "")].append((failures, at))
        addresses[address or ""].append((failures, at))
    found = [
        *(_lock(USER, u, a, f, settings.LOCKOUT_USER_FAILURES) for (u, a), f in pairs.items()),
        *(_lock(ADDRESS, "", a, f, settings.LOCKOUT_ADDRESS_FAILURES) for a, f in addresses.items()),
    ]
    return sorted(
        (lock for lock in found if lock), key=lambda lock: (lock.last_failure, lock.key), reverse=True
    )


def _lock(
    kind: str, username: str, address: str, failures: list[tuple[int, datetime]], limit: int
) -> Lock | None:
    """The lock these failures make, if any. It lasts while the failures within the cool-off time
    reach the limit: until the newest failures that alone reach it are older than the cool-off."""
    newest_first = sorted(failures, key=lambda failure: failure[1], reverse=True)
    counted = 0
    for count, at in newest_first:
        counted += count
        if counted >= limit:
            total = sum(count for count, _ in failures)
            return Lock(kind, username, address, total, newest_first[0][1], at + cool_off())
    return None


def locks_of(username: str | None, address: str | None) -> list[Lock]:
    """The locks that refuse ``username`` from ``address``."""
    return [lock for lock in locks_from(address) if lock.kind == ADDRESS or lock.username == (username or "")]


# --- audit records ---------------------------------------------------------------------------------


def _facts(lock: Lock) -> dict[str, Any]:
    return {
        "failures": lock.failures,
        "address": lock.address,
        "until": lock.until.isoformat(timespec="seconds"),
    }


def _target_type(lock: Lock) -> str:
    return TargetType.USER if lock.kind == USER else TargetType.CLIENT_ADDRESS


def record_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    """axes' ``user_locked_out``: a ``LOCKED_OUT`` record for each lock the failure just set.

    axes sends the signal when a failure reaches a limit and again for every attempt refused while
    locked (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT`` off: refused attempts are not counted).
    Only the first is a new lock; a refused attempt is a failed sign-in already (audit signals).
    """
    if getattr(request, "axes_failures_since_start", None) is None:
        return  # refused while locked: no failure was counted, so no lock began
    for lock in locks_of(username, ip_address):
        security.record(
            Action.LOCKED_OUT,
            username=lock.target,
            request=request,
            target_type=_target_type(lock),
            after=_facts(lock),
        )


@contextmanager
def recording_unlocks(find: Callable[[], list[Lock]] = current_locks) -> Iterator[list[Lock]]:
    """Around a deletion of failures: an ``UNLOCKED`` record (by the request's user, or "system" in
    a command) for each lock ``find`` saw before that is gone after, in the same transaction. The
    list it yields holds those locks once the block ends."""
    released: list[Lock] = []
    with transaction.atomic():
        before = find()
        yield released
        after = {lock.key for lock in find()}
        released += [lock for lock in before if lock.key not in after]
        for lock in released:
            security.record(
                Action.UNLOCKED, username=lock.target, target_type=_target_type(lock), before=_facts(lock)
            )


def unlock(kind: str, username: str, address: str) -> list[Lock]:
    """End one lock early: delete the failures behind it, recording every lock that ends with them.

    A user lock clears that username's failures from that address (which may end the address's lock
    too); an address lock clears every failure from the address (and so its user locks). Returns the
    locks ended: none when it had run out already.
    """
    failures = AccessAttempt.objects.filter(_address(address))
    if kind == USER:
        failures = failures.filter(_username(username))
    with recording_unlocks(partial(locks_from, address)) as released:
        failures.delete()
    return released


def connect() -> None:
    """Called once by ``VpcepadminConfig.ready``."""
    user_locked_out.connect(record_lockout, dispatch_uid="lockout.record_lockout")
