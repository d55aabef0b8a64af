"""Read-side queries of the audit log: pages of rows, a service's history, one record's context.

Guarantees: pages are cut by keyset on ``seq`` (no OFFSET, no COUNT) — a page is one indexed
query of ``size + 1`` rows plus, away from the newest page, one EXISTS — so the cost does not grow
with the table, and pages stay stable while records are appended: following "older" links from any
page visits every older record exactly once. Rows (``rows.Row``) are computed without further
queries: the account comes in the same query, and the summary is stored with each record — the JSON
columns (before, request body, after, diff), up to hundreds of kilobytes a page, are never read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from vpcepadmin.audit.filters import AuditFilter
from vpcepadmin.audit.models import AuditRecord, Outcome, TargetType
from vpcepadmin.audit.rows import Row, rows_of
from vpcepadmin.credentials.models import CloudCredential

HISTORY_LIMIT = 50


# What a row does not show (rows.Row): the JSON columns and the error text.
NOT_SHOWN = ("before", "request_body", "after", "diff", "error_message")


def _with_context(records: QuerySet[AuditRecord]) -> QuerySet[AuditRecord]:
    return records.select_related("credential").defer(*NOT_SHOWN)


def service_history(credential: CloudCredential, service_id: str, limit: int = HISTORY_LIMIT) -> list[Row]:
    """The newest records about one service of one account (attempts and outcomes), as rows."""
    records = AuditRecord.objects.filter(
        target_type=TargetType.ENDPOINT_SERVICE, target_id=service_id, project_id=credential.project_id
    )
    return rows_of(list(_with_context(records).order_by("-seq")[:limit]))


@dataclass(frozen=True)
class Page:
    """A page of rows, newest first, the cursors of its neighbours (None: there is none) and the
    links to them, which keep the filter."""

    rows: list[Row]
    newer: int | None
    older: int | None
    audit_filter: AuditFilter = field(default_factory=AuditFilter)

    @property
    def is_newest(self) -> bool:
        return self.newer is None

    @property
    def newest_url(self) -> str:
        return "?" + self.audit_filter.query_string()

    @property
    def newer_url(self) -> str | None:
        return None if self.newer is None else "?" + self.audit_filter.query_string(after=self.newer)

    @property
    def older_url(self) -> str | None:
        return None if self.older is None else "?" + self.audit_filter.query_string(before=self.older)


def page(audit_filter: AuditFilter, size: int, before: int | None = None, after: int | None = None) -> Page:
    """The page below ``before`` (older records), above ``after`` (newer ones), or the newest page."""
    records = audit_filter.apply(AuditRecord.objects.all())
    if after is not None:
        return _page_above(records, audit_filter, size, after)
    below = records.filter(seq__lt=before) if before is not None else records
    found = list(_with_context(below).order_by("-seq")[: size + 1])
    shown = found[:size]
    newer: int | None = None
    if before is not None:
        top = shown[0].seq if shown else before - 1
        newer = top if records.filter(seq__gt=top).exists() else None
    return Page(rows_of(shown), newer, shown[-1].seq if len(found) > size else None, audit_filter)


def _page_above(records: QuerySet[AuditRecord], audit_filter: AuditFilter, size: int, after: int) -> Page:
    found = list(_with_context(records.filter(seq__gt=after)).order_by("seq")[: size + 1])
    shown = list(reversed(found[:size]))
    newer = shown[0].seq if len(found) > size else None
    return Page(rows_of(shown), newer, shown[-1].seq if shown else after + 1, audit_filter)


@dataclass(frozen=True)
class Neighbours:
    """The changes of the same target just before and after a record, and its related records."""

    previous: AuditRecord | None
    next: AuditRecord | None
    same_request: list[AuditRecord]
    outcomes: list[AuditRecord]
    restored_by: list[AuditRecord]


def neighbours(record: AuditRecord) -> Neighbours:
    """A "change" is any record but an attempt: its outcome record carries the body and the result."""
    same_target = AuditRecord.objects.filter(
        target_type=record.target_type, target_id=record.target_id
    ).exclude(outcome=Outcome.ATTEMPTED)
    previous = same_target.filter(seq__lt=record.seq).order_by("-seq").first() if record.target_id else None
    following = same_target.filter(seq__gt=record.seq).order_by("seq").first() if record.target_id else None
    same_request: list[AuditRecord] = []
    if record.request_id:
        same_request = list(
            AuditRecord.objects.filter(request_id=record.request_id).exclude(pk=record.pk).order_by("seq")
        )
    outcomes = list(record.outcomes.order_by("seq"))
    family = [record.pk, *(outcome.pk for outcome in outcomes)]
    if record.attempt_id:
        family.append(record.attempt_id)
    restored_by = list(
        AuditRecord.objects.filter(restored_from_id__in=family)
        .exclude(outcome=Outcome.ATTEMPTED)
        .order_by("seq")
    )
    return Neighbours(previous, following, same_request, outcomes, restored_by)
