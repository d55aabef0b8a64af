"""How every page shows a time: absolute in UTC, with the relative time beside it.

``{% load times %}{% when value %}`` renders
``<time datetime="2026-11-29T05:24:00Z">2026-11-29 05:24:00 UTC</time> <span …>(3 hours ago)</span>``;
``{% when value "never" %}`` names what a missing time means (default "—"), and ``micro=True`` keeps
the microseconds (an audit record's own time), ``plain=True`` leaves the relative time unstyled (inside
a badge, where muted text would be unreadable). Rows built in Python (the audit list, the service
table) call ``when_html`` so that the format is defined once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()
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


@register.simple_tag
def when(value: object, empty: str = "—", micro: bool = False, plain: bool = False) -> SafeString:
    """``{% when value %}``, ``{% when value "never" %}``, ``{% when value micro=True %}``."""
    # A missing variable reaches a tag as "" (``string_if_invalid``): no time, as None.
    return when_html(value if isinstance(value, datetime) else None, empty, micro=micro, plain=plain)
