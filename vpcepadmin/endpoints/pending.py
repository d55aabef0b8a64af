"""The pending queue: every connection waiting for approval (``pendingAcceptance``) in an account.

Guarantees of ``pending_queue`` for one account:

- it lists the account's services (one call per 1000), then asks each service that requires
  approval — and only those — for its pending connections, at most ``MAX_CALLS`` calls at a time,
  all of them ending within one deadline (``settings.CLOUD_DEADLINE``) however many services there are;
- the connections come back oldest first, across services;
- a failing service list is the account's ``ReadProblem``; a failing connection list names its
  service with its problem, and the other services' connections are still there;
- an answer is cached per account for at most ``CACHE_SECONDS`` as plain data with the time it was
  read (the key holds the account's id and its ``updated_at``, so an edited account is read again);
  ``refresh`` bypasses the cache. An account whose service list failed is not cached.

``known_total`` is what the navigation's badge shows: the pending connections of every account read
in the last ``CACHE_SECONDS``, from the cache alone (no SQL, no cloud): each account's count has an
entry of its own, and the list of those entries' keys is kept by ``accounts()`` (the page that lists
every account) — so concurrent readers never overwrite each other's counts.

The cache is an optimisation, never a dependency: while it fails, queues are read from the cloud each
time and the badge shows nothing (the same health record as the IAM tokens', ``cloud.auth``).

Threads: the worker threads only call the cloud, through the account's one client. A ``VpcepClient``
may be shared across threads: its transport keeps one ``requests.Session`` per thread and origin
(``cloud/transport.py``, as a session is not guaranteed thread-safe), ``AkSkAuth`` is immutable and
``TokenAuth`` keeps its token in Django's cache, whose connections are per thread (the service list,
called first in the request's thread, fetches the token the workers then find there). No database
query runs in a worker thread: the account is read, and its success or failure noted, in the
request's own thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import MAX_PAGE_SIZE, connection_list, endpoint_service_list_all
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.cloud.fanout import in_parallel
from vpcepadmin.cloud.types import Connection, EndpointService
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.credentials.services import client_for, note_failure, note_success
from vpcepadmin.endpoints.services import ReadProblem
from vpcepadmin.endpoints.shared_cache import cache_call

PENDING = "pendingAcceptance"
CACHE_SECONDS = 30
ACCOUNTS_KEY = "pending:accounts"  # the count keys of every stored account
ACCOUNTS_SECONDS = 24 * 3600  # a stale list only names counts that have expired
_NEVER = datetime.max.replace(tzinfo=UTC)
T = TypeVar("T")


@dataclass(frozen=True)
class PendingConnection:
    service_id: str
    service_name: str
    connection: Connection


@dataclass(frozen=True)
class ServiceFailure:
    """A service whose pending connections could not be read."""

    service_id: str
    service_name: str
    problem: ReadProblem


@dataclass(frozen=True)
class PendingQueue:
    """One account's pending connections as read at ``read_at``, or the account's ``problem``."""

    read_at: datetime
    connections: tuple[PendingConnection, ...] = ()
    failures: tuple[ServiceFailure, ...] = ()
    services_asked: int = 0
    problem: ReadProblem | None = None

    @property
    def age_seconds(self) -> int:
        return max(0, int((timezone.now() - self.read_at).total_seconds()))


def accounts() -> list[CloudCredential]:
    """Every stored account (one query); notes their count keys for the badge (``known_total``)."""
    credentials = list(CloudCredential.objects.all())
    cache_call(lambda: cache.set(ACCOUNTS_KEY, [_count_key(c) for c in credentials], ACCOUNTS_SECONDS))
    return credentials


def pending_queue(credential: CloudCredential, *, refresh: bool = False) -> PendingQueue:
    """The account's pending connections, oldest first: from the cache when read less than
    ``CACHE_SECONDS`` ago (unless ``refresh``), else from the cloud (and then cached)."""
    if not refresh:
        cached = _from_cache(cache_call(lambda: cache.get(_queue_key(credential))))
        if cached is not None:
            return cached
    queue = _read(credential)
    if queue.problem is None:
        _remember(credential, queue)
    return queue


def known_total() -> int | None:
    """The pending connections of the accounts read in the last ``CACHE_SECONDS`` (None: none was)."""
    keys = cache_call(lambda: cache.get(ACCOUNTS_KEY))
    if not isinstance(keys, list) or not keys:
        return None
    entries = cache_call(lambda: cache.get_many(keys)) or {}
    counts = [entry[0] for entry in entries.values() if _fresh_count(entry)]
    return sum(counts) if counts else None


# --- reading ------------------------------------------------------------------------------------------


def _read(credential: CloudCredential) -> PendingQueue:
    read_at = timezone.now()
    try:
        client = client_for(credential).until(time.monotonic() + settings.CLOUD_DEADLINE)
        services = [s for s in endpoint_service_list_all(client) if s.approval_enabled]
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return PendingQueue(read_at, problem=ReadProblem.from_error(exc))
    found: list[PendingConnection] = []
    failures: list[ServiceFailure] = []
    errors: list[CloudError] = []
    for service, result in zip(services, in_parallel(_pending_of(client), services), strict=True):
        if isinstance(result, CloudError):
            errors.append(result)
            failures.append(ServiceFailure(service.id, service.name, ReadProblem.from_error(result)))
        else:
            found += (PendingConnection(service.id, service.name, conn) for conn in result)
    if errors:
        note_failure(credential, errors[0])
    else:
        note_success(credential)
    found.sort(key=lambda p: (p.connection.created_at or _NEVER, p.service_name, p.connection.id))
    return PendingQueue(read_at, tuple(found), tuple(failures), len(services))


def _pending_of(client: VpcepClient) -> Callable[[EndpointService], list[Connection] | CloudError]:
    """What a worker thread runs for one service: its pending connections (every page), or the error."""

    def pending(service: EndpointService) -> list[Connection] | CloudError:
        connections: list[Connection] = []
        try:
            while True:
                page = connection_list(
                    client, service.id, status=PENDING, limit=MAX_PAGE_SIZE, offset=len(connections) or None
                )
                connections += page.connections
                if not page.connections or len(connections) >= page.total_count:
                    return connections
        except CloudError as exc:
            return exc

    return pending


# --- the cache: plain data only, so that an entry outlives a change of these classes ----------------


def forget(credential: CloudCredential) -> None:
    """Drop the account's cached queue and count: a connection of it was just accepted or rejected
    here, so the next look reads the cloud instead of showing it as still waiting."""
    keys = [_queue_key(credential), _count_key(credential)]
    cache_call(lambda: cache.delete_many(keys))


def _queue_key(credential: CloudCredential) -> str:
    return f"pending:queue:{credential.pk}:{credential.updated_at.timestamp():.6f}"


def _count_key(credential: CloudCredential) -> str:
    return f"pending:count:{credential.pk}:{credential.updated_at.timestamp():.6f}"


def _remember(credential: CloudCredential, queue: PendingQueue) -> None:
    read_at = queue.read_at.timestamp()
    entry = {
        "read_at": read_at,
        "services_asked": queue.services_asked,
        "connections": [
            {"service_id": p.service_id, "service_name": p.service_name, "connection": p.connection.to_api()}
            for p in queue.connections
        ],
        "failures": [
            {
                "service_id": f.service_id,
                "service_name": f.service_name,
                "message": f.problem.message,
                "error_code": f.problem.error_code,
                "cloud_request_id": f.problem.cloud_request_id,
            }
            for f in queue.failures
        ],
    }
    count_key = _count_key(credential)
    values = {_queue_key(credential): entry, count_key: [len(queue.connections), read_at]}
    cache_call(lambda: cache.set_many(values, CACHE_SECONDS))
    # The list is made by ``accounts()``; an account opened by itself before that (or added, or
    # edited since) joins it here.
    keys = cache_call(lambda: cache.get(ACCOUNTS_KEY))
    if keys is None:
        cache_call(lambda: cache.add(ACCOUNTS_KEY, [count_key], ACCOUNTS_SECONDS))
    elif isinstance(keys, list) and count_key not in keys:
        cache_call(lambda: cache.set(ACCOUNTS_KEY, [*keys, count_key], ACCOUNTS_SECONDS))


def _from_cache(entry: Any) -> PendingQueue | None:
    """The queue of a cache entry read less than ``CACHE_SECONDS`` ago; None for anything else."""
    if not isinstance(entry, dict) or not _recent(entry.get("read_at")):
        return None
    try:
        connections = tuple(
            PendingConnection(
                item["service_id"], item["service_name"], Connection.from_api(item["connection"])
            )
            for item in entry["connections"]
        )
        failures = tuple(
            ServiceFailure(
                item["service_id"],
                item["service_name"],
                ReadProblem(item["message"], item["error_code"], item["cloud_request_id"]),
            )
            for item in entry["failures"]
        )
        read_at = datetime.fromtimestamp(entry["read_at"], UTC)
        return PendingQueue(read_at, connections, failures, int(entry["services_asked"]))
    except (KeyError, TypeError, ValueError):  # written by another version: read the cloud again
        return None


def _fresh_count(entry: Any) -> bool:
    return isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int) and _recent(entry[1])


def _recent(read_at: Any) -> bool:
    """True for a time (a POSIX timestamp) less than ``CACHE_SECONDS`` ago. The cache's own expiry
    is the first limit; this one also holds where it is coarser (Redis: whole seconds)."""
    if not isinstance(read_at, int | float):
        return False
    age = timezone.now() - datetime.fromtimestamp(read_at, UTC)
    return timedelta(0) <= age < timedelta(seconds=CACHE_SECONDS)
