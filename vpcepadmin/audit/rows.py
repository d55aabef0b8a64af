"""A line of the records table, computed once in Python: every cell is text when the template
sees it, so that rendering a page of rows stays cheap whatever the rows hold. The change column is
the summary stored with the record (``changes.derive``): a row never needs the JSON columns. The
source column says whether the change was made through the dashboard or observed in the cloud
(``Source.of``), so that the log and a service's History tab read as one timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.urls import reverse
from django.utils.safestring import SafeString

from vpcepadmin.audit.models import AuditRecord, Outcome, Source, TargetType
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.times import when_html

PLACEHOLDER, SERVICE_PLACEHOLDER = "987654321", "service-placeholder"
OUTCOME_CLASSES: dict[str, str] = {
    Outcome.APPLIED: "text-bg-success",
    Outcome.RECONCILED_APPLIED: "text-bg-success",
    Outcome.REJECTED: "text-bg-danger",
    Outcome.FAILED: "text-bg-danger",
    Outcome.UNKNOWN: "text-bg-warning",
    Outcome.CONFLICT: "text-bg-warning",
    Outcome.RECONCILED_NOT_APPLIED: "text-bg-info",
    Outcome.UNDETERMINED: "text-bg-danger",
    Outcome.ATTEMPTED: "text-bg-secondary",
    Outcome.RECORDED: "text-bg-light border",
}
# The badge beside the source's text (the text carries the meaning; the colour only helps).
SOURCE_CLASSES: dict[str, str] = {
    Source.DASHBOARD: "text-bg-light border",
    Source.OUTSIDE: "text-bg-warning",
}


@dataclass(frozen=True)
class Row:
    """One record as the table shows it (``colour`` is empty when the account no longer exists)."""

    record: AuditRecord
    url: str
    time: SafeString  # absolute in UTC with the relative time beside it (``times.when_html``)
    account: CloudCredential | None
    colour: str
    environment: str
    target: str
    target_url: str
    outcome_class: str
    reason: str
    summary: str
    source: Source
    source_class: str

    @property
    def source_label(self) -> str:
        """``via vpcepadmin`` or ``outside vpcepadmin``."""
        return str(self.source.label)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _account(record: AuditRecord) -> CloudCredential | None:
    """The account if it still exists (``select_related`` gives None for a removed one)."""
    return record.credential if record.credential_id else None


@dataclass(frozen=True)
class Links:
    """The URLs of a record's page and of a service's page, reversed once and filled per row."""

    record: str
    service: str

    @classmethod
    def make(cls) -> Links:
        return cls(
            reverse("audit:detail", args=[PLACEHOLDER]),
            reverse("endpoints:detail", args=[PLACEHOLDER, SERVICE_PLACEHOLDER]),
        )

    def for_record(self, record: AuditRecord) -> str:
        return self.record.replace(PLACEHOLDER, str(record.pk))

    def for_service(self, record: AuditRecord, account: CloudCredential | None) -> str:
        if record.target_type != TargetType.ENDPOINT_SERVICE or account is None or not record.target_id:
            return ""
        return self.service.replace(PLACEHOLDER, str(account.pk)).replace(
            SERVICE_PLACEHOLDER, record.target_id
        )


def row_for(
    record: AuditRecord, summary: str | None = None, links: Links | None = None, now: datetime | None = None
) -> Row:
    """``record`` must come with its account (``select_related``); its JSON columns are not read."""
    links = links or Links.make()
    account = _account(record)
    moment = record.created_at.astimezone(UTC)
    source = Source.of(record.action)
    return Row(
        record=record,
        url=links.for_record(record),
        time=when_html(moment, now=now or datetime.now(UTC)),
        account=account,
        colour=account.display_colour if account is not None else "",
        environment=account.get_environment_display() if account is not None else "",
        target=record.target_name or record.target_id or "—",
        target_url=links.for_service(record, account),
        outcome_class=OUTCOME_CLASSES.get(record.outcome, "text-bg-secondary"),
        reason=_short(record.reason, 60),
        summary=_short((record.summary or "") if summary is None else summary, 90),
        source=source,
        source_class=SOURCE_CLASSES[source],
    )


def rows_of(records: list[AuditRecord]) -> list[Row]:
    links, now = Links.make(), datetime.now(UTC)
    return [row_for(record, links=links, now=now) for record in records]
