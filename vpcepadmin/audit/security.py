"""Security events in the audit chain: sign-ins, lockouts, second factors, users and their roles.

Every event is an ordinary audit record (same chain, same immutability) with the actor, the client
address and the request id of the web request it happened in. Signals carry no request, so the
request being served is kept in ``vpcepadmin.current`` (set by ``RequestIdMiddleware``); an event
outside any request (a management command) is by "system".

Never recorded: a password, a TOTP secret or code, a recovery code, a session key.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import AuditRecord, Outcome, TargetType
from vpcepadmin.current import current_request


def _context(request: HttpRequest | None, actor: Any) -> recorder.Context:
    request = request or current_request.get()
    if request is None:
        return recorder.Context(actor=actor)
    context = recorder.context_from(request) if hasattr(request, "user") else _anonymous(request)
    if actor is not None:
        context.actor = actor
    return context


def _anonymous(request: HttpRequest) -> recorder.Context:
    context = recorder.context_from_address(request)
    context.actor = AnonymousUser()
    return context


def record(
    action: str,
    *,
    username: str,
    request: HttpRequest | None = None,
    actor: Any = None,
    target_type: str = TargetType.USER,
    before: Any = None,
    after: Any = None,
    reason: str = "",
    outcome: str = Outcome.RECORDED,
) -> AuditRecord:
    """Append one security event about ``username`` (or a client address, for an address lockout).

    ``actor`` overrides the request's user (e.g. the user who just signed in, or nobody).
    """
    return recorder.append(
        recorder.Entry(
            action=action,
            target_type=target_type,
            outcome=outcome,
            context=_context(request, actor),
            target_id=username[:64],
            target_name=username,
            reason=reason,
            before=before,
            after=after,
        )
    )
