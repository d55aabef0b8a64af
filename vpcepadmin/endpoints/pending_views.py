"""The pending queue across accounts (``/connections/pending/``): thin views over ``endpoints.pending``.

The page lists the accounts; each account's section is its own request (htmx ``load``), so a slow or
failing account holds up nobody else. Accept and Reject lead to the service's connection
confirmation (``action_views.connections_confirm``), the same flow as the Connections tab.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from vpcepadmin import roles
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints import pending
from vpcepadmin.endpoints.actions import connection_rows
from vpcepadmin.htmx import render_page


def _refresh(request: HttpRequest) -> bool:
    return request.GET.get("refresh") == "1"


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def pending_list(request: HttpRequest) -> HttpResponse:
    """Every account; each section loads its own queue."""
    context = {
        "accounts": pending.accounts(),
        "refresh": _refresh(request),
        "cache_seconds": pending.CACHE_SECONDS,
    }
    return render(request, "endpoints/pending.html", context)


@require_GET
@permission_required(roles.VIEW, raise_exception=True)
def pending_account(request: HttpRequest, pk: int) -> HttpResponse:
    """One account's section (htmx), or the whole page for that account (without JavaScript)."""
    credential = get_object_or_404(CloudCredential, pk=pk)
    queue = pending.pending_queue(credential, refresh=_refresh(request))
    can_modify = request.user.has_perm(roles.MODIFY)
    context = {"account": credential, "queue": queue, "rows": _rows(credential, queue, can_modify)}
    return render_page(request, "endpoints/pending.html", "endpoints/_pending_account.html", context)


def _rows(credential: CloudCredential, queue: pending.PendingQueue, can_modify: bool) -> list[dict[str, Any]]:
    """Each connection with, for operators, the signed token its Accept and Reject buttons send."""
    rows: list[dict[str, Any]] = []
    for item in queue.connections:
        [row] = connection_rows(credential, item.service_id, [item.connection], can_modify)
        rows.append({"item": item, **row})
    return rows
