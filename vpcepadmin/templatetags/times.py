"""``{% load times %}{% when value %}``: a time as every page shows it (``vpcepadmin.times``).

``{% when value "never" %}`` names what a missing time means (default "—"), ``micro=True`` keeps the
microseconds (an audit record's own time), ``plain=True`` leaves the relative time unstyled (inside a
badge, where muted text would be unreadable).
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.safestring import SafeString

from vpcepadmin.times import when_html

register = template.Library()


@register.simple_tag
def when(value: object, empty: str = "—", micro: bool = False, plain: bool = False) -> SafeString:
    """``{% when value %}``, ``{% when value "never" %}``, ``{% when value micro=True %}``."""
    # A missing variable reaches a tag as "" (``string_if_invalid``): no time, as None.
    return when_html(value if isinstance(value, datetime) else None, empty, micro=micro, plain=plain)
