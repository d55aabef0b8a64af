"""The web request being served, for code that signals call without one (the audit's security events).

Set and reset by ``RequestIdMiddleware`` around every request; None outside a request (commands).
"""

from __future__ import annotations

from contextvars import ContextVar

from django.http import HttpRequest

current_request: ContextVar[HttpRequest | None] = ContextVar("current_request", default=None)
