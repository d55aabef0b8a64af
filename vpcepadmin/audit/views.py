"""Audit review pages and exports: read-only for everybody who may view the audit log."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from vpcepadmin import roles
from vpcepadmin.audit import export
from vpcepadmin.audit.detail import record_page
from vpcepadmin.audit.filters import AuditFilterForm
from vpcepadmin.audit.integrity import badge
from vpcepadmin.audit.models import AuditRecord
from vpcepadmin.audit.queries import page
from vpcepadmin.htmx import render_page
from vpcepadmin.request_values import parse_int

MAX_SEQ = 2**62 - 1  # far beyond any chain, well inside a bigint


def _cursor(request: HttpRequest, name: str) -> int | None:
    """A page's ``before``/``after`` sequence number; anything else is no cursor (the newest page)."""
    return parse_int(request.GET.get(name), low=1, high=MAX_SEQ)


@require_GET
@permission_required(roles.VIEW_AUDIT, raise_exception=True)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    audit_filter = form.audit_filter()
    records = page(
        audit_filter, settings.AUDIT_PAGE_SIZE, _cursor(request, "before"), _cursor(request, "after")
    )
    context = {
        "form": form,
        "filter": audit_filter,
        "page": records,
        "badge": badge(),
        "actors": User.objects.order_by("username").values_list("username", flat=True),
    }
    return render_page(request, "audit/list.html", "audit/_results.html", context)


@require_GET
@permission_required(roles.VIEW_AUDIT, raise_exception=True)
def audit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(
        AuditRecord.objects.select_related("attempt", "credential", "restored_from"), pk=pk
    )
    return render(request, "audit/detail.html", {"page": record_page(record)})


@require_GET
@permission_required(roles.VIEW_AUDIT, raise_exception=True)
def audit_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    return export.response(AuditFilterForm(request.GET).audit_filter(), export.CSV)


@require_GET
@permission_required(roles.VIEW_AUDIT, raise_exception=True)
def audit_export_json(request: HttpRequest) -> StreamingHttpResponse:
    return export.response(AuditFilterForm(request.GET).audit_filter(), export.JSON)
