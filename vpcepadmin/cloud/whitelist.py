"""Whitelist entries in the operator's words and in the API's (vpcep-api.md §7.2).

The API stores an entry as one text: ``iam:domain::<account id>``, ``organizations:orgPath::<path>``
or ``*`` (everyone), with a ``permission_type`` of ``domainId`` or ``orgPath`` beside it. The
dashboard's "Type" choice has three values (``EntryType``) because "Everyone" is a ``domainId``
entry to the API but a different thing to an operator.

``entry_for`` turns what an operator typed into the API's form, or says in plain words why it
cannot; ``describe`` turns a stored entry back into a type label and the value to show. The
prefixes, the labels and the rules an entry must meet are written here and nowhere else.
"""

from __future__ import annotations

import re
from enum import StrEnum

ACCOUNT_PREFIX = "iam:domain::"
ORG_PATH_PREFIX = "organizations:orgPath::"
EVERYONE = "*"
MAX_ACCOUNT_ID_CHARS = 64
MAX_ORG_PATH_ENTRY_CHARS = 1024  # the whole entry, prefix included (§7.2 [HWC])
ACCOUNT_ID_RE = re.compile(r"[A-Za-z0-9*]+")
# NOTE: the characters of an organization path are the SDK's model text (huaweicloudsdkvpcep 3.1.219,
# AddOrRemoveServicePermissionsRequestBody: letters, digits and "/-*?"); §7.2 gives only the length.
ORG_PATH_RE = re.compile(r"[A-Za-z0-9/*?-]+")
OTHER_LABEL = "Other"  # an entry in none of the documented forms, shown as the cloud stores it


class PermissionType(StrEnum):
    """The API's ``permission_type`` of an entry."""

    DOMAIN_ID = "domainId"
    ORG_PATH = "orgPath"


class EntryType(StrEnum):
    """What an operator picks as an entry's "Type" (``CHOICES`` lists them in this order)."""

    ACCOUNT = "account"
    ORG_PATH = "org_path"
    EVERYONE = "everyone"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def permission_type(self) -> PermissionType:
        """Everyone (``*``) is a ``domainId`` entry to the API."""
        return PermissionType.ORG_PATH if self is EntryType.ORG_PATH else PermissionType.DOMAIN_ID


LABELS = {
    EntryType.ACCOUNT: "Account ID",
    EntryType.ORG_PATH: "Organization path",
    EntryType.EVERYONE: "Everyone",
}
CHOICES: tuple[tuple[str, str], ...] = tuple((kind.value, kind.label) for kind in EntryType)


def entry_for(entry_type: str, value: str) -> tuple[str, str]:
    """(the entry as the API spells it, its ``permission_type``) for what an operator entered.

    An account id or a path may be typed bare or with its prefix; surrounding spaces are ignored.
    Raises ``ValueError`` whose text is fit to show beside the field.
    """
    try:
        kind = EntryType(entry_type)
    except ValueError:
        raise ValueError(f"Choose a type: {', '.join(LABELS.values())}.") from None
    text = value.strip()
    if kind is EntryType.EVERYONE:
        # An account id left in the field must not silently become "allow everyone".
        if text not in ("", EVERYONE):
            raise ValueError('"Everyone" takes no value; to allow one account, choose "Account ID".')
        return EVERYONE, kind.permission_type.value
    if kind is EntryType.ACCOUNT:
        return ACCOUNT_PREFIX + _account_id(text), kind.permission_type.value
    return _org_path_entry(text), kind.permission_type.value


def _account_id(text: str) -> str:
    if text.startswith(ORG_PATH_PREFIX):
        raise ValueError('This is an organization path: choose the type "Organization path".')
    account_id = text.removeprefix(ACCOUNT_PREFIX)
    if not account_id:
        raise ValueError("Enter an account ID.")
    if len(account_id) > MAX_ACCOUNT_ID_CHARS:
        raise ValueError(
            f"An account ID has at most {MAX_ACCOUNT_ID_CHARS} characters; this one has {len(account_id)}."
        )
    if not ACCOUNT_ID_RE.fullmatch(account_id):
        raise ValueError("An account ID has only letters A-Z and a-z, digits and *.")
    return account_id


def _org_path_entry(text: str) -> str:
    if text.startswith(ACCOUNT_PREFIX):
        raise ValueError('This is an account ID: choose the type "Account ID".')
    path = text.removeprefix(ORG_PATH_PREFIX)
    if not path:
        raise ValueError("Enter an organization path.")
    entry = ORG_PATH_PREFIX + path
    if len(entry) > MAX_ORG_PATH_ENTRY_CHARS:
        most = MAX_ORG_PATH_ENTRY_CHARS - len(ORG_PATH_PREFIX)
        raise ValueError(f"An organization path has at most {most} characters; this one has {len(path)}.")
    if not ORG_PATH_RE.fullmatch(path):
        raise ValueError("An organization path has only letters A-Z and a-z, digits and / - * ?.")
    return entry


def is_everyone(permission: str) -> bool:
    """Whether an entry lets every account in: ``*``, or an account id made of ``*`` only (a narrower
    question than ``opens_widely``: ``iam:domain::12*`` opens widely, but not to everyone)."""
    text = permission.strip().removeprefix(ACCOUNT_PREFIX)
    return bool(text) and set(text) == {EVERYONE}


def opens_widely(permission: str) -> bool:
    """Whether an entry lets more than one named account connect: everyone (``*``), or an account id
    or path with a wildcard (``iam:domain::*`` is everyone too)."""
    return "*" in permission


def entry_type_of(permission: str) -> EntryType | None:
    """The type of a stored entry, or None when it is in none of the documented forms."""
    if permission == EVERYONE:
        return EntryType.EVERYONE
    if permission.startswith(ACCOUNT_PREFIX):
        return EntryType.ACCOUNT
    if permission.startswith(ORG_PATH_PREFIX):
        return EntryType.ORG_PATH
    return None


def permission_type_of(permission: str) -> str:
    """The ``permission_type`` an entry has, for an answer that leaves it out (read tolerantly)."""
    kind = entry_type_of(permission)
    return (kind.permission_type if kind is not None else PermissionType.DOMAIN_ID).value


def describe(permission: str) -> tuple[str, str]:
    """(type label, the value shown) of a stored entry: ``("Account ID", "<id>")``,
    ``("Organization path", "<path>")``, ``("Everyone", "*")``; ``("Other", <as stored>)`` else."""
    kind = entry_type_of(permission)
    if kind is None:
        return OTHER_LABEL, permission
    if kind is EntryType.ACCOUNT:
        return kind.label, permission.removeprefix(ACCOUNT_PREFIX)
    if kind is EntryType.ORG_PATH:
        return kind.label, permission.removeprefix(ORG_PATH_PREFIX)
    return kind.label, permission
