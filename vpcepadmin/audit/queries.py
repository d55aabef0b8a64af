"""Read-side queries of the audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from vpcepadmin.audit.models import AuditRecord, TargetType
from vpcepadmin.credentials.models import CloudCredential

HISTORY_LIMIT = 50


def service_history(
    credential: CloudCredential, service_id: str, limit: int = HISTORY_LIMIT
) -> list[AuditRecord]:
    """The newest records about one service of one account (attempts and outcomes)."""
    records: QuerySet[AuditRecord] = AuditRecord.objects.filter(
        target_type=TargetType.ENDPOINT_SERVICE, target_id=service_id, project_id=credential.project_id
    )
    return list(records.order_by("-seq")[:limit])
