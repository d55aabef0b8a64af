"""``VpcepClient``: one account's project-scoped view of the VPCEP v1 API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from vpcepadmin.cloud.signing import query_value
from vpcepadmin.cloud.transport import Auth, CloudResponse, NetworkPolicy, OutgoingRequest, Transport


def path_segment(value: str) -> str:
    """Quote an id for a URL path; ``/`` and ``..`` cannot escape the resource path."""
    return quote(value, safe="")


@dataclass
class VpcepClient:
    """Calls ``{endpoint}/v1/{project_id}/…`` with ``auth``; the project comes from the stored account."""

    endpoint: str
    project_id: str
    auth: Auth
    transport: Transport = field(default_factory=lambda: Transport(NetworkPolicy.from_settings()))
    deadline_at: float | None = None  # time.monotonic(): no call of this client runs past it

    def until(self, deadline_at: float) -> VpcepClient:
        """This client, with every call ending by ``deadline_at`` (e.g. a whole change's budget)."""
        return replace(self, deadline_at=deadline_at)

    def call(
        self,
        method: str,
        resource: str,
        *,
        query: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> CloudResponse:
        """Send ``method`` to ``/v1/{project_id}/{resource}``; ``None`` query values are left out."""
        pairs = [(key, query_value(value)) for key, value in (query or {}).items() if value is not None]
        payload = (
            json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() if body is not None else b""
        )
        request = OutgoingRequest(
            method=method,
            base_url=self.endpoint.rstrip("/"),
            path=f"/v1/{path_segment(self.project_id)}/{resource}",
            query=pairs,
            body=payload,
            deadline_at=self.deadline_at,
        )
        return self.transport.send(request, self.auth)
