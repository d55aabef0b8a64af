""" "Restore these values": the before-state of an applied change, for the normal edit flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vpcepadmin.audit.models import Action, AuditRecord, Outcome
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints.versioning import editable_values

RESTORABLE = (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)


@dataclass(frozen=True)
class Restored:
    record: AuditRecord
    values: dict[str, Any]


def restorable(record: AuditRecord) -> bool:
    """A record of an applied change to an endpoint service whose attempt kept the before-state."""
    return (
        record.action == Action.MODIFY_ENDPOINT_SERVICE
        and record.outcome in RESTORABLE
        and record.attempt is not None
        and isinstance(record.attempt.before, dict)
    )


def restore_values(
    record_pk: str | None, credential: CloudCredential, service: EndpointService
) -> Restored | None:
    """The editable values before the change ``record_pk`` applied, if it belongs to this service."""
    if not record_pk or not record_pk.isdigit():
        return None
    record = AuditRecord.objects.select_related("attempt").filter(pk=int(record_pk)).first()
    if record is None or not restorable(record) or record.target_id != service.id:
        return None
    if record.project_id != credential.project_id:
        return None
    attempt = record.attempt
    if attempt is None or not isinstance(attempt.before, dict):
        return None
    before = EndpointService.from_api(attempt.before)
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
