"""Authentication for both modes (vpcep-api.md §10).

- ``AkSkAuth`` signs every request with the access key / secret key ("SDK-HMAC-SHA256").
- ``TokenAuth`` exchanges IAM user + password + domain for a project-scoped token, caches it in
  Django's cache framework (shared by every app process when the cache is Redis) until five minutes
  before ``expires_at``, and fetches a new one once after a 401 ``APIGW.0307``/``APIGW.0301``.

Secrets never reach a log line or a ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.cache import cache

from vpcepadmin.cloud.errors import CloudOutcomeUnknown, CloudUnavailable
from vpcepadmin.cloud.signing import DATE_HEADER, format_sdk_date, sign
from vpcepadmin.cloud.transport import OutgoingRequest, Transport
from vpcepadmin.cloud.types import parse_timestamp

TOKEN_MARGIN = timedelta(minutes=5)


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
        cache.delete(self.cache_key)
        return True

    def token(self, transport: Transport) -> str:
        cached = cache.get(self.cache_key)
        if isinstance(cached, str) and cached:
            return cached
        token, expires_at = self._fetch(transport)
        lifetime = (expires_at - self.clock() - TOKEN_MARGIN).total_seconds()
        if lifetime > 0:
            cache.set(self.cache_key, token, timeout=int(lifetime))
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
