"""Project-level views: the health check and the server-error page."""

from __future__ import annotations

import sys

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.utils import Error as DatabaseDriverError
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET
from django.views.defaults import server_error as default_server_error

# What "the database does not answer" looks like: connection refused or lost, server gone, locked.
# Other database errors (a missing table, a constraint) are bugs and get the normal 500 page.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)


def health_response() -> JsonResponse:
    """The health check's answer: 200 while the database answers ``SELECT 1``, else 503.

    Guarantees: no session, no user, no cloud call, one query; the body says what failed.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseDriverError:
        response = JsonResponse({"status": "degraded", "database": "unavailable"}, status=503)
    else:
        response = JsonResponse({"status": "ok", "database": "ok"})
    response["Cache-Control"] = "no-store"
    return response


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """``GET /healthz`` when it gets this far (``HealthCheckMiddleware`` normally answers first)."""
    return health_response()


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a plain 503 page when the database does not answer, else Django's 500 page.

    Both are rendered without a request, so without context processors: they touch no database,
    session or user, and they work whatever else is broken.
    """
    if _database_unavailable(sys.exc_info()[1]):
        # A POST may have reached the cloud before the database went away: promise nothing then.
        unsafe = request.method not in ("GET", "HEAD")
        return HttpResponse(render_to_string("503.html", {"unsafe": unsafe}), status=503)
    return default_server_error(request)


def _database_unavailable(error: BaseException | None) -> bool:
    """True when ``error``, or an error it was explicitly raised from, says the database is away."""
    seen = 0
    while error is not None and seen < 10:  # a bounded walk: a cause chain may loop
        if isinstance(error, UNAVAILABLE_ERRORS):
            return True
        error, seen = error.__cause__, seen + 1
    return False
