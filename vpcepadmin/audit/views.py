"""Audit review pages (read-only for everybody)."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from vpcepadmin import roles
from vpcepadmin.audit.models import AuditRecord


@require_GET
@permission_required(roles.VIEW_AUDIT, raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    records = AuditRecord.objects.order_by("-seq")[:50]
    return render(request, "audit/list.html", {"records": records})


@require_GET
@permission_required(roles.VIEW_AUDIT, raise_exception=True)
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(AuditRecord, pk=pk)
    return render(request, "audit/detail.html", {"record": record})
