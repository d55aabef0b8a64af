"""The edit flow's use cases (design.md §2): load and apply.

Guarantees of ``modify_endpoint_service``:
- one change at a time per cloud service, whatever stored account is used: the committed attempt
  holds the service until it has its outcome (``changes.targets``), across processes and crashes;
- the service is re-read and compared with the fingerprint the form was loaded with; on a
  mismatch nothing is sent (a conflict); a service that is not available is refused unrecorded;
- the attempt (before state, exact body, actor, reason) is committed to the audit log before the
  PUT; at most one outcome record follows it (exactly one once settled; the database enforces it);
- one PUT with only the changed fields (``ports`` complete when changed), never retried;
- an answer that does not prove the outcome is reconciled at once by re-reading; what the re-read
  cannot prove is "undetermined", never a guess; when it cannot re-read, the attempt stays open
  for ``reconcile_audit``;
- the whole apply ends within ``EDIT_APPLY_DEADLINE`` (``vpcepadmin.budget``);
- project, service id and endpoint come from the stored account, never from the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import AuditRecord, Outcome
from vpcepadmin.changes.kinds import ServiceUpdate
from vpcepadmin.changes.models import ChangeRequest
from vpcepadmin.changes.pipeline import Change, apply_change
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.editable import ServiceChanges, edit_refusal
from vpcepadmin.cloud.endpoint_services import CallResult, endpoint_service_get, endpoint_service_update
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints.services import ReadProblem, read_service
from vpcepadmin.endpoints.versioning import Version, fingerprint, sign_version
from vpcepadmin.policies.rules import Finding, Settings, service_findings


@dataclass(frozen=True)
class EditRequest:
    """What the operator asked for: the requested editable values, why, and what it restores."""

    values: dict[str, Any]
    reason: str
    restored_from: AuditRecord | None = None


@dataclass(frozen=True)
class Loaded:
    service: EndpointService
    version: str


def load_for_edit(credential: CloudCredential, service_id: str) -> Loaded | ReadProblem:
    """One GET: the service and the signed version token the form carries — only for a service
    that can be edited (``editable.edit_refusal``)."""
    service = read_service(credential, service_id)
    if isinstance(service, ReadProblem):
        return service
    refusal = edit_refusal(service.status)
    if refusal:
        return ReadProblem(refusal, not_editable=True)
    return Loaded(service, sign_version(credential, service))


def refusal_for(version: Version) -> ReadProblem | None:
    """Why a form loaded as ``version`` may not be reviewed or applied (the status it was loaded in)."""
    refusal = edit_refusal(version.status)
    return ReadProblem(refusal, not_editable=True) if refusal else None


@dataclass
class ApplyResult:
    """How an apply ended. ``outcome`` is an ``Outcome`` value, or "no_change" / "busy" / "unreadable"
    / "not_editable" / "forbidden" (by a policy) / "needs_approval". ``Outcome.UNKNOWN`` here means
    the attempt stays open (no outcome record yet)."""

    outcome: str
    message: str
    service: EndpointService | None = None
    error: CloudError | None = None
    record: AuditRecord | None = None
    fresh_version: str = ""
    ran_into: AuditRecord | None = None  # a conflict's: the logged change the service is now the result of

    @property
    def succeeded(self) -> bool:
        return self.outcome in (Outcome.APPLIED, Outcome.RECONCILED_APPLIED)


class ServiceEdit(Change):
    """The edit flow's change: compared by the fingerprint the form was loaded with, sent as one
    PUT with only the changed fields (``ports`` complete when changed)."""

    kind = ServiceUpdate

    def __init__(self, service_id: str, version: Version, request: EditRequest) -> None:
        super().__init__(service_id, request.reason, request.restored_from)
        self.version = version
        # What is sent depends only on the values loaded and requested, not on the re-read.
        self.changes = ServiceChanges.between(version.original, request.values)
        self.values = request.values

    def read(self, client: VpcepClient) -> EndpointService:
        return endpoint_service_get(client, self.service_id)

    def refusal(self, state: EndpointService) -> str | None:
        return edit_refusal(state.status) or None

    def conflicts(self, state: EndpointService) -> bool:
        return fingerprint(state) != self.version.fingerprint

    def body(self, state: EndpointService) -> dict[str, Any]:
        return self.changes.to_api()

    def send(self, client: VpcepClient, body: dict[str, Any]) -> CallResult[EndpointService]:
        return endpoint_service_update(client, self.service_id, self.changes)

    def name(self, state: EndpointService) -> str:
        return state.name or state.id

    def findings(self, rules: Settings, state: EndpointService) -> list[Finding]:
        return service_findings(rules, self.version.original, self.values, state.server_type)


def modify_endpoint_service(
    credential: CloudCredential,
    service_id: str,
    version: Version,
    request: EditRequest,
    context: recorder.Context,
    approval: ChangeRequest | None = None,
) -> ApplyResult:
    """Apply one reviewed change (design.md §2 step 5) through the change pipeline: one GET and at
    most one PUT (one more GET when the answer is lost, and a GET again after waiting for another
    change to the service)."""
    result = apply_change(credential, ServiceEdit(service_id, version, request), context, approval=approval)
    outcome = "not_editable" if result.outcome == "refused" else result.outcome
    service = result.value if result.succeeded else None
    if result.outcome in ("refused", Outcome.CONFLICT, "no_change"):
        service = result.state  # the service as re-read
    fresh = sign_version(credential, result.state) if result.outcome == Outcome.CONFLICT else ""
    return ApplyResult(outcome, result.message, service, result.error, result.record, fresh, result.ran_into)
