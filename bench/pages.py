"""Reading the dashboard's pages as a browser without JavaScript would: forms with what they
submit, the alerts, and how an apply ended (for benchmarks and tests driving a real server)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    """One ``<form>``: its action and its successful controls (buttons left out, as a browser would
    send them only when clicked)."""

    id: str
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        return next((v for k, v in self.fields if k == name), None)

    def replaced(self, **values: str) -> list[tuple[str, str]]:
        """The fields with ``values`` replacing (or adding) the named ones."""
        out = [(k, values.get(k, v)) for k, v in self.fields]
        out += [(k, v) for k, v in values.items() if all(k != name for name, _ in self.fields)]
        return out


class FormParser(HTMLParser):
    """Every form of a page with what a browser would submit for it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._text: list[str] = []
        self._option: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._form = Form(a.get("id") or "", a.get("action") or "")
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(a)
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []
        elif tag == "select" and a.get("name"):
            self._select, self._select_first, self._select_chosen = a["name"], None, False
        elif tag == "option" and self._select is not None:
            self._option, self._text = a, []

    def _input(self, a: dict[str, str | None]) -> None:
        assert self._form is not None
        name, kind = a.get("name"), (a.get("type") or "text").lower()
        if not name or kind in ("submit", "button", "image", "reset", "file"):
            return
        if kind in ("checkbox", "radio"):
            if "checked" in a:
                self._form.fields.append((name, a.get("value") or "on"))
            return
        self._form.fields.append((name, a.get("value") or ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None or self._option is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            text = "".join(self._text)
            self._form.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "option" and self._option is not None:
            value = self._option.get("value")
            value = "".join(self._text).strip() if value is None else value
            if self._select_first is None:
                self._select_first = value
            if "selected" in self._option and self._form is not None and self._select is not None:
                self._form.fields.append((self._select, value))
                self._select_chosen = True
            self._option = None
        elif tag == "select" and self._select is not None:
            if not self._select_chosen and self._select_first is not None and self._form is not None:
                self._form.fields.append((self._select, self._select_first))
            self._select = None


def forms_of(page: str) -> list[Form]:
    parser = FormParser()
    parser.feed(page)
    parser.close()
    return parser.forms


ALERT = re.compile(r'<div class="alert alert-(\w+)[^"]*"[^>]*>(.*?)</div>', re.DOTALL)
TAG = re.compile(r"<[^>]+>")


def alerts(page: str) -> list[tuple[str, str]]:
    """(kind, plain text) of every Bootstrap alert on the page."""
    return [(kind, " ".join(html.unescape(TAG.sub(" ", body)).split())) for kind, body in ALERT.findall(page)]


# What an apply page says, as the view and modify.py word it today (first match wins).
APPLY_PHRASES: tuple[tuple[str, str], ...] = (
    ("has no outcome yet", "busy"),
    ("kept coming", "busy"),
    ("re-reading cannot tell", "undetermined"),
    ("undetermined", "undetermined"),
    ("shows it was not applied", "reconciled_not_applied"),
    ("shows the change was applied", "reconciled_applied"),
    ("stays open", "unknown_open"),
    ("could not be re-read", "unknown_open"),
    ("Could not re-read the service", "reread_failed"),
    ("could not be sent", "failed"),
    ("Nothing was applied", "rejected"),
    ("can be edited when it is available", "not_editable"),
)


def classify_apply(status: int, location: str, page: str, detail_path: str) -> str:
    """A short name for how an apply ended, from the answer alone."""
    if status >= 500:
        return f"http_{status}"
    if status in (301, 302, 303):
        if location.rstrip("/").endswith(detail_path.rstrip("/")):
            return "applied"  # applied or reconciled: applied (the message is on the next page)
        if "/login" in location:
            return "signed_out"
        return "stale_form" if location.rstrip("/").endswith("/edit") else f"redirect:{location}"
    if status != 200:
        return f"http_{status}"
    if "The service changed while you were editing" in page:
        return "conflict"
    if 'name="reviewed"' in page and "Review your change" in page:
        return "review_again"
    text = " ".join(body for kind, body in alerts(page) if kind in ("danger", "warning"))
    for phrase, name in APPLY_PHRASES:
        if phrase in text:
            return name
    return f"other: {text[:70]}" if text else "other: (no message)"
