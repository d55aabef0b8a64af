"""What a cloud error proves about a change that was sent: the one mapping, used everywhere.

- a 4xx answer (401, 403 and 429 included) proves the cloud refused the request: ``rejected``;
- no request left this machine (the connection or the TLS handshake failed before the request
  was written): ``failed``, nothing can have happened;
- any other answer (5xx, 3xx, a malformed body) or none after sending does not prove that nothing
  happened — a gateway can apply a change and still answer 500 — so the outcome is ``unknown``
  and is reconciled by re-reading the target.

README.md ("The edit flow") shows the same table.
"""

from __future__ import annotations

from vpcepadmin.audit.models import Outcome
from vpcepadmin.cloud.errors import CloudError, CloudOutcomeUnknown, CloudUnavailable


def outcome_of(error: CloudError) -> Outcome:
    """The outcome a mutation's ``error`` proves (before any reconciliation)."""
    if isinstance(error, CloudOutcomeUnknown):
        return Outcome.UNKNOWN
    if 400 <= error.status < 500:
        return Outcome.REJECTED
    if error.status == 0 and isinstance(error, CloudUnavailable):
        return Outcome.FAILED  # the transport says it was never sent
    return Outcome.UNKNOWN
