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


def canonical_json(values: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text; datetimes as UTC ISO strings with microseconds."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def record_hash(prev_hash: str, values: dict[str, Any], texts: dict[str, str] | None = None) -> str:
    """``texts``: the canonical JSON of some of the values, already made (``canonical_document``)."""
    digest = hashlib.sha256()
    digest.update(bytes.fromhex(prev_hash))
    document = canonical_json(values) if not texts else canonical_document(values, texts)
    digest.update(document.encode("utf-8"))
    return digest.hexdigest()


def canonical_document(values: dict[str, Any], texts: dict[str, str]) -> str:
    """``canonical_json(values)``, the values named in ``texts`` written as those texts (each the
    ``canonical_json`` of its value, made once for its column too): a dict of string keys is its
    sorted items, each key and value in canonical JSON, joined by "," and ":" — as json.dumps writes it."""
    items = []
    for key in sorted(values):
        text = texts.get(key)
        items.append(f"{canonical_json(key)}:{text if text is not None else canonical_json(values[key])}")
    return "{" + ",".join(items) + "}"


# Records written since migration 0010 also hash the digest of their derived columns (summary and
# diff: ``derived_hash``), so that a change to those is a change to the record; records written
# before have none (the empty text) and hash without it — their derived columns are re-derived.
DERIVED_HASH = "derived_hash"


def derived_hash(summary: str | None, diff: Any, diff_text: str | None = None) -> str:
    """The digest of a record's derived columns: SHA-256 of the canonical JSON of ``[summary, diff]``
    (``diff_text``: the canonical JSON of ``diff``, when already made)."""
    if diff_text is None:
        diff_text = canonical_json(diff)
    return hashlib.sha256(f"[{canonical_json(summary)},{diff_text}]".encode()).hexdigest()


def hashed_values(record: Any) -> dict[str, Any]:
    """The values of ``HASHED_FIELDS`` read from a record (model instance or row object), and its
    ``derived_hash`` when it has one."""
    values = {name: getattr(record, name) for name in HASHED_FIELDS}
    digest = getattr(record, DERIVED_HASH, "")
    if digest:
        values[DERIVED_HASH] = digest
    return values
