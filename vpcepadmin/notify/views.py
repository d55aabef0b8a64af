"""``/notifications/``: recent deliveries and their failures, for admins (who fix the configuration)."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from vpcepadmin import roles
from vpcepadmin.notify import status

# The admin role's: notifications are configured by the deployment, as stored accounts are managed.
SEE_NOTIFICATIONS = roles.CHANGE_ACCOUNT


@require_GET
@permission_required(SEE_NOTIFICATIONS, raise_exception=True)
def notification_list(request: HttpRequest) -> HttpResponse:
    return render(request, "notify/list.html", {"overview": status.overview()})
