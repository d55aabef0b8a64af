"""How every page shows a time: absolute in UTC, with the relative time beside it, defined once.

``when_html`` renders ``<time datetime="2026-11-29T05:24:00Z">2026-11-29 05:24:00 UTC</time>
<span …>(3 hours ago)</span>``. Templates use it as ``{% load times %}{% when value %}``
(``templatetags/times.py``); rows built in Python (the audit list, the service table) call it. A
plain module, so that the layers below the pages (the audit log) can use it without importing them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

STYLED = '<time datetime="{}">{}</time> <span class="text-muted small">({})</span>'
PLAIN = '<time datetime="{}">{}</time> ({})'

UNITS = ((365 * 86400, "year"), (30 * 86400, "month"), (86400, "day"), (3600, "hour"), (60, "minute"))


def relative(moment: datetime, now: datetime) -> str:
    """``3 hours ago`` or ``in 14 minutes``: the largest whole unit (humanize's naturaltime, without
    its per-call cost)."""
    seconds = int((now - moment).total_seconds())
    if abs(seconds) < 60:
        return (
            "now"
            if abs(seconds) < 10
            else ("less than a minute ago" if seconds > 0 else "in less than a minute")
        )
    size, unit = next((size, unit) for size, unit in UNITS if abs(seconds) >= size)
    count = abs(seconds) // size
    span = f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{span} ago" if seconds > 0 else f"in {span}"


def when_html(
    moment: datetime | None,
    empty: str = "—",
    now: datetime | None = None,
    micro: bool = False,
    plain: bool = False,
) -> SafeString:
    """The one format of a time on a page; ``empty`` (escaped) for None."""
    if moment is None:
        return format_html("{}", empty)
    utc = moment.astimezone(UTC)
    seconds = "%S.%f" if micro else "%S"
    return format_html(
        PLAIN if plain else STYLED,
        utc.strftime(f"%Y-%m-%dT%H:%M:{seconds}Z"),
        utc.strftime(f"%Y-%m-%d %H:%M:{seconds} UTC"),
        relative(utc, now or timezone.now()),
    )
