"""A target's last observed state (``models.Snapshot``): what a change to it is, and how a change of
ours moves it (in the transaction of its outcome record, so it is never reported as outside drift)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.chain import canonical_json
from vpcepadmin.audit.models import OUTSIDE_ACTOR, Action, Outcome, TargetType
from vpcepadmin.changes.models import Snapshot
from vpcepadmin.changes.targets import Target
from vpcepadmin.cloud.editable import canonical, editable_values
from vpcepadmin.cloud.types import EndpointService
from vpcepadmin.credentials.models import CloudCredential

SERVICE = str(TargetType.ENDPOINT_SERVICE)
OUTSIDE = recorder.Context(actor_name=OUTSIDE_ACTOR)
CONNECTIONS, WHITELIST = "connections", "whitelist"  # the other parts of a service observed
UNSETTLED = ""  # the fingerprint of a snapshot taken while a change of ours was in flight


def fingerprint(service: EndpointService) -> str:
    """What a change to a service is: its editable values (mappings as a set) and its status.
    ``updated_at`` is left out: a touch that changes nothing is no change."""
    values = canonical(editable_values(service))
    values["status"] = service.status
    return hashlib.sha256(canonical_json(values).encode("utf-8")).hexdigest()


def part_print(state: dict[str, Any]) -> str:
    """The fingerprint of a part of a service (its connections or its whitelist): its canonical JSON."""
    return hashlib.sha256(canonical_json(state).encode("utf-8")).hexdigest()


def part_changed(target: Target, part: str, change: Callable[[dict[str, Any]], None]) -> None:
    """A change of ours took effect on a part of the target (``part``: "connections" or "whitelist"):
    its snapshot, if that part is observed, is changed the same way. In the outcome's transaction."""
    row = Snapshot.objects.filter(
        cloud=target.cloud, region=target.region, project_id=target.project_id, target_type=part,
        target_id=target.target_id,
    ).first()  # fmt: skip
    if row is None:
        return
    state = dict(row.state)
    change(state)
    row.state, row.fingerprint, row.observed_at = state, part_print(state), timezone.now()
    row.save(update_fields=["state", "fingerprint", "observed_at"])


def record_applied(target: Target, state: EndpointService) -> None:
    """A change of ours took effect: the target's snapshot (if it is observed) becomes ``state``.
    Called inside the transaction that appends the outcome record."""
    Snapshot.objects.filter(
        cloud=target.cloud, region=target.region, project_id=target.project_id, target_type=SERVICE,
        target_id=target.target_id,
    ).update(
        state=state.to_api(), fingerprint=fingerprint(state), cloud_updated_at=state.updated_at,
        observed_at=timezone.now(),
    )  # fmt: skip


def observed_entry(
    credential: CloudCredential, action: str, service: EndpointService, before: Any
) -> recorder.Entry:
    """An observed change, new service (``before`` None) … of ``service``, by "outside vpcepadmin"."""
    return recorder.Entry(
        action=action, target_type=SERVICE, outcome=Outcome.APPLIED, context=OUTSIDE,
        credential=credential, target_id=service.id, target_name=service.name or service.id, before=before,
        after=service.to_api(),
    )  # fmt: skip


def catch_up(credential: CloudCredential, target: Target, state: EndpointService) -> bool:
    """Just before a change of ours is attempted on a service read as ``state``: when its snapshot
    (if it is observed) holds another state, that difference was made outside — record it first
    and move the snapshot, so that our outcome's snapshot, which includes it, does not swallow it.
    In the attempt's transaction. Whether the service is observed (has a snapshot)."""
    row = Snapshot.objects.filter(
        cloud=target.cloud, region=target.region, project_id=target.project_id, target_type=SERVICE,
        target_id=target.target_id,
    ).first()  # fmt: skip
    if row is None:
        return False
    if row.fingerprint in (UNSETTLED, fingerprint(state)):
        return True
    recorder.append(observed_entry(credential, Action.OBSERVED_CHANGE, state, row.state))
    row.state, row.fingerprint = state.to_api(), fingerprint(state)
    row.cloud_updated_at, row.observed_at = state.updated_at, timezone.now()
    row.save(update_fields=["state", "fingerprint", "cloud_updated_at", "observed_at"])
    return True
