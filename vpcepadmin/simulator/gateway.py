"""The API gateway in front of every ``/v1/...`` call: token or AK/SK authentication, then the project.

AK/SK requests are verified the way the cloud gateway does it (vpcep-api.md §10.2): the canonical
request is rebuilt from what was received — the raw path, the query decoded into pairs and
re-canonicalised, the exact values of the headers listed in ``SignedHeaders``, the SHA-256 of the raw
body bytes — with the pure functions of ``vpcepadmin.cloud.signing``, and ``X-Sdk-Date`` must be within
15 minutes of the gateway's clock. Failures answer as §9.3 and §13 say; a secret is never echoed.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from vpcepadmin.cloud import signing
from vpcepadmin.simulator.errors import apigw_error, vpcep_error
from vpcepadmin.simulator.state import Store
from vpcepadmin.simulator.validation import PROJECT_ID_RE
from vpcepadmin.simulator.wsgi import Request

# NOTE: the gateway rejects more than 15 minutes between X-Sdk-Date and its own clock (§10.2 step 1).
MAX_CLOCK_SKEW = timedelta(minutes=15)
# NOTE: inferred: without these two signed, neither the target host nor the skew rule is protected.
REQUIRED_SIGNED_HEADERS = ("host", "x-sdk-date")


@dataclass(frozen=True)
class Caller:
    """Who made an authenticated call, and which projects the call may address."""

    domain_id: str
    projects: frozenset[str]
    method: str  # "token" or "aksk"


def authenticate(request: Request, store: Store) -> Caller:
    """The caller of ``request``; ``ApiError`` (401 APIGW.0301 / APIGW.0307) when it is not one."""
    token = request.headers.get("x-auth-token")
    if token is not None:
        return _token_caller(token, store)
    parsed = signing.parse_authorization(request.headers.get("authorization", ""))
    if parsed is None:
        # NOTE: an Authorization header the gateway cannot parse counts as no credentials at all.
        raise apigw_error("APIGW.0301", "x-auth-token not found")
    return _aksk_caller(request, parsed, store)


def authorize(caller: Caller, project_id: str) -> None:
    """The path's project must look like a project id (400 EndPoint.0014) and belong to the caller (403)."""
    if not PROJECT_ID_RE.fullmatch(project_id):
        raise vpcep_error("EndPoint.0014")
    if project_id not in caller.projects:
        # NOTE: §13 leaves 400 EndPoint.0014 vs 403 EndPoint.0004 open; a foreign project is a 403.
        raise vpcep_error("EndPoint.0004")


def _token_caller(value: str, store: Store) -> Caller:
    token = store.find_token(value)
    if token is None:
        # NOTE: expired or unknown token → 401 APIGW.0307 "The token must be updated." (§9.3, §13).
        raise apigw_error("APIGW.0307")
    projects = frozenset({token.project.id}) if token.project is not None else frozenset()
    return Caller(token.user.domain_id, projects, "token")


def _aksk_caller(request: Request, parsed: signing.ParsedAuthorization, store: Store) -> Caller:
    _check_clock_skew(request.headers.get(signing.DATE_HEADER.lower(), ""), store)
    with store.read() as world:
        key = world.access_keys.get(parsed.access_key)
        projects = {p.id for p in world.projects.values() if key is not None and p.domain_id == key.domain_id}
    if key is None:
        raise apigw_error("APIGW.0301", f"Get secretKey failed,ak:{parsed.access_key},err:ak not exist")
    canonical = canonical_request(request, parsed.signed_headers)
    to_sign = signing.string_to_sign(canonical, request.headers.get(signing.DATE_HEADER.lower(), ""))
    expected = signing.signature(key.secret, to_sign)
    signed_enough = all(name in parsed.signed_headers for name in REQUIRED_SIGNED_HEADERS)
    if not signed_enough or not hmac.compare_digest(expected, parsed.signature):
        # NOTE: the gateway echoes its canonical request with "\n" shown as "|" (§9.3).
        shown = canonical.replace("\n", "|")
        raise apigw_error("APIGW.0301", f"verify aksk signature fail, canonicalRequest:{shown}")
    requested = request.headers.get("x-project-id")
    if requested is not None:
        # NOTE: X-Project-Id scopes an AK/SK call to one project (§0); it must be the caller's own.
        projects &= {requested}
    return Caller(key.domain_id, frozenset(projects), "aksk")


def _check_clock_skew(sdk_date: str, store: Store) -> None:
    try:
        sent = signing.parse_sdk_date(sdk_date)
    except ValueError:
        sent = None
    if sent is None or abs(store.now() - sent) > MAX_CLOCK_SKEW:
        raise apigw_error("APIGW.0301", "calc ak sk signature fail:signature expired")


def canonical_request(request: Request, signed_headers: list[str]) -> str:
    """The canonical request of what was received, exactly as the client must have signed it."""
    content_type = request.headers.get("content-type", "")
    if request.headers.get("x-sdk-content-sha256") == signing.UNSIGNED_PAYLOAD:
        body_hash = signing.UNSIGNED_PAYLOAD
    else:
        body_hash = signing.payload_hash(request.body, content_type)
    return signing.canonical_request(
        request.method,
        request.raw_path,
        signing.canonical_query(request.query),
        request.headers,
        signed_headers,
        body_hash,
    )
