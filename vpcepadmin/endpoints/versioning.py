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

from vpcepadmin.audit.diff import mappings
from vpcepadmin.cloud.types import EndpointService, PortMapping, ServiceChanges, format_timestamp
from vpcepadmin.credentials.models import CloudCredential

SALT = "vpcepadmin.endpoints.version"
SCALAR_FIELDS = ("service_name", "description", "approval_enabled", "port_id", "vip_port_id", "tcp_proxy")


def editable_values(service: EndpointService) -> dict[str, Any]:
    """The fields an operator can change, as the form and the PUT body spell them."""
    return {
        "service_name": service.name,
        "description": service.description or "",
        "approval_enabled": service.approval_enabled,
        "port_id": service.port_id,
        "vip_port_id": service.vip_port_id or "",
        "tcp_proxy": service.tcp_proxy or "",
        "ports": [mapping.to_api() for mapping in service.ports],
    }


def fingerprint(service: EndpointService) -> str:
    values = editable_values(service)
    values["ports"] = mappings(values["ports"])  # order of mappings carries no meaning
    values["updated_at"] = format_timestamp(service.updated_at)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Version:
    service_id: str
    credential_id: int
    fingerprint: str
    original: dict[str, Any]
    server_type: str = ""

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
    return Version(
        service_id, credential.pk, str(payload["f"]), dict(payload["o"]), str(payload.get("t", ""))
    )


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


def changes_between(original: dict[str, Any], requested: dict[str, Any]) -> ServiceChanges:
    """The PUT for going from ``original`` to ``requested``: changed scalars, and the whole port
    list when the set of mappings changed (the API replaces the list; vpcep-api.md §5)."""
    # NOTE: a blank value equals a missing one (the cloud omits description/tcp_proxy in places).
    changed = {
        name: requested[name]
        for name in SCALAR_FIELDS
        if name in requested and (original.get(name) or "") != (requested[name] or "")
    }
    ports = None
    if "ports" in requested and mappings(requested["ports"]) != mappings(original.get("ports")):
        ports = tuple(PortMapping.from_api(item) for item in requested["ports"])
    return ServiceChanges(ports=ports, **changed)


def merge_onto(base: dict[str, Any], theirs: dict[str, Any], yours: dict[str, Any]) -> dict[str, Any]:
    """After a conflict: the current state (``theirs``) with only the fields the operator changed
    from what they loaded (``base``) taken from ``yours`` — a field somebody else changed and the
    operator did not touch keeps its new value."""
    merged = dict(theirs)
    for name, value in yours.items():
        if name == "ports":
            changed = mappings(value) != mappings(base.get("ports"))
        else:
            changed = (value or "") != (base.get(name) or "")
        if changed:
            merged[name] = value
    return merged
