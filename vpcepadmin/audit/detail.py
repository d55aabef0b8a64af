"""Everything the page of one record shows, gathered with a fixed number of queries.

The diff is the requested change against the state before, as stored with the record when it was
written (``changes.stored_changes``; verify_audit checks it against the content); the panels show
the stored JSON exactly (keys sorted, indented); "restore these values" is offered on an applied
change to a service of an account that still exists, through the rule the edit flow itself applies
(``changes.restorable``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from vpcepadmin.audit.changes import restorable, state_before, stored_changes, undo_of
from vpcepadmin.audit.diff import FieldChange
from vpcepadmin.audit.integrity import RecordChainStatus, record_status
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.audit.queries import Neighbours, neighbours
from vpcepadmin.audit.rows import Row, row_for


@dataclass(frozen=True)
class RecordPage:
    record: AuditRecord
    row: Row
    changes: list[FieldChange]
    before_json: str
    before_source: AuditRecord | None
    request_json: str
    after_json: str
    neighbours: Neighbours
    restore: AuditRecord | None
    chain: RecordChainStatus


def pretty(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def record_page(record: AuditRecord) -> RecordPage:
    """``record`` must come with ``select_related("attempt", "credential", "restored_from")``."""
    related = neighbours(record)
    before = state_before(record)
    return RecordPage(
        record=record,
        row=row_for(record, summary=""),
        changes=stored_changes(record),
        before_json=pretty(before),
        before_source=record.attempt if record.before is None and before is not None else None,
        request_json=pretty(record.request_body),
        after_json=pretty(record.after),
        neighbours=related,
        restore=_restore_target(record, related),
        chain=record_status(record),
    )


def _restore_target(record: AuditRecord, related: Neighbours) -> AuditRecord | None:
    """The applied outcome whose before-values can be restored: this record, or its outcome."""
    if record.credential_id is None or record.credential is None:
        return None
    for candidate in (record, *related.outcomes):
        if candidate is not record:
            candidate.attempt = record  # the outcome's attempt is the record at hand
        if restorable(candidate) or undo_of(candidate) is not None:
            return candidate
    return None
