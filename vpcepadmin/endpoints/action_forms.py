"""Every rule the input of the connection and whitelist pages must meet (the views stay thin).

- A selection names connections only by the signed tokens the table was rendered with (``Seen``):
  one of another service or account, a forged or an expired one, is refused, and so is an action
  a connection's status (as seen) does not allow; at most one page (``MAX_BATCH``) at a time.
- A whitelist entry is what ``cloud.whitelist.entry_for`` accepts; "Everyone" on a production
  account needs the service's name typed as confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.http import QueryDict

from vpcepadmin.audit.models import Action
from vpcepadmin.cloud import whitelist
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.endpoints.actions import MAX_BATCH, Seen

CONNECTION_ACTIONS: dict[str, str] = {"accept": Action.ACCEPT_CONNECTION, "reject": Action.REJECT_CONNECTION}
ACTION_VERBS: dict[str, str] = {Action.ACCEPT_CONNECTION: "accept", Action.REJECT_CONNECTION: "reject"}


@dataclass(frozen=True)
class Selection:
    """Which connections, as seen, and what to do with them; or why not (``error``)."""

    action: str = ""
    seen: tuple[Seen, ...] = ()
    error: str = ""


def connection_selection(data: QueryDict, credential: CloudCredential, service_id: str) -> Selection:
    """A row's "Accept"/"Reject" (``accept``/``reject`` = its token), or the bulk buttons
    (``bulk`` = accept|reject) with the ticked ``connection`` tokens, or the confirmation's own
    (``do`` = accept|reject with ``connection`` tokens)."""
    tokens: list[str]
    verb = ""
    for name in ("accept", "reject"):
        if data.get(name):
            verb, tokens = name, [str(data.get(name))]
            break
    else:
        verb = data.get("bulk") or data.get("do") or ""
        tokens = data.getlist("connection")
    action = CONNECTION_ACTIONS.get(verb)
    if action is None:
        return Selection(error="Choose “Accept” or “Reject”.")
    if not tokens:
        return Selection(error="Select at least one connection.")
    if len(tokens) > MAX_BATCH:
        return Selection(error=f"Select at most {MAX_BATCH} connections at a time (one page).")
    seen: list[Seen] = []
    for token in tokens:
        item = Seen.read(token, credential, service_id)
        if item is None:
            return Selection(error="The page was out of date or altered. Load the connections again.")
        if item.item_id in {other.item_id for other in seen}:
            continue
        if not item.can(action):
            return Selection(
                error=f"Connection {item.item_id} is {item.status}: it cannot be {verb}ed. Nothing was sent."
            )
        seen.append(item)
    return Selection(action, tuple(seen))


class StatusFilterForm(forms.Form):
    """The connections table's filter: a status the API knows (anything else shows all)."""

    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), ("pendingAcceptance", "Pending acceptance"), ("accepted", "Accepted"),
                 ("rejected", "Rejected"), ("failed", "Failed")],
    )  # fmt: skip
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def choice(self) -> tuple[str, int]:
        if not self.is_valid():
            return "", 1
        return self.cleaned_data["status"] or "", self.cleaned_data["page"] or 1


class WhitelistEntryForm(forms.Form):
    """ "Add entry": a type and a value, checked as the API checks them (``whitelist.entry_for``)."""

    entry_type = forms.ChoiceField(
        label="Type", choices=whitelist.CHOICES, initial=whitelist.EntryType.ACCOUNT
    )
    value = forms.CharField(
        label="Value",
        required=False,
        max_length=whitelist.MAX_ORG_PATH_ENTRY_CHARS,
        help_text="An account (domain) ID of up to 64 letters and digits, or an organization path. "
        "Leave empty for “Everyone”.",
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            entry, permission_type = whitelist.entry_for(
                str(cleaned["entry_type"]), str(cleaned.get("value", ""))
            )
        except ValueError as exc:
            self.add_error("value", str(exc))
            return cleaned
        cleaned["entry"], cleaned["permission_type"] = entry, permission_type
        return cleaned


class EveryoneConfirmForm(forms.Form):
    """Opening a production service to every account: the service's name typed again."""

    confirm_name = forms.CharField(
        label="Type the service's name to confirm",
        required=False,
        max_length=128,
        help_text="Everyone (*) lets every account connect to this service.",
    )

    def __init__(self, *args: object, expected: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.expected = expected

    def clean_confirm_name(self) -> str:
        typed = str(self.cleaned_data.get("confirm_name") or "").strip()
        if typed != self.expected:
            raise forms.ValidationError(f"Type “{self.expected}” exactly to open this service to everyone.")
        return typed


def also_rejected(data: QueryDict, credential: CloudCredential, entry: Seen) -> tuple[Seen, ...]:
    """With "Also reject this account's connections" ticked on a removal of an account's entry: the
    listed connections (tokens) of that account that can be rejected; else none."""
    tokens = data.getlist("connection")
    if entry.adds or not entry.account or not data.get("also_reject") or len(tokens) > MAX_BATCH:
        return ()  # more than a page at once is not offered (the confirmation says so)
    found = (Seen.read(token, credential, entry.service_id) for token in tokens)
    return tuple(
        item for item in found
        if item is not None and item.domain_id == entry.account and item.can(Action.REJECT_CONNECTION)
    )  # fmt: skip
