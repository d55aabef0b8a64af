"""How numbers and ids from a request are read: one strict way, used by every view and form.

``str.isdigit()`` accepts ``²`` and ``int()`` accepts ``١٢٣`` and ``1_000``; neither belongs in a
URL or a form of ours. A request value is a number only when it is 1 to 18 ASCII digits (optionally
after a minus sign where a field allows it) inside the bounds the caller names; anything else is
"not given" to a view and a field error to a form — never an exception.

Dates and times likewise: ASCII ISO 8601 only, in UTC, and between 2000 and 9000 by default, so that
a minute or a day added to one never overflows.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from django import forms

_DIGITS = re.compile(r"-?[0-9]{1,18}")


def parse_int(value: object, *, low: int, high: int) -> int | None:
    """``value`` as an int in ``[low, high]``, or None when it is anything else."""
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if low <= number <= high else None


class StrictIntegerField(forms.IntegerField):
    """An ``IntegerField`` that accepts ASCII digits only (Django's accepts any Unicode digit)."""

    default_error_messages = {"invalid": "Enter a whole number (digits 0–9)."}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if not _DIGITS.fullmatch(text):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return int(text)


# ``YYYY-MM-DD``, optionally ``THH:MM`` (or a space), ``:SS``, ``.ffffff`` and ``Z`` or ``±HH:MM``.
_DATETIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[T ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,6}))?)?)?"
    r"(?P<zone>Z|[+-](?P<zone_hours>[0-9]{2}):(?P<zone_minutes>[0-9]{2}))?"
)
# Far enough from datetime's limits that a minute or a day either side is still a datetime.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def read_datetime(value: object) -> datetime | None:
    """``value`` as an aware UTC datetime when it is an ASCII ISO 8601 date or time, else None.

    A value without an offset is UTC. Any range is accepted: bound it with ``parse_datetime``.
    """
    if not isinstance(value, str):
        return None
    match = _DATETIME.fullmatch(value.strip())
    if match is None:
        return None
    number = {
        name: int(match[name] or 0) for name in ("hour", "minute", "second", "zone_hours", "zone_minutes")
    }
    offset = timedelta(hours=number["zone_hours"], minutes=number["zone_minutes"])
    try:
        zone = timezone(-offset if (match["zone"] or "").startswith("-") else offset)
        moment = datetime(
            int(match["year"]), int(match["month"]), int(match["day"]), number["hour"], number["minute"],
            number["second"], int((match["fraction"] or "").ljust(6, "0")), tzinfo=zone,
        )  # fmt: skip
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # month 13, hour 24, an offset of a day, 0001-01-01 at +01:00
        return None


def parse_datetime(value: object, *, low: datetime = EARLIEST, high: datetime = LATEST) -> datetime | None:
    """``value`` as an aware UTC datetime in ``[low, high]``, or None when it is anything else."""
    moment = read_datetime(value)
    return moment if moment is not None and low <= moment <= high else None


class StrictDateTimeField(forms.Field):
    """A date and time in UTC, as ASCII ISO 8601 (what ``<input type="datetime-local">`` sends),
    between ``low`` and ``high`` (by default 2000-01-01 and 9000-12-31, so that arithmetic on it
    never leaves datetime's range)."""

    default_error_messages = {
        "invalid": "Enter a valid date/time.",
        "out_of_range": "Enter a date/time between %(low)s and %(high)s.",
    }

    def __init__(self, *, low: datetime = EARLIEST, high: datetime = LATEST, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            moment: datetime | None = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        else:
            moment = read_datetime(str(value))
        if moment is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if not self.low <= moment <= self.high:
            raise forms.ValidationError(
                self.error_messages["out_of_range"],
                code="out_of_range",
                params={"low": f"{self.low:%Y-%m-%d}", "high": f"{self.high:%Y-%m-%d}"},
            )
        return moment
