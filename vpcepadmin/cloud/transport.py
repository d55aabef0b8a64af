"""The network policy for every cloud call (reliability.md §5.3, the documented configuration).

- one keep-alive ``requests.Session`` per origin and thread; redirects are never followed;
- every attempt has a (connect, read) timeout, and the whole call — retries and back-off included —
  a total deadline that also bounds a body dripped byte by byte (a read timeout alone does not);
- response bodies are capped in size;
- GETs are retried on connection errors, 429, 502, 503 and 504 with capped, jittered back-off and a
  capped ``Retry-After``; PUT, POST and DELETE are never retried automatically (the only second
  send is after a 401 token expiry, which the gateway answers before the request reaches the API);
- a failure before the request left (refused, unresolvable, TLS handshake) is ``CloudUnavailable``
  even for a mutation; a failure after it may have left is ``CloudOutcomeUnknown`` for a mutation;
- a certificate or protocol error is never retried (it does not fix itself), and its error says
  why in the operator's words ("The endpoint's TLS certificate is not trusted.");
- certificates are checked against the system's CA store, or ``ca_bundle`` when one is set;
- every new connection resolves the host once and connects only to addresses the address policy
  allows (``addresses``, ``connections``): loopback only with ``allow_loopback``, never a private,
  link-local or metadata address — checked when connecting, not only when an account was saved;
- nothing secret is logged: one line per attempt with method, path, status, duration, the cloud's
  request id and a fixed-text reason for a failure, never headers or bodies.

Per call the transport costs little beyond the HTTP exchange itself: the request is prepared exactly
as ``Session.request`` would prepare it, without its generic setting merges (``_prepare``), and a
JSON answer is decoded with orjson (``decode_json``, exactly what ``json.loads`` would return).
"""

from __future__ import annotations

import functools
import http.cookiejar
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson
import requests
import urllib3.exceptions
from requests.cookies import RequestsCookieJar

from vpcepadmin.cloud import timing
from vpcepadmin.cloud.connections import CheckedAdapter
from vpcepadmin.cloud.errors import (
    TOKEN_REFRESH_CODES,
    CloudAuthError,
    CloudError,
    CloudOutcomeUnknown,
    CloudUnavailable,
    classify,
    parse_error_body,
)
from vpcepadmin.cloud.failures import (
    CA_BUNDLE_MISSING,
    CONNECT_TIMEOUT,
    READ_TIMEOUT,
    RESET,
    Broken,
    Failure,
    NotSent,
    connection_failure,
    was_reset,
)
from vpcepadmin.cloud.signing import canonical_query

logger = logging.getLogger("vpcepadmin.cloud")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# NOTE: for a mutation these answers come from a gateway that may have forwarded the request.
UNKNOWN_OUTCOME_STATUSES = frozenset({502, 504})
READ_CHUNK = 64 * 1024
# The shortest run of digits that may be an integer orjson cannot hold (outside -2**63 .. 2**64-1).
_LONG_NUMBER = b"0" * 19
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))  # digit -> "0"


