"""One rule for "full page or partial" (style.md: a page is ``x.html`` including ``_x.html``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails


def wants_partial(request: HttpRequest) -> bool:
    """True for an htmx request that swaps a fragment (not a boosted link, not a history restore)."""
    htmx: HtmxDetails | None = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(
    request: HttpRequest, page: str, partial: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """Render ``partial`` for htmx fragment requests and ``page`` otherwise."""
    response = render(request, partial if wants_partial(request) else page, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
