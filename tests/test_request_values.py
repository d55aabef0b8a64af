"""The one strict way a request's numbers and dates are read (``vpcepadmin.request_values``):
ASCII only, bounded, and anything else is "not given" or a form error — never an exception."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django import forms
from hypothesis import given
from hypothesis import strategies as st

from vpcepadmin.request_values import (
    EARLIEST,
    LATEST,
    StrictDateTimeField,
    StrictIntegerField,
    parse_datetime,
    parse_int,
    read_datetime,
)

ODD_NUMBERS = [
    "²",
    "١٢",
    "૩",
    "1_000",
    " 1",
    "+1",
    "1.0",
    "0x10",
    "",
    "-",
    "1e3",
    "10" * 10,
    "\x001",
    None,
    7,
]


@pytest.mark.parametrize("value", ODD_NUMBERS)
def test_it_reads_no_number_from_anything_but_ascii_digits(value) -> None:
    assert parse_int(value, low=-(10**18), high=10**18) is None


@pytest.mark.parametrize(
    ("value", "expected"), [("0", None), ("1", 1), ("42", 42), ("43", None), ("-1", None)]
)
def test_it_reads_a_number_only_inside_its_bounds(value, expected) -> None:
    assert parse_int(value, low=1, high=42) == expected


@given(st.text(max_size=40))
def test_it_never_raises_on_any_text(value) -> None:
    number = parse_int(value, low=0, high=10**6)
    assert number is None or (value.isascii() and 0 <= number <= 10**6)
    moment = parse_datetime(value)
    assert moment is None or EARLIEST <= moment <= LATEST


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-02T12:00", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("2026-03-02 12:00:30.5", datetime(2026, 3, 2, 12, 0, 30, 500000, tzinfo=UTC)),
        ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),
        ("2026-03-02T12:00Z", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("2026-03-02T14:30+02:30", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("2026-03-02T10:00-02:00", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
    ],
)
def test_it_reads_an_iso_date_as_utc(value, expected) -> None:
    assert read_datetime(value) == expected
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "٢٠٢٦-03-02T12:00",
        "2026-03-0²",
        "2026-13-01",
        "2026-02-30",
        "2026-03-02T24:00",
        "2026-03-02T12:60",
        "2026-03-02T12:00+24:00",
        "2026-03-02T12:00+99:99",
        "0001-01-01T00:00+01:00",
        "9999-12-31T23:59-01:00",
        "10000-01-01T00:00",
        "yesterday",
        "2026-03-02T12",
        "",
    ],
)
def test_it_reads_no_date_from_anything_else(value) -> None:
    assert read_datetime(value) is None
    assert parse_datetime(value) is None


@pytest.mark.parametrize("value", ["9999-12-31T23:59", "0001-01-01T00:00", "1999-12-31T23:59", "9001-01-01"])
def test_it_reads_a_far_date_but_does_not_parse_it_within_the_default_bounds(value) -> None:
    assert read_datetime(value) is not None
    assert parse_datetime(value) is None


class _Dates(forms.Form):
    when = StrictDateTimeField(required=False)
    count = StrictIntegerField(required=False, min_value=0, max_value=10)


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"when": "2026-03-02T12:00", "count": "3"}, {}),
        ({"when": "", "count": ""}, {}),
        ({"when": "9999-12-31T23:59"}, {"when": ["Enter a date/time between 2000-01-01 and 9000-12-31."]}),
        ({"when": "²"}, {"when": ["Enter a valid date/time."]}),
        ({"count": "²"}, {"count": ["Enter a whole number (digits 0–9)."]}),
        ({"count": "١"}, {"count": ["Enter a whole number (digits 0–9)."]}),
        ({"count": str(10**30)}, {"count": ["Enter a whole number (digits 0–9)."]}),
        ({"count": "11"}, {"count": ["Ensure this value is less than or equal to 10."]}),
    ],
)
def test_a_form_says_what_is_wrong_with_a_strict_field(data, errors) -> None:
    form = _Dates(data)
    form.is_valid()
    assert form.errors == errors


def test_a_strict_date_field_keeps_a_valid_date_in_utc() -> None:
    form = _Dates({"when": "2026-03-02T14:00+02:00"})
    assert form.is_valid()
    assert form.cleaned_data["when"] == datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert form.cleaned_data["when"].tzinfo is UTC
