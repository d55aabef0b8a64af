"""Authentication for both modes (vpcep-api.md §10).

- ``AkSkAuth`` signs every request with the access key / secret key ("SDK-HMAC-SHA256").
- ``TokenAuth`` exchanges IAM user + password + domain for a project-scoped token, caches it in
  Django's cache framework (shared by every app process when the cache is Redis) until five minutes
  before ``expires_at``, and fetches a new one once after a 401 ``APIGW.0307``/``APIGW.0301``.

The cache is an optimisation, never a dependency: when it fails (down, hung, refusing), tokens are
fetched for every call, the outage is logged once per process and kept in ``TOKEN_CACHE`` for the
admins' banner, and the cache is tried again at most every ``CACHE_RETRY_SECONDS``.

Secrets never reach a log line or a ``repr``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis
from django.core.cache import cache

from vpcepadmin.cloud.errors import CloudOutcomeUnknown, CloudUnavailable
from vpcepadmin.cloud.signing import DATE_HEADER, format_sdk_date, sign
from vpcepadmin.cloud.transport import OutgoingRequest, Transport
from vpcepadmin.cloud.types import parse_timestamp

TOKEN_MARGIN = timedelta(minutes=5)
# After a cache failure, how long calls skip the cache before one of them tries it again: a hung
# cache then costs one socket timeout per interval and process, not one per call.
CACHE_RETRY_SECONDS = 15.0
# What a failing cache raises: redis-py's errors (ConnectionError, TimeoutError, ...) and bare socket
# errors. Anything else is a bug and propagates.
CACHE_ERRORS: tuple[type[Exception], ...] = (redis.exceptions.RedisError, OSError)

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CacheOutage:
    """An outage of the token cache as seen by this process: nothing secret, only when and what."""

    since: datetime
    error: str  # the exception's class name, never its text (it may name the cache URL)


class TokenCacheHealth:
    """This process's view of the token cache; thread-safe.

    Guarantees: one warning when an outage begins and one info line when it ends, however many calls
    fail in between; while an outage lasts, ``usable()`` lets one call per ``retry_seconds`` try the
    cache and turns the others away.
    """

    def __init__(self, retry_seconds: float = CACHE_RETRY_SECONDS) -> None:
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._outage: CacheOutage | None = None
        self._retry_at = 0.0

    def outage(self) -> CacheOutage | None:
        return self._outage

    def usable(self) -> bool:
        """True when the caller should use the cache: no outage, or a retry is due (then it is claimed)."""
        if self._outage is None:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.retry_seconds
            return True

    def failed(self, error: Exception) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self.retry_seconds
            if self._outage is not None:
                return
            self._outage = CacheOutage(since=_utcnow(), error=type(error).__name__)
        logger.warning(
            "The shared cache is unavailable (%s): IAM tokens are fetched for every call until it "
            "answers again. Check VPCEPADMIN_CACHE_URL.",
            type(error).__name__,
        )

    def succeeded(self) -> None:
        if self._outage is None:
            return
        with self._lock:
            outage, self._outage = self._outage, None
        if outage is not None:
            logger.info("The shared cache answers again (unavailable since %s).", outage.since.isoformat())

    def reset(self) -> None:
        """Forget any outage, silently (for tests and for a process that reconfigures its cache)."""
        with self._lock:
            self._outage, self._retry_at = None, 0.0


TOKEN_CACHE = TokenCacheHealth()


def _cache_get(key: str) -> object:
    """The cached value, or None when there is none or the cache fails."""
    if not TOKEN_CACHE.usable():
        return None
    try:
        value = cache.get(key)
    except CACHE_ERRORS as exc:
        TOKEN_CACHE.failed(exc)
        return None
    TOKEN_CACHE.succeeded()
    return value


def _cache_write(write: Callable[[], object]) -> None:
    """Run a cache write (set, delete); a failing cache is noted, never raised."""
    if not TOKEN_CACHE.usable():
        return
    try:
        write()
    except CACHE_ERRORS as exc:
        TOKEN_CACHE.failed(exc)
        return
    TOKEN_CACHE.succeeded()


def token_cache_outage() -> CacheOutage | None:
    """The current outage, if any, after trying the cache once when a retry is due.

    So an outage that ended is not reported for ever just because no token was needed since.
    """
    if TOKEN_CACHE.outage() is not None:
        _cache_get("token-cache-probe")
    return TOKEN_CACHE.outage()


@dataclass(frozen=True)
class AkSkAuth:
    """Request signing with a permanent access key. The secret key only ever feeds the HMAC."""

    access_key: str
    secret_key: str = field(repr=False)
    project_id: str = ""
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False, compare=False)

    def headers(self, request: OutgoingRequest, transport: Transport) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Host": request.host,
            DATE_HEADER: format_sdk_date(self.clock()),
        }
        if self.project_id:
            headers["X-Project-Id"] = self.project_id
        headers["Authorization"] = sign(
            method=request.method,
            path=request.path,
            query_pairs=request.query,
            headers=headers,
            body=request.body,
            access_key=self.access_key,
            secret_key=self.secret_key,
        )
        return headers

    def refresh(self) -> bool:
        return False


@dataclass
class TokenAuth:
    """An IAM password login scoped to one project; the token is cached under ``cache_key``.

    ``cache_key`` must change whenever the user, password, domain or project changes (the
    credentials app derives it from the account's id and secret version), so a stale token is
    never reused and the key itself holds nothing secret.
    """

    iam_endpoint: str
    username: str
    password: str = field(repr=False)
    domain_name: str
    project_id: str
    cache_key: str
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False)

    def headers(self, request: OutgoingRequest, transport: Transport) -> dict[str, str]:
        return {"X-Auth-Token": self.token(transport)}

    def refresh(self) -> bool:
        _cache_write(lambda: cache.delete(self.cache_key))
        return True

    def token(self, transport: Transport) -> str:
        """A token for the next call: the cached one, else a fresh one (cached when the cache works)."""
        cached = _cache_get(self.cache_key)
        if isinstance(cached, str) and cached:
            return cached
        token, expires_at = self._fetch(transport)
        lifetime = (expires_at - self.clock() - TOKEN_MARGIN).total_seconds()
        if lifetime > 0:
            _cache_write(lambda: cache.set(self.cache_key, token, timeout=int(lifetime)))
        return token

    def _fetch(self, transport: Transport) -> tuple[str, datetime]:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "password": self.password,
                            "domain": {"name": self.domain_name},
                        }
                    },
                },
                "scope": {"project": {"id": self.project_id}},
            }
        }
        request = OutgoingRequest(
            "POST",
            self.iam_endpoint.rstrip("/"),
            "/v3/auth/tokens",
            query=[("nocatalog", "true")],
            body=json.dumps(body).encode("utf-8"),
        )
        # NOTE: IAM answers 201 with the token in the X-Subject-Token header (vpcep-api.md §10.1).
        try:
            response = transport.send(request, auth=None)
        except CloudOutcomeUnknown as exc:
            # A token request changes nothing: an unanswered one is simply unavailable.
            raise CloudUnavailable(exc.message, status=exc.status) from exc
        token = response.headers.get("X-Subject-Token", "")
        token_body = response.body.get("token", {}) if isinstance(response.body, dict) else {}
        expires_at = parse_timestamp(token_body.get("expires_at") if isinstance(token_body, dict) else None)
        if not token or expires_at is None:
            raise CloudUnavailable("IAM answered without a token.", status=response.status)
        return token, expires_at
