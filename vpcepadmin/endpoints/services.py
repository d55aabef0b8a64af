"""Use cases for browsing endpoint services. Read failures degrade to a page with a banner.

Each use case makes one upstream call (plus an IAM token call when the cache is cold) and returns
either data or a ``ReadProblem`` that the page shows — never an exception for a cloud failure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import HttpRequest

from vpcepadmin.changes.overview import ObservationOverview, observation_overview
from vpcepadmin.cloud.endpoint_services import MAX_PAGE_SIZE, endpoint_service_get, endpoint_service_list
from vpcepadmin.cloud.errors import CloudError, CloudNotFound
from vpcepadmin.cloud.regions import OTC
from vpcepadmin.cloud.types import EndpointService, ServicePage
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import CloudCredential, Environment
from vpcepadmin.credentials.services import client_for, note_failure, note_success

PAGE_SIZE = 25
STATUSES = ("available", "creating", "failed", "deleting")
SORTS = {
    "-created": ("created", "desc", "Newest first"),
    "created": ("created", "asc", "Oldest first"),
    "-updated": ("updated", "desc", "Recently updated"),
    "updated": ("updated", "asc", "Least recently updated"),
}
DEFAULT_SORT = "-created"


@dataclass(frozen=True)
class ReadProblem:
    """Why a read failed, in the operator's words, with what finds the call in the cloud's trace."""

    message: str
    error_code: str = ""
    cloud_request_id: str = ""
    not_found: bool = False
    secret_unreadable: bool = False
    not_editable: bool = False  # the service exists but its status does not allow an edit

    @classmethod
    def from_error(cls, error: CloudError | SecretUnreadable) -> ReadProblem:
        if isinstance(error, SecretUnreadable):
            return cls("The stored secret cannot be decrypted — re-enter it.", secret_unreadable=True)
        return cls(
            error.explained,
            error.error_code,
            error.cloud_request_id,
            not_found=isinstance(error, CloudNotFound),
        )


@dataclass(frozen=True)
class ServiceQuery:
    """The list page's filters, already validated by ``ServiceFilterForm``."""

    q: str = ""
    status: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1


@dataclass(frozen=True)
class ServiceListing:
    query: ServiceQuery
    page: ServicePage | None = None
    problem: ReadProblem | None = None

    @property
    def page_count(self) -> int:
        total = self.page.total_count if self.page else 0
        return max(1, -(-total // PAGE_SIZE))

    def page_url(self, number: int) -> str:
        """The query string of page ``number`` with the same filters."""
        q = self.query
        return "?" + urlencode({"q": q.q, "status": q.status, "sort": q.sort, "page": number})

    @property
    def this_url(self) -> str:
        return self.page_url(self.query.page)

    @property
    def previous_url(self) -> str:
        return self.page_url(self.query.page - 1) if self.query.page > 1 else ""

    @property
    def next_url(self) -> str:
        return self.page_url(self.query.page + 1) if self.query.page < self.page_count else ""


@dataclass(frozen=True)
class AccountSummary:
    """An overview card: the services by status (or why they could not be read) and the observation."""

    observation: ObservationOverview
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    problem: ReadProblem | None = None


def _sort_key(credential: CloudCredential, field_name: str) -> str:
    # NOTE: OTC documents created_at/updated_at, Huawei create_at/update_at (vpcep-api.md §3, §15.2).
    if credential.cloud == OTC:
        return f"{field_name}_at"
    return "create_at" if field_name == "created" else "update_at"


def list_services(credential: CloudCredential, query: ServiceQuery) -> ServiceListing:
    """One page of an account's services: exactly one list call with limit/offset."""
    field_name, direction, _label = SORTS.get(query.sort, SORTS[DEFAULT_SORT])
    try:
        page = endpoint_service_list(
            client_for(credential),
            name=query.q or None,
            status=query.status or None,
            sort_key=_sort_key(credential, field_name),
            sort_dir=direction,
            limit=PAGE_SIZE,
            offset=(query.page - 1) * PAGE_SIZE,
        )
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return ServiceListing(query, problem=ReadProblem.from_error(exc))
    note_success(credential)
    return ServiceListing(query, page=page)


def summarise_account(credential: CloudCredential) -> AccountSummary:
    """Service counts by status from one list call (the quota keeps accounts far below its limit),
    and the observation of the account from the database (``changes.overview``: two queries)."""
    observation = observation_overview(credential)
    try:
        page = endpoint_service_list(client_for(credential), limit=MAX_PAGE_SIZE)
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return AccountSummary(observation, problem=ReadProblem.from_error(exc))
    note_success(credential)
    counts = Counter(service.status for service in page.services)
    return AccountSummary(observation, dict(sorted(counts.items())), page.total_count)


def applying_to_production(field: str) -> Callable[..., bool]:
    """The step-up condition of a page whose POST sends a change when ``field`` is "apply": sending a
    change to a production account needs a recent second-factor check (README)."""

    def applying(request: HttpRequest, pk: int, service_id: str) -> bool:
        if request.method != "POST" or request.POST.get(field) != "apply":
            return False
        return CloudCredential.objects.filter(pk=pk, environment=Environment.PRODUCTION).exists()

    return applying


def read_service(credential: CloudCredential, service_id: str) -> EndpointService | ReadProblem:
    """One service (one GET), or why it could not be read."""
    try:
        service = endpoint_service_get(client_for(credential), service_id)
    except (CloudError, SecretUnreadable) as exc:
        note_failure(credential, exc)
        return ReadProblem.from_error(exc)
    note_success(credential)
    return service
