"""The one recording API used by every writer of the audit log.

``append(entry)`` masks secrets, links the record to the chain head under a row lock, computes its
hash and inserts it, all inside the caller's transaction (or its own). The lock is what keeps
concurrent appends from losing records (reliability.md §4.3). It also stores the record's summary and
field diff, derived from the values it stores (``changes.derive``; an outcome's change starts from
its attempt's before-state, which the caller's attempt record holds).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from vpcepadmin.audit.chain import canonical_json, derived_hash, hashed_values, record_hash
from vpcepadmin.audit.changes import derived_when_written
from vpcepadmin.audit.events import notify, record_appended
from vpcepadmin.audit.fields import TEXTS
from vpcepadmin.audit.models import JSON_COLUMNS, AuditChainHead, AuditRecord
from vpcepadmin.middleware import client_ip

MASK = "••••••••"
SECRET_KEYS = frozenset(
    {"secret", "secret_key", "sk", "password", "token", "x-auth-token", "x-subject-token", "authorization"}
)


# A secret-named key as it appears in JSON text once lowercased (as ``str(key).lower()`` reads it).
_SECRET_KEY_TEXT = re.compile('"(?:' + "|".join(re.escape(key) for key in sorted(SECRET_KEYS)) + ')"')


def _names_no_secret(value: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> bool:
    """True when no key anywhere in ``value`` is secret-named: its JSON text, lowercased, holds none
    (one C-speed pass instead of a walk; a value orjson cannot write is walked)."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:
        return False
    return _SECRET_KEY_TEXT.search(text.decode().lower()) is None


def mask_secrets(value: Any) -> Any:
    """``value`` with the value of every secret-named key replaced by a mask: a masked copy, or
    ``value`` itself when no key in it is secret-named (a change of 200 port mappings has none)."""
    if isinstance(value, dict | list | tuple) and _names_no_secret(value):
        return value
    return _masked(value)


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        masked = {}
        for key, item in value.items():
            if item not in (None, "") and str(key).lower() in SECRET_KEYS:
                masked[key] = MASK
            else:
                masked[key] = _masked(item) if isinstance(item, dict | list | tuple) else item
        return masked
    if isinstance(value, list | tuple):
        return [_masked(item) if isinstance(item, dict | list | tuple) else item for item in value]
    return value


@dataclass
class Context:
    """Who did it, from where, in which web request."""

    actor: AbstractBaseUser | AnonymousUser | None = None
    source_ip: str = ""
    request_id: str = ""
    actor_name: str = ""  # without an actor: who it was instead of "system" (e.g. "outside vpcepadmin")


@dataclass
class Entry:
    """The content of one record; ``append`` adds time, chain link and hash."""

    action: str
    target_type: str
    outcome: str
    context: Context = field(default_factory=Context)
    credential: Any = None
    target_id: str = ""
    target_name: str = ""
    reason: str = ""
    before: Any = None
    request_body: Any = None
    after: Any = None
    http_status: int | None = None
    error_code: str = ""
    error_message: str = ""
    cloud_request_id: str = ""
    duration_ms: int | None = None
    attempt: AuditRecord | None = None
    restored_from: AuditRecord | None = None


def _credential_fields(credential: Any) -> dict[str, Any]:
    if credential is None:
        return {}
    return {
        "credential": credential if credential.pk else None,
        "credential_name": credential.name,
        "cloud": credential.cloud,
        "region": credential.region,
        "project_id": credential.project_id,
    }


def _actor_fields(context: Context) -> dict[str, Any]:
    actor = context.actor
    if actor is None:  # a command or a scheduled job, or what it observed
        return {"actor": None, "actor_username": context.actor_name or "system"}
    if not actor.is_authenticated:
        return {"actor": None, "actor_username": "anonymous"}  # a web request nobody signed in to
    return {"actor": actor, "actor_username": actor.get_username()}


def _normalised_ip(value: str) -> str | None:
    """The address exactly as the database will store it (so the hash survives the round trip)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return None
    prepared = AuditRecord._meta.get_field("source_ip").get_prep_value(value)
    return str(prepared) if prepared else None


def append(entry: Entry) -> AuditRecord:
    """Append one record to the chain and return it (durable once the transaction commits).

    Inside the caller's transaction it adds no savepoint: a failure here is never caught below the
    caller's transaction, which then rolls back whole (two queries fewer per record)."""
    with transaction.atomic(savepoint=False):
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(id=1)
        record = AuditRecord(
            seq=head.seq + 1,
            created_at=timezone.now(),
            source_ip=_normalised_ip(entry.context.source_ip),
            request_id=entry.context.request_id,
            target_type=entry.target_type,
            target_id=entry.target_id,
            target_name=entry.target_name[:160],
            action=entry.action,
            reason=entry.reason,
            before=mask_secrets(entry.before),
            request_body=mask_secrets(entry.request_body),
            after=mask_secrets(entry.after),
            outcome=entry.outcome,
            http_status=entry.http_status,
            error_code=entry.error_code[:64],
            error_message=entry.error_message,
            cloud_request_id=entry.cloud_request_id[:64],
            duration_ms=entry.duration_ms,
            attempt=entry.attempt,
            restored_from=entry.restored_from,
            prev_hash=head.hash,
            **_actor_fields(entry.context),
            **_credential_fields(entry.credential),
        )
        derived = derived_when_written(record)  # from the masked values, as verify_audit would
        record.summary, record.diff = derived.summary, derived.diff
        # Each JSON value's canonical text is made once: hashed, and stored as it is (CanonicalJSONField).
        made = {
            name: (value, canonical_json(value))
            for name in JSON_COLUMNS
            if (value := getattr(record, name)) is not None
        }
        record.derived_hash = derived_hash(derived.summary, derived.diff, made["diff"][1])
        texts = {name: text for name, (_, text) in made.items() if name != "diff"}
        record.hash = record_hash(head.hash, hashed_values(record), texts)
        setattr(record, TEXTS, made)
        record.save(force_insert=True)
        head.seq, head.hash = record.seq, record.hash
        head.save(update_fields=["seq", "hash"])
        # In the caller's transaction: what a receiver writes commits (or rolls back) with the record.
        notify(record_appended, record=record)
        return record


def context_from_address(request: HttpRequest) -> Context:
    """The audit context of a web request before (or without) a user: the address and the request id."""
    return Context(source_ip=client_ip(request), request_id=getattr(request, "request_id", ""))


def context_from(request: HttpRequest) -> Context:
    """The audit context of a web request: the user, the trusted client address, the request id."""
    return Context(
        actor=request.user,
        source_ip=client_ip(request),
        request_id=getattr(request, "request_id", ""),
    )
