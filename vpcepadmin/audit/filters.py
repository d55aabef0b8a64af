"""The filters of the audit log: what an auditor may ask for, and how it becomes a query.

``AuditFilterForm`` validates the query string; ``AuditFilter`` is the valid part of it — the same
object filters the table, names the filter in an export's header and builds the links that keep
it (pages, exports). Every filter uses an index on PostgreSQL: actor, account, service, action and
outcome have one each ending in ``seq``, the time range (created_at, seq), the free text a trigram
index (migration 0003); the source is a set of actions (``OBSERVED_ACTIONS``, or all the others), so
it uses the action index, or for the dashboard's records (nearly all of them) the walk down ``seq``.
Filters combine with AND; the account matches exactly, a service id exactly, the actor and a
service name case-insensitively anywhere in the value ("adm" finds "admin", "orders" finds
"orders-api"; a trigram index each on PostgreSQL, migration 0016), the free text case-insensitively
anywhere in actor, account, target name, reason and error.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from vpcepadmin.audit.models import (
    CATEGORIES,
    OBSERVED_ACTIONS,
    Action,
    AuditRecord,
    Outcome,
    Source,
    TargetType,
)
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.request_values import StrictDateTimeField

SEARCH_FIELDS = ("actor_username", "credential_name", "target_name", "reason", "error_code", "error_message")
# A time range holding at most this many records is also bounded by their sequence numbers.
NARROW_TIME = 5000
SERVICE_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class AuditFilterForm(forms.Form):
    """The filters as the query string carries them (``since``/``until`` in UTC, minute precision).

    Dates are read strictly (``request_values``): ASCII ISO 8601 between 2000 and 9000, so that the
    end of ``until``'s minute is always a datetime. ``account`` is matched against the stored
    accounts' ids as text before it is made an int, so only an existing id passes.
    """

    q = forms.CharField(label="Search", required=False, max_length=200)
    actor = forms.CharField(label="Actor", required=False, max_length=150)
    account = forms.TypedChoiceField(label="Account", required=False, coerce=int, empty_value=None)
    service = forms.CharField(label="Service ID or name", required=False, max_length=160)
    category = forms.ChoiceField(
        label="Category",
        required=False,
        choices=[("", "Any category"), *((key, label) for key, (label, _actions) in CATEGORIES.items())],
    )
    action = forms.ChoiceField(label="Action", required=False, choices=[("", "Any action"), *Action.choices])
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any outcome"), *Outcome.choices]
    )
    # Labelled as the rows' badges are: "via vpcepadmin" (dashboard), "outside vpcepadmin" (outside).
    source = forms.ChoiceField(label="Source", required=False, choices=[("", "Any source"), *Source.choices])
    since = StrictDateTimeField(label="From (UTC)", required=False)
    until = StrictDateTimeField(label="To (UTC)", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = CloudCredential.objects.order_by("name").values_list("pk", "name")
        self.fields["account"].choices = [("", "Any account"), *accounts]  # type: ignore[attr-defined]

    def options(self, name: str) -> list[tuple[str, str, bool]]:
        """(value, label, selected) of a choice field, for the template's <select>."""
        current = str(self.data.get(name, "") or "")
        choices = self.fields[name].choices  # type: ignore[attr-defined]
        return [(str(value), str(label), str(value) == current) for value, label in choices]

    @property
    def select_options(self) -> dict[str, list[tuple[str, str, bool]]]:
        return {name: self.options(name) for name in ("account", "category", "action", "outcome", "source")}

    def audit_filter(self) -> AuditFilter:
        """The valid fields; an invalid one is left out (and said so above the table)."""
        self.is_valid()
        return AuditFilter(
            **{name: value for name, value in self.cleaned_data.items() if value not in ("", None)}
        )


