"""Anchors: (sequence, hash, time) of the chain, signed, kept outside the database.

A chain of hashes proves that nothing was changed *between* records, but whoever can write the
database can delete the newest records or recompute the whole chain. An anchor written elsewhere
(a JSON-lines file, ideally on append-only storage, and a log line) and signed with HMAC-SHA256
under a key that is not in the database (``VPCEPADMIN_AUDIT_ANCHOR_KEY``) makes both detectable:
an anchored record that is gone means a truncated tail, one with another hash a rewritten chain
(reliability.md §4.2). Anchoring reads one row and needs neither the app's secrets nor write access
to the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

logger = logging.getLogger("vpcepadmin.audit.anchors")
MIN_KEY_LENGTH = 32
SIGNED_FIELDS = ("kind", "seq", "hash", "at", "key_id")
HEAD, START = "head", "start"


class AnchorKeyMissing(Exception):
    """No usable signing key in the environment."""


@dataclass(frozen=True)
class Anchor:
    kind: str
    seq: int
    hash: str
    at: str
    line: int = 0


@dataclass(frozen=True)
class AnchorProblem:
    """``kind``: malformed, signature, truncated, rewritten, missing or start."""

    kind: str
    line: int
    seq: int | None
    detail: str


@dataclass(frozen=True)
class AnchorFile:
    anchors: list[Anchor]
    problems: list[AnchorProblem]


def signing_key() -> bytes:
    key = settings.AUDIT_ANCHOR_KEY
    if len(key) < MIN_KEY_LENGTH:
        raise AnchorKeyMissing(
            f"VPCEPADMIN_AUDIT_ANCHOR_KEY must be set to a secret of at least {MIN_KEY_LENGTH} characters "
            "(kept outside the database)."
        )
    return key.encode("utf-8")


def verification_keys() -> dict[str, bytes]:
    """The current key and the old ones (``VPCEPADMIN_AUDIT_ANCHOR_OLD_KEYS``) by key id: anchors
    signed before a rotation still verify while their key is listed."""
    keys = [signing_key(), *(old.encode("utf-8") for old in settings.AUDIT_ANCHOR_OLD_KEYS)]
    return {key_id(key): key for key in keys if len(key) >= MIN_KEY_LENGTH}


def key_id(key: bytes) -> str:
    """Names the key without revealing it (so that a line signed with another key says so)."""
    return hashlib.sha256(b"vpcepadmin-anchor-key:" + key).hexdigest()[:16]


def _signature(key: bytes, fields: dict[str, Any]) -> str:
    message = json.dumps(
        {name: fields[name] for name in SIGNED_FIELDS}, sort_keys=True, separators=(",", ":")
    )
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_line(kind: str, seq: int, record_hash: str, key: bytes, at: datetime | None = None) -> str:
    moment = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields: dict[str, Any] = {
        "kind": kind,
        "seq": seq,
        "hash": record_hash,
        "at": moment,
        "key_id": key_id(key),
    }
    fields["hmac"] = _signature(key, fields)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def write_anchor(kind: str, seq: int, record_hash: str, path: Path | None = None) -> str:
    """Append one signed line to the sink (and the log); durable when this returns."""
    line = signed_line(kind, seq, record_hash, signing_key())
    target = Path(path or settings.AUDIT_ANCHOR_FILE)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, (line + "\n").encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    logger.info("audit anchor %s", line)
    return line


def read_anchors(path: Path) -> AnchorFile:
    """Every line of the file, checked for form and signature; the problems say which lines fail."""
    keys = verification_keys()
    anchors: list[Anchor] = []
    problems: list[AnchorProblem] = []
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            parsed = _parse(text, number, keys)
            if isinstance(parsed, AnchorProblem):
                problems.append(parsed)
            else:
                anchors.append(parsed)
    return AnchorFile(anchors, problems)


def _parse(text: str, number: int, keys: dict[str, bytes]) -> Anchor | AnchorProblem:
    try:
        fields = json.loads(text)
        kind, seq, record_hash, at = fields["kind"], fields["seq"], fields["hash"], fields["at"]
        well_formed = isinstance(seq, int) and isinstance(record_hash, str) and kind in (HEAD, START)
    except (ValueError, KeyError, TypeError):
        well_formed = False
    if not well_formed:
        return AnchorProblem("malformed", number, None, f"line {number} is not an anchor")
    key = keys.get(str(fields.get("key_id")))
    if key is None:
        return AnchorProblem("signature", number, seq, f"line {number} (#{seq}) was signed with another key")
    if not hmac.compare_digest(str(fields.get("hmac", "")), _signature(key, fields)):
        return AnchorProblem("signature", number, seq, f"line {number} (#{seq}) has a wrong signature")
    return Anchor(kind, seq, record_hash, str(at), number)
