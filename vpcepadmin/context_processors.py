"""Values every template may use."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from vpcepadmin import roles
from vpcepadmin.cloud.auth import token_cache_outage
from vpcepadmin.endpoints import approvals, pending
from vpcepadmin.permissions import role_names


def site(request: HttpRequest) -> dict[str, object]:
    return {
        "simulator_enabled": settings.SIMULATOR_ENABLED,
        "request_id": getattr(request, "request_id", ""),
        "cache_outage": _cache_outage_for(request),
        # The signed-in user's roles, from the query that read its permissions (read when shown).
        "user_roles": SimpleLazyObject(lambda: role_names(getattr(request, "user", None))),
        "pending_count": _pending_count_for(request),
        # The Approvals badge: open change requests (a cached count; read only where it is shown).
        "approvals_count": SimpleLazyObject(lambda: _approvals_count_for(request)),
    }


def _pending_count_for(request: HttpRequest) -> Callable[[], int | None]:
    """The navigation's Pending badge: connections waiting for approval, as far as the cache knows
    (None: nothing is known). A callable, so the template calls it only where it shows the badge;
    it costs two cache reads, no SQL and no cloud call, and only for a signed-in user."""

    @functools.cache
    def count() -> int | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return pending.known_total()

    return count


def _approvals_count_for(request: HttpRequest) -> int:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return approvals.open_count()


def _cache_outage_for(request: HttpRequest) -> object:
    """The token cache's outage for admins (who can fix the configuration), None for everyone else.

    Costs nothing while the cache is healthy: the user's permissions are only looked at during an
    outage.
    """
    outage = token_cache_outage()
    if outage is None:
        return None
    user = getattr(request, "user", None)
    if user is None or not user.has_perm(roles.CHANGE_ACCOUNT):
        return None
    return outage
