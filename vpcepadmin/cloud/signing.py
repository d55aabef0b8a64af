"""AK/SK request signing, "SDK-HMAC-SHA256" (vpcep-api.md §10.2).

Pure functions, no I/O: the client signs with them and the simulator's gateway verifies with them,
while the official SDK (a test dependency) is the independent check that both sides are right.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def _encode(value: str) -> str:
    # RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
    return quote(value, safe="-_.~")


def canonical_uri(path: str) -> str:
    """Decode, re-encode each segment, and end with "/" (the request itself is sent without it)."""
    # NOTE: the same paths are signed (and verified) again and again: short ones are remembered.
    return _remembered_uri(path) if len(path) <= 512 else _canonical_uri(path)


def _canonical_uri(path: str) -> str:
    segments = [_encode(unquote(segment)) for segment in path.split("/")]
    uri = "/".join(segments)
    return uri if uri.endswith("/") else uri + "/"


_remembered_uri = functools.lru_cache(maxsize=1024)(_canonical_uri)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Encode keys and values, sort by key then value, join ``k=v`` with ``&``."""
    encoded = sorted((_encode(key), _encode(value)) for key, value in pairs)
    return "&".join(f"{key}={value}" for key, value in encoded)


def query_value(value: object) -> str:
    """How the SDK renders a query value: booleans lower-case, everything else as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    # NOTE: names containing "_" are never signed (vpcep-api.md §10.2 step 4).
    return sorted({name.lower() for name in headers if "_" not in name})


def payload_hash(body: bytes, content_type: str) -> str:
    lowered = content_type.lower()
    if lowered and not (lowered.startswith("application/json") or lowered.startswith("application/bson")):
        return UNSIGNED_PAYLOAD
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: list[str],
    body_hash: str,
) -> str:
    """The string whose hash is signed. ``query`` must already be canonical."""
    lowered = {name.lower(): value for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered.get(name, '').strip()}\n" for name in signed_headers)
    return "\n".join(
        [method.upper(), canonical_uri(path), query, canonical_headers, ";".join(signed_headers), body_hash]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def format_sdk_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def parse_sdk_date(value: str) -> datetime:
    return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class ParsedAuthorization:
    access_key: str
    signed_headers: list[str]
    signature: str


def authorization_header(access_key: str, signed_headers: list[str], sig: str) -> str:
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed_headers)}, Signature={sig}"


def parse_authorization(value: str) -> ParsedAuthorization | None:
    """Parse ``SDK-HMAC-SHA256 Access=..., SignedHeaders=..., Signature=...``; None when malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            return None
        parts[key] = val
    if not {"Access", "SignedHeaders", "Signature"} <= parts.keys():
        return None
    names = [name for name in parts["SignedHeaders"].split(";") if name]
    return ParsedAuthorization(parts["Access"], names, parts["Signature"])


def sign(
    *,
    method: str,
    path: str,
    query_pairs: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
) -> str:
    """Return the Authorization header for a request whose headers already include X-Sdk-Date."""
    lowered = {name.lower(): value for name, value in headers.items()}
    names = signed_header_names(headers)
    canonical = canonical_request(
        method,
        path,
        canonical_query(query_pairs),
        headers,
        names,
        payload_hash(body, lowered.get("content-type", "")),
    )
    to_sign = string_to_sign(canonical, lowered[DATE_HEADER.lower()])
    return authorization_header(access_key, names, signature(secret_key, to_sign))
