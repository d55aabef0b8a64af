"""Helpers shared by the audit tests (this module holds no test).

* ``record(**fields)`` appends one record through the real recorder (defaults: an applied change to
  a service), for tests about the audit pages themselves;
* ``change(account, service_id, actor, **values)`` applies a real change through the edit flow's use
  case against the simulator, leaving the attempt and outcome records the product writes;
* ``tamper(sql)`` changes the table behind the application's back, as a database owner could;
* ``text(response)`` is what a reader sees of a page;
* ``change_records()`` are the records of changes to the cloud, oldest first (without the security
  events that signing users in and creating them leave).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.db import connection, transaction

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, AuditRecord
from vpcepadmin.cloud.editable import editable_values
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints.modify import EditRequest, Loaded, load_for_edit, modify_endpoint_service
from vpcepadmin.endpoints.versioning import read_version

SERVICE_ID = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
ANCHOR_KEY = "test-only-anchor-key-0123456789-abcdefghijklmnop"


def change_records() -> list[AuditRecord]:
    return list(AuditRecord.objects.filter(action=Action.MODIFY_ENDPOINT_SERVICE).order_by("seq"))


def record(**fields: Any) -> AuditRecord:
    """One record written by the recorder; ``actor`` may be a user, ``context`` a recorder.Context."""
    actor = fields.pop("actor", None)
    source_ip = fields.pop("source_ip", "192.0.2.10")
    context = fields.pop("context", None) or recorder.Context(
        actor=actor, source_ip=source_ip, request_id=uuid.uuid4().hex
    )
    entry: dict[str, Any] = {
        "action": "modify_endpoint_service",
        "target_type": "endpoint_service",
        "outcome": "applied",
        "target_id": SERVICE_ID,
        "target_name": "web",
        "reason": "CHG-1: routine",
        "request_body": {"description": "new"},
    }
    entry.update(fields)
    return recorder.append(recorder.Entry(context=context, **entry))


def change(
    account: CloudCredential, service_id: str, actor: Any = None, reason: str = "CHG-42: test", **values: Any
) -> Any:
    """Load the service, change ``values`` and apply them as the edit flow does; the ApplyResult."""
    loaded = load_for_edit(account, service_id)
    assert isinstance(loaded, Loaded), loaded
    version = read_version(loaded.version, account, service_id)
    assert version is not None
    restored_from = values.pop("restored_from", None)
    wanted = editable_values(loaded.service) | values
    context = recorder.Context(actor=actor, source_ip="198.51.100.7", request_id=uuid.uuid4().hex)
    return modify_endpoint_service(
        account, service_id, version, EditRequest(wanted, reason, restored_from), context
    )


def tamper(sql: str, params: list[object] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # owner-level: triggers off
        cursor.execute(sql, params or [])


def text(response: Any) -> str:
    """What a reader sees: the page without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
