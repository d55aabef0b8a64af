"""What the edit form carries between requests: the signed ``version`` token (design.md §2 step 1).

The API has no ETag and ``updated_at`` has second precision, so the token holds a fingerprint —
SHA-256 of the canonical JSON of the editable fields plus ``updated_at`` — and the editable values
as loaded (for the review diff), signed so that neither can be forged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing

from vpcepadmin.cloud.editable import canonical, editable_values
from vpcepadmin.cloud.types import EndpointService, format_timestamp
from vpcepadmin.credentials.models import CloudCredential

SALT = "vpcepadmin.endpoints.version"


def fingerprint(service: EndpointService) -> str:
    """SHA-256 of the editable fields (mappings as a set: their order carries no meaning) and
    ``updated_at``."""
    values = canonical(editable_values(service))
    values["updated_at"] = format_timestamp(service.updated_at)
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Version:
    service_id: str
    credential_id: int
    fingerprint: str
    original: dict[str, Any]
    server_type: str = ""
    status: str = ""

    @property
    def shows_vip(self) -> bool:
        """The "Virtual IP port ID" field is shown (and sent) for VIP backends only."""
        return self.server_type == "VIP"


def sign_version(credential: CloudCredential, service: EndpointService) -> str:
    payload = {
        "s": service.id,
        "c": credential.pk,
        "f": fingerprint(service),
        "o": editable_values(service),
        "t": service.server_type,
        "st": service.status,
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def read_version(token: str, credential: CloudCredential, service_id: str) -> Version | None:
    """The token's content, or None when it is forged, expired, or for another service or account."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.EDIT_VERSION_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("s") != service_id or payload.get("c") != credential.pk:
        return None
    if "st" not in payload:  # signed before the status was part of the token: load the form again
        return None
    original, server_type, status = dict(payload["o"]), str(payload.get("t", "")), str(payload["st"])
    return Version(service_id, credential.pk, str(payload["f"]), original, server_type, status)


REVIEW_SALT = "vpcepadmin.endpoints.reviewed"


@dataclass(frozen=True)
class Reviewed:
    """The values an operator reviewed (validated by the forms then), and what they restore."""

    values: dict[str, Any]
    restored_from: int | None = None


def sign_review(version: Version, values: dict[str, Any], restored_from: int | None) -> str:
    """What "Apply changes" sends back: the reviewed values, signed, so that exactly what was reviewed
    is applied — nothing can be changed between the review and the apply."""
    payload = {"s": version.service_id, "c": version.credential_id, "f": version.fingerprint}
    payload |= {"v": values, "r": restored_from}
    return signing.dumps(payload, salt=REVIEW_SALT, compress=True)


def read_review(token: str, version: Version) -> Reviewed | None:
    """The reviewed values, or None when forged, expired or made for another version of the form."""
    try:
        payload = signing.loads(token, salt=REVIEW_SALT, max_age=settings.EDIT_VERSION_MAX_AGE)
    except signing.BadSignature:
        return None
    expected = {"s": version.service_id, "c": version.credential_id, "f": version.fingerprint}
    if not isinstance(payload, dict) or any(payload.get(key) != value for key, value in expected.items()):
        return None
    restored = payload.get("r")
    return Reviewed(dict(payload["v"]), restored if isinstance(restored, int) else None)
