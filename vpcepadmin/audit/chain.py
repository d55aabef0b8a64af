"""The hash chain: canonical JSON of a record and its hash (design.md §4, reliability.md §4.2)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# Every stored field except the id, the hash itself and the chain link (hashed separately as prev_hash).
HASHED_FIELDS = (
    "seq",
    "created_at",
    "actor_id",
    "actor_username",
    "source_ip",
    "request_id",
    "credential_id",
    "credential_name",
    "cloud",
    "region",
    "project_id",
    "target_type",
    "target_id",
    "target_name",
    "action",
    "reason",
    "before",
    "request_body",
    "after",
    "outcome",
    "http_status",
    "error_code",
    "error_message",
    "cloud_request_id",
    "duration_ms",
    "attempt_id",
    "restored_from_id",
)


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise TypeError(f"cannot hash a {type(value).__name__}")


def canonical_json(values: dict[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8 text; datetimes as UTC ISO strings with microseconds."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def record_hash(prev_hash: str, values: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(bytes.fromhex(prev_hash))
    digest.update(canonical_json(values).encode("utf-8"))
    return digest.hexdigest()


def hashed_values(record: Any) -> dict[str, Any]:
    """The values of ``HASHED_FIELDS`` read from a record (model instance or row object)."""
    return {name: getattr(record, name) for name in HASHED_FIELDS}
