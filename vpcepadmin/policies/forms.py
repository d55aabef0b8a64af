"""The form that changes one rule: its mode, and its value in the words of its declaration."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms

from vpcepadmin.policies.declared import API_MAX_MAPPINGS, DECLARED, MAX_PORT, MIN_PORT, ValueKind
from vpcepadmin.policies.models import Mode

_SEPARATORS = re.compile(r"[\s,;]+")


class PolicyRuleForm(forms.Form):
    """Mode and value of one rule of one environment (its prefix tells the rule on a page of many).

    The value is checked against the rule's declaration: ports as "22, 3389" (each 1–65535; blank
    for none), a count as a whole number 1–200; a rule that takes no value has no value field, and
    a value sent for it is ignored. ``cleaned_data["value"]`` is what the row stores: a sorted list
    of distinct ports, an int, or None.
    """

    mode = forms.ChoiceField(label="Mode", choices=Mode.choices)
    value = forms.CharField(label="Value", required=False, max_length=2000, strip=True)

    def __init__(
        self, environment: str, rule: str, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(data, prefix=self.prefix_for(environment, rule), **kwargs)
        self.declared = DECLARED[rule]
        title = self.declared.title
        value = self.fields["value"]
        self.fields["mode"].label = f"Mode of “{title}”"
        if self.declared.value_kind is ValueKind.PORTS:
            value.label = f"Server ports for “{title}”"
            value.help_text = "Port numbers 1–65535 separated by commas, e.g. 22, 3389; blank for none."
        elif self.declared.value_kind is ValueKind.COUNT:
            value.label = f"N for “{title}”"
            value.help_text = f"A whole number from 1 to {API_MAX_MAPPINGS}."
            value.required = True
            value.error_messages["required"] = f"Enter a whole number from 1 to {API_MAX_MAPPINGS}."
        else:
            del self.fields["value"]

    @staticmethod
    def prefix_for(environment: str, rule: str) -> str:
        return f"{environment}-{rule}"

    @classmethod
    def showing(cls, environment: str, rule: str, mode: str, value: Any) -> PolicyRuleForm:
        """The unbound form of a rule, showing the mode and value in force."""
        return cls(environment, rule, initial={"mode": mode, "value": value_as_text(value)})

    def clean_value(self) -> Any:
        text: str = self.cleaned_data.get("value") or ""
        if self.declared.value_kind is ValueKind.PORTS:
            return parse_ports(text)
        return parse_count(text)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "value" not in self.fields:
            cleaned["value"] = None
        return cleaned


def value_as_text(value: Any) -> str:
    """A stored value as its field shows it: ports as "22, 3389", a count as a number."""
    if isinstance(value, list):
        return ", ".join(str(port) for port in value)
    return "" if value is None else str(value)


def parse_ports(text: str) -> list[int]:
    """ "22, 3389" as [22, 3389]; raises ``ValidationError`` naming the items that are no port."""
    items = [item for item in _SEPARATORS.split(text) if item]
    wrong = [item for item in items if not _number_within(item, MIN_PORT, MAX_PORT)]
    if wrong:
        named = ", ".join(f"“{item}”" for item in wrong[:5])
        raise forms.ValidationError(
            f"Not a port number from {MIN_PORT} to {MAX_PORT}: {named}. "
            "Write port numbers separated by commas, e.g. 22, 3389.",
            code="invalid",
        )
    return sorted({int(item) for item in items})


def parse_count(text: str) -> int:
    if not _number_within(text, 1, API_MAX_MAPPINGS):
        raise forms.ValidationError(f"Enter a whole number from 1 to {API_MAX_MAPPINGS}.", code="invalid")
    return int(text)


def _number_within(text: str, low: int, high: int) -> bool:
    # ASCII digits only ("²" is a digit to str.isdigit), and short: no 4,000-digit int() to make.
    return text.isascii() and text.isdigit() and len(text) <= 6 and low <= int(text) <= high
