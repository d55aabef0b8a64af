""" "Restore these values": the before-state of an applied change, for the normal edit flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vpcepadmin.audit.changes import restorable
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.cloud.editable import editable_values
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.request_values import parse_int

RECORD_PK_MAX = 2**62


@dataclass(frozen=True)
class Restored:
    record: AuditRecord
    values: dict[str, Any]


def restore_values(
    record_pk: str | None, credential: CloudCredential, service: EndpointService
) -> Restored | None:
    """The editable values before the change ``record_pk`` applied, if it belongs to this service."""
    pk = parse_int(record_pk, low=1, high=RECORD_PK_MAX)
    if pk is None:
        return None
    record = AuditRecord.objects.select_related("attempt").filter(pk=pk).first()
    if record is None or not restorable(record) or record.target_id != service.id:
        return None
    if record.project_id != credential.project_id:
        return None
    attempt = record.attempt
    if attempt is None or not isinstance(attempt.before, dict):
        return None
    try:
        before = EndpointService.from_api(attempt.before)
    except ValueError:
        return None
    values = editable_values(before)
    if service.server_type != "VIP":
        values.pop("vip_port_id", None)
    return Restored(record, values)


def restored_record(
    record_pk: int | None, credential: CloudCredential, service_id: str
) -> AuditRecord | None:
    """The record an apply says it restores — only if it is a restorable change of this service."""
    if not record_pk:
        return None
    record = AuditRecord.objects.select_related("attempt").filter(pk=record_pk).first()
    if record is None or not restorable(record):
        return None
    if record.target_id != service_id or record.project_id != credential.project_id:
        return None
    return record