@dataclass(frozen=True)
class AuditFilter:
    """A valid filter; empty fields filter nothing."""

    q: str = ""
    actor: str = ""
    account: int | None = None
    service: str = ""
    category: str = ""
    action: str = ""
    outcome: str = ""
    source: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, records: QuerySet[AuditRecord]) -> QuerySet[AuditRecord]:
        """``records`` narrowed to the filter (a time range costs one bounded query at once)."""
        if self.actor:
            records = _contains(records, "actor_username", self.actor)
        if self.account is not None:
            records = records.filter(credential_id=self.account)
        if self.service:
            records = records.filter(target_type=TargetType.ENDPOINT_SERVICE)
            if SERVICE_ID.match(self.service):
                records = records.filter(target_id=self.service)
            else:
                records = _contains(records, "target_name", self.service)
        if self.category:
            records = records.filter(action__in=CATEGORIES[self.category][1])
        if self.action:
            records = records.filter(action=self.action)
        if self.outcome:
            records = records.filter(outcome=self.outcome)
        if self.source == Source.OUTSIDE:
            records = records.filter(action__in=OBSERVED_ACTIONS)
        elif self.source == Source.DASHBOARD:
            records = records.exclude(action__in=OBSERVED_ACTIONS)
        if self.since is not None or self.until is not None:
            records = self._in_time(records)
        return _search(records, self.q.strip()) if self.q.strip() else records

    def _in_time(self, records: QuerySet[AuditRecord]) -> QuerySet[AuditRecord]:
        """The time range, plus — when it holds few records — the exact range of their ``seq``.

        Pages are ordered by ``seq``, and a planner that assumes matching rows are spread evenly
        would walk ``seq`` down from the newest record until it reaches the range; the bounds,
        read from the (created_at, seq) index, let it start there.
        """
        lookups = _time_lookups(self.since, self.until)
        window = AuditRecord.objects.filter(**lookups)
        sql, params = window.order_by().values("seq")[: NARROW_TIME + 1].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MIN(seq), MAX(seq), COUNT(*) FROM ({sql}) AS in_range", params)  # noqa: S608
            low, high, count = cursor.fetchone()
        records = records.filter(**lookups)
        if count <= NARROW_TIME:
            records = records.filter(seq__gte=low or 1, seq__lte=high or 0)
        return records

    def params(self) -> dict[str, str]:
        """The non-empty filters as query-string values (what the form accepts back)."""
        shown: dict[str, str] = {}
        for name, value in asdict(self).items():
            if isinstance(value, datetime):
                shown[name] = value.strftime("%Y-%m-%dT%H:%M")
            elif value not in ("", None):
                shown[name] = str(value)
        return shown

    def query_string(self, **extra: object) -> str:
        return urlencode({**self.params(), **{k: v for k, v in extra.items() if v is not None}})

    def describe(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.params().items()) or "all records"

    @property
    def is_empty(self) -> bool:
        return not self.params()


def _time_lookups(since: datetime | None, until: datetime | None) -> dict[str, datetime]:
    lookups = {}
    if since is not None:
        lookups["created_at__gte"] = since
    if until is not None:
        lookups["created_at__lt"] = _end_of(until)
    return lookups


def _end_of(until: datetime) -> datetime:
    """``until`` 10:15 includes the whole minute 10:15 (the form has minute precision)."""
    return until + timedelta(minutes=1) if until.second == 0 and until.microsecond == 0 else until


def search_sql(table: str = "") -> str:
    """The searched text as SQL; without ``table`` it is the trigram index's expression (0003)."""
    prefix = f'"{table}".' if table else ""
    return "(" + " || chr(10) || ".join(prefix + name for name in SEARCH_FIELDS) + ")"


def _pattern(text: str) -> str:
    """``text`` anywhere, as an ILIKE pattern (its own ``%``, ``_`` and ``\\`` taken literally)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _contains(records: QuerySet[AuditRecord], column: str, text: str) -> QuerySet[AuditRecord]:
    """``column`` holds ``text`` anywhere, case-insensitively.

    On PostgreSQL as ``ILIKE``, which the column's trigram index serves (Django's ``icontains``
    compares ``UPPER(column)``, which that index cannot); elsewhere ``icontains``.
    """
    if connection.vendor != "postgresql":
        return records.filter(**{f"{column}__icontains": text})
    sql = f'"{AuditRecord._meta.db_table}"."{column}" ILIKE %s'
    # The SQL is ours (a column name); the user's text is a parameter.
    return records.filter(RawSQL(sql, (_pattern(text),), output_field=BooleanField()))  # noqa: S611


def _search(records: QuerySet[AuditRecord], text: str) -> QuerySet[AuditRecord]:
    if connection.vendor == "postgresql":
        pattern = _pattern(text)
        # Qualified: the page query joins the table to itself (an outcome's attempt).
        sql = search_sql(AuditRecord._meta.db_table) + " ILIKE %s"
        # The SQL is ours (column names); the user's text is a parameter.
        return records.filter(RawSQL(sql, (pattern,), output_field=BooleanField()))  # noqa: S611
    match = Q()
    for name in SEARCH_FIELDS:
        match |= Q(**{f"{name}__icontains": text})
    return records.filter(match)