@dataclass(frozen=True)
class NetworkPolicy:
    """Timeouts in seconds; ``deadline`` bounds a whole call including retries."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    deadline: float = 20.0
    max_body_bytes: int = 5 * 1024 * 1024
    get_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 4.0
    retry_after_max: float = 10.0
    # A CA file or hashed directory to trust instead of the system's store ("" = the system's).
    ca_bundle: str = ""
    # Whether a connection may go to a loopback address (the simulator; from_settings() takes
    # VPCEPADMIN_SIMULATOR). Private, link-local and metadata addresses never.
    allow_loopback: bool = False

    @classmethod
    def from_settings(cls) -> NetworkPolicy:
        from django.conf import settings

        return cls(
            connect_timeout=settings.CLOUD_CONNECT_TIMEOUT,
            read_timeout=settings.CLOUD_READ_TIMEOUT,
            deadline=settings.CLOUD_DEADLINE,
            max_body_bytes=settings.CLOUD_MAX_BODY_BYTES,
            get_retries=settings.CLOUD_GET_RETRIES,
            backoff_base=settings.CLOUD_BACKOFF_BASE,
            backoff_max=settings.CLOUD_BACKOFF_MAX,
            retry_after_max=settings.CLOUD_RETRY_AFTER_MAX,
            ca_bundle=settings.CLOUD_CA_BUNDLE,
            allow_loopback=settings.SIMULATOR_ENABLED,
        )


@dataclass
class OutgoingRequest:
    """What to send. ``query`` pairs are sent in canonical order, exactly as AK/SK signs them."""

    method: str
    base_url: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # The caller's own deadline (the transport's clock), e.g. what is left of a whole change.
    deadline_at: float | None = None

    @property
    def url(self) -> str:
        query = canonical_query(self.query)
        return f"{self.base_url}{self.path}" + (f"?{query}" if query else "")

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    @property
    def mutating(self) -> bool:
        return self.method.upper() != "GET"


@dataclass(frozen=True)
class CloudResponse:
    """A successful (2xx) answer. ``headers`` are kept out of ``repr`` (IAM puts a token there)."""

    status: int
    body: Any
    cloud_request_id: str
    elapsed: float
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


class Auth(Protocol):
    """Adds authentication headers to each attempt; may refresh once after a 401."""

    def headers(self, request: OutgoingRequest, transport: Transport) -> dict[str, str]: ...

    def refresh(self) -> bool: ...


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


_local = threading.local()


def _session_for(origin: str, allow_loopback: bool) -> requests.Session:
    """This thread's session for ``origin`` under that loopback rule (a connection kept alive under
    one rule is never reused under the other)."""
    sessions: dict[tuple[str, bool], requests.Session] = getattr(_local, "sessions", {})
    _local.sessions = sessions
    session = sessions.get((origin, allow_loopback))
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxies or netrc credentials picked up from the environment
        # Shared by every account calling this origin from this thread: a cookie one account's
        # answer sets must never travel with another's request, so none is ever kept.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = CheckedAdapter(
            allow_loopback=allow_loopback, pool_connections=1, pool_maxsize=4, max_retries=0
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        sessions[(origin, allow_loopback)] = session
    return session


def _prepare(
    session: requests.Session, request: OutgoingRequest, headers: Mapping[str, str]
) -> requests.PreparedRequest:
    """What ``session.request(method, url, data=body or None, headers=headers)`` prepares, field for
    field (a test compares the two), without ``Session.prepare_request``'s generic setting merges:
    those check each setting against ``typing`` protocols and cost more than the rest of our own
    work for a call. The steps are ``PreparedRequest.prepare``'s, in its order.

    Our sessions keep requests' defaults (``_session_for``): no session auth, params or hooks, so
    only the headers (requests' defaults, then ours, names case-insensitive) and a copy of the
    session's cookies are merged.
    """
    merged: dict[str, tuple[str, str | bytes | None]] = {}
    for name, value in session.headers.items():
        merged[name.lower()] = (name, value)
    for name, value in headers.items():
        merged[name.lower()] = (name, value)
    prepared = requests.PreparedRequest()
    prepared.prepare_method(request.method.upper())
    url = request.url
    prepared.url = _prepared_url(url)
    prepared.prepare_headers({name: value for name, value in merged.values() if value is not None})
    cookies = RequestsCookieJar()
    cookies.update(session.cookies)  # a copy, as merge_cookies makes it
    prepared.prepare_cookies(cookies)
    prepared.prepare_body(request.body or None, None)
    prepared.prepare_auth(None, url)
    prepared.prepare_hooks(None)
    return prepared


@functools.lru_cache(maxsize=1024)
def _prepared_url(url: str) -> str:
    """The URL as ``PreparedRequest.prepare_url`` writes it (a pure function of the URL; an invalid
    one raises each time, as that is never cached)."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return str(prepared.url)


def decode_json(body: bytes) -> Any:
    """``json.loads(body)``, decoded by orjson. The answers differ only where orjson refuses the text
    (NaN, a byte-order mark, a lone surrogate, ...) or cannot hold an integer (it makes a float of
    one outside 64 bits, only possible in a run of 19 digits or more): then ``json.loads`` decides."""
    if _LONG_NUMBER not in body.translate(_DIGITS_ONLY):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


class Transport:
    """Sends requests under a ``NetworkPolicy`` and maps every failure onto ``errors``."""

    def __init__(
        self,
        policy: NetworkPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or NetworkPolicy()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    def send(self, request: OutgoingRequest, auth: Auth | None) -> CloudResponse:
        started = self._clock()
        deadline_at = started + self.policy.deadline
        if request.deadline_at is not None:
            deadline_at = min(deadline_at, request.deadline_at)
        attempt, refreshed = 0, False
        while True:
            attempt += 1
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if auth is not None:
                headers.update(auth.headers(request, self))
            try:
                answer = self._exchange(request, headers, deadline_at)
            except Failure as exc:
                self._log(request, attempt, 0, started, "", str(exc))
                if not request.mutating and self._may_retry(exc, attempt, deadline_at):
                    self._sleep(self._backoff(attempt, deadline_at))
                    continue
                raise self._transport_error(request, exc) from exc
            request_id = answer.headers.get("X-Request-Id", "")
            self._log(request, attempt, answer.status, started, request_id)
            if 200 <= answer.status < 300:
                return self._success(request, answer, started, request_id)
            error = self._http_error(request, answer, request_id)
            if not refreshed and self._token_expired(error) and auth is not None and auth.refresh():
                refreshed = True
                continue
            if self._retryable_answer(request, answer, attempt):
                delay = self._retry_delay(answer, attempt, deadline_at)
                if delay is not None:
                    self._sleep(delay)
                    continue
            raise error

    # --- one attempt ------------------------------------------------------------------------------
    def _exchange(self, request: OutgoingRequest, headers: dict[str, str], deadline_at: float) -> _Answer:
        started = time.perf_counter()
        try:
            return self._exchange_once(request, headers, deadline_at)
        finally:
            timing.add(time.perf_counter() - started)  # the request's Server-Timing, when measured

    def _exchange_once(
        self, request: OutgoingRequest, headers: dict[str, str], deadline_at: float
    ) -> _Answer:
        remaining = deadline_at - self._clock()
        if remaining <= 0:
            raise NotSent("The call's time was used up before it could be sent.")
        session = _session_for(request.base_url, self.policy.allow_loopback)
        timeout = (min(self.policy.connect_timeout, remaining), min(self.policy.read_timeout, remaining))
        try:
            prepared = _prepare(session, request, headers)
            response = session.send(
                prepared,
                timeout=timeout,
                allow_redirects=False,
                # What Session.request merges from the session (trust_env is off): no proxies, no cert.
                proxies=dict(session.proxies),
                stream=True,
                verify=self._verify(),
                cert=session.cert,
            )
        except requests.ConnectTimeout as exc:
            raise NotSent(CONNECT_TIMEOUT) from exc
        except requests.ReadTimeout as exc:
            raise Broken(READ_TIMEOUT) from exc
        except requests.ConnectionError as exc:
            raise connection_failure(exc) from exc
        except requests.RequestException as exc:
            raise NotSent(f"The request could not be made ({type(exc).__name__}).") from exc
        with response:
            body = self._read_body(response, deadline_at)
            return _Answer(response.status_code, response.headers, body)

    def _verify(self) -> bool | str:
        """What ``requests`` checks certificates against; checked here, before anything is sent,
        because ``requests`` reports a missing bundle with a bare ``OSError``."""
        bundle = self.policy.ca_bundle
        if not bundle:
            return True
        if not os.path.exists(bundle):
            raise NotSent(CA_BUNDLE_MISSING, retryable=False)
        return bundle

    def _read_body(self, response: requests.Response, deadline_at: float) -> bytes:
        chunks: list[bytes] = []
        total = 0
        raw = response.raw
        sock = getattr(raw.connection, "sock", None) if raw.connection is not None else None
        try:
            while True:
                remaining = deadline_at - self._clock()
                if remaining <= 0:
                    raise Broken(self._late_body(), retryable=False)
                if sock is not None:
                    sock.settimeout(min(self.policy.read_timeout, remaining))
                chunk = raw.read1(READ_CHUNK)
                if not chunk:
                    return b"".join(chunks)
                total += len(chunk)
                if total > self.policy.max_body_bytes:
                    raise Broken(
                        f"The answer is larger than {self.policy.max_body_bytes} bytes.", retryable=False
                    )
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError, requests.RequestException) as exc:
            if deadline_at - self._clock() <= 0:
                raise Broken(self._late_body(), retryable=False) from exc
            if was_reset(exc):
                raise Broken(RESET) from exc
            raise Broken(f"The answer broke off while it was read ({type(exc).__name__}).") from exc
        finally:
            if sock is not None and sock.fileno() != -1:
                sock.settimeout(self.policy.read_timeout)

    def _late_body(self) -> str:
        return f"The answer did not arrive within the call's total deadline ({self.policy.deadline:g} s)."

    # --- outcomes ---------------------------------------------------------------------------------
    def _success(
        self, request: OutgoingRequest, answer: _Answer, started: float, request_id: str
    ) -> CloudResponse:
        body: Any = None
        if answer.body:
            try:
                body = decode_json(answer.body)
            except ValueError as exc:
                error_class = CloudOutcomeUnknown if request.mutating else CloudUnavailable
                raise error_class(
                    "The cloud answered with a body that is not JSON.",
                    status=answer.status,
                    cloud_request_id=request_id,
                ) from exc
        return CloudResponse(answer.status, body, request_id, self._clock() - started, dict(answer.headers))

    def _http_error(self, request: OutgoingRequest, answer: _Answer, request_id: str) -> CloudError:
        if 300 <= answer.status < 400:
            return CloudUnavailable(
                f"The cloud answered with a redirect (HTTP {answer.status}); redirects are never followed.",
                status=answer.status,
                cloud_request_id=request_id,
            )
        code, message = parse_error_body(answer.body)
        if request.mutating and answer.status in UNKNOWN_OUTCOME_STATUSES:
            return CloudOutcomeUnknown(
                message or f"HTTP {answer.status} from the gateway",
                status=answer.status,
                error_code=code,
                cloud_request_id=request_id,
            )
        return classify(answer.status, code, message, request_id)

    @staticmethod
    def _transport_error(request: OutgoingRequest, exc: Failure) -> CloudError:
        if isinstance(exc, Broken) and request.mutating:
            return CloudOutcomeUnknown(f"The {request.method} was sent but no usable answer came back. {exc}")
        return CloudUnavailable(str(exc))

    # --- retries ----------------------------------------------------------------------------------
    @staticmethod
    def _token_expired(error: CloudError) -> bool:
        return isinstance(error, CloudAuthError) and error.error_code in TOKEN_REFRESH_CODES

    def _retryable_answer(self, request: OutgoingRequest, answer: _Answer, attempt: int) -> bool:
        return (
            not request.mutating
            and answer.status in RETRYABLE_STATUSES
            and attempt <= self.policy.get_retries
        )

    def _may_retry(self, exc: Failure, attempt: int, deadline_at: float) -> bool:
        if not exc.retryable:
            return False
        return attempt <= self.policy.get_retries and deadline_at - self._clock() > 0

    def _backoff(self, attempt: int, deadline_at: float) -> float:
        ceiling = min(self.policy.backoff_max, self.policy.backoff_base * 2.0 ** (attempt - 1))
        delay = ceiling / 2 + self._jitter() * ceiling / 2
        return max(0.0, min(delay, deadline_at - self._clock()))

    def _retry_delay(self, answer: _Answer, attempt: int, deadline_at: float) -> float | None:
        """Seconds to wait before the next attempt, or None when the deadline does not allow one."""
        retry_after = _retry_after_seconds(answer.headers.get("Retry-After", ""))
        if retry_after is None:
            delay = self._backoff(attempt, deadline_at)
        else:
            delay = min(retry_after, self.policy.retry_after_max)
        if self._clock() + delay >= deadline_at:
            return None
        return delay

    def _log(
        self,
        request: OutgoingRequest,
        attempt: int,
        status: int,
        started: float,
        request_id: str,
        problem: str = "",
    ) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        elapsed_ms = (self._clock() - started) * 1000
        logger.info(
            "cloud %s %s -> %s in %.0f ms (attempt %d, cloud request id %s)%s",
            request.method,
            request.path,
            status or "no answer",
            elapsed_ms,
            attempt,
            request_id or "-",
            f": {problem}" if problem else "",
        )


def _retry_after_seconds(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
