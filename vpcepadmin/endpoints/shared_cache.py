"""Pages' own use of the shared cache (the pending queue, the approvals badge): an optimisation,
never a dependency. While the cache fails, the pages read what they need themselves and the outage
is noted once, with the same health record as the IAM tokens (``cloud.auth.TOKEN_CACHE``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from vpcepadmin.cloud.auth import CACHE_ERRORS, TOKEN_CACHE

T = TypeVar("T")


def cache_call(call: Callable[[], T]) -> T | None:
    """``call`` on the shared cache, or None while the cache fails (noted once, as for tokens)."""
    if not TOKEN_CACHE.usable():
        return None
    try:
        result = call()
    except CACHE_ERRORS as exc:
        TOKEN_CACHE.failed(exc)
        return None
    TOKEN_CACHE.succeeded()
    return result
