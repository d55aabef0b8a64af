"""The error summary every form with errors shows at the top of its page (issue 15, style.md).

``{% error_summary form other_form formset nothing_sent=True %}`` lists every error of the forms
given — a field's with its label, a formset row's with its number ("Port mapping 150 — Client port:
…"), the rest as they are — each linking to its field. The summary takes the focus when the page
loads (``autofocus``; ``static/js/app.js`` also moves it there after an htmx swap), and the fields
keep their own errors beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.core.exceptions import NON_FIELD_ERRORS
from django.forms import BaseForm, BaseFormSet

register = template.Library()


@dataclass(frozen=True)
class Entry:
    label: str
    message: str
    anchor: str


def _form_entries(form: BaseForm, prefix: str = "", anchor: str = "") -> list[Entry]:
    entries = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        if name == NON_FIELD_ERRORS or field is None or field.widget.is_hidden:
            entries += [Entry(prefix.rstrip(" —"), str(error), anchor) for error in errors]
            continue
        label = f"{prefix}{field.label or name}"
        entries += [Entry(label, str(error), f"#{form[name].auto_id}") for error in errors]
    return entries


def entries_of(
    *forms: Any, row_label: str = "Row", rows_anchor: str = "", anchor: str = "#main"
) -> list[Entry]:
    """Every error of ``forms`` (forms, formsets, or None), in page order; a formset's own errors
    link to ``rows_anchor`` (its table)."""
    entries: list[Entry] = []
    for form in forms:
        if isinstance(form, BaseFormSet) and form.is_bound:
            table = rows_anchor or anchor
            entries += [Entry("", str(error), table) for error in form.non_form_errors()]
            for number, row in enumerate(form.forms, start=1):
                entries += _form_entries(row, f"{row_label} {number} — ", table)
        elif isinstance(form, BaseForm) and form.is_bound:
            entries += _form_entries(form, anchor=anchor)
    return entries


@register.inclusion_tag("_error_summary.html")
def error_summary(
    *forms: Any,
    row_label: str = "Row",
    rows_anchor: str = "",
    anchor: str = "#main",
    nothing_sent: bool = False,
    problem: str = "",
) -> dict[str, Any]:
    """``anchor``: where an error of no one field (a wrong password, a form's own rule, ``problem``:
    a message the page has besides its forms) links."""
    entries = entries_of(*forms, row_label=row_label, rows_anchor=rows_anchor, anchor=anchor)
    if problem:
        entries.append(Entry("", str(problem), anchor))
    return {"entries": entries, "count": len(entries), "nothing_sent": nothing_sent}
