"""The navigation's Notifications entry: for admins, with the number of failed deliveries."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from vpcepadmin import roles
from vpcepadmin.notify import status


def notifications(request: HttpRequest) -> dict[str, object]:
    """``notify_failures``: read only where a template shows it, and only for an admin (no query when
    no destination is configured)."""
    return {"notify_failures": SimpleLazyObject(lambda: _failures_for(request))}


def _failures_for(request: HttpRequest) -> int:
    user = getattr(request, "user", None)
    if user is None or not user.has_perm(roles.CHANGE_ACCOUNT):
        return 0
    return status.recent_failures()
