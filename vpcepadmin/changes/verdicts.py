"""What re-reading a service proves about a change whose answer did not prove its outcome.

The service as it is now is compared with both the state before the change (kept on the attempt,
``updated_at`` included) and the requested values, and its ``updated_at`` with the change's time
window (from the attempt to the moment its PUT can last have landed):

- exactly as before, ``updated_at`` unchanged → **not applied**: nothing touched the service;
- the requested values (the rest as before), last updated inside the window → **applied**;
- anything else → **undetermined**: the service changed again since (or in another way), so
  neither state tells the truth. That is final and says why, for a person to review — the
  reconciler never guesses, and never leaves an attempt "still unknown" for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vpcepadmin.audit.models import Outcome
from vpcepadmin.cloud.editable import ServiceChanges, editable_values
from vpcepadmin.cloud.types import EndpointService, format_timestamp

# The cloud stamps updated_at by its clock, we stamp the window by ours (both NTP-synced).
CLOCK_TOLERANCE = timedelta(seconds=5)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str


def judge(before: Any, body: Any, current: EndpointService, window_end: datetime) -> Verdict:
    """The outcome of a change from ``before`` (the API snapshot on the attempt) asking for
    ``body``, given the service is now ``current`` and its PUT could land until ``window_end``."""
    try:
        was = EndpointService.from_api(before)
    except ValueError:
        return Verdict(Outcome.UNDETERMINED, "The attempt keeps no readable state before the change.")
    old, now = editable_values(was), editable_values(current)
    requested = {**old, **(body if isinstance(body, dict) else {})}
    u0, u = was.updated_at, current.updated_at
    if ServiceChanges.between(old, now).is_empty() and u == u0:
        return Verdict(
            Outcome.RECONCILED_NOT_APPLIED,
            f"The service is exactly as before the change (last updated {when(u)}).",
        )
    if ServiceChanges.between(requested, now).is_empty() and u is not None and u0 is not None:
        if u0 <= u <= window_end + CLOCK_TOLERANCE:
            return Verdict(
                Outcome.RECONCILED_APPLIED,
                f"The service holds the requested values, last updated {when(u)}, "
                f"within the change's window (until {when(window_end)}).",
            )
        return Verdict(
            Outcome.UNDETERMINED,
            f"The service holds the requested values, but it was last updated {when(u)}, after the "
            f"change's window (until {when(window_end)}): another change may have set them.",
        )
    return Verdict(
        Outcome.UNDETERMINED,
        f"The service changed since the attempt (last updated {when(u)}; before: {when(u0)}) and "
        "holds neither the state before nor the requested values.",
    )


def when(moment: datetime | None) -> str:
    return format_timestamp(moment) if moment else "(not reported)"
