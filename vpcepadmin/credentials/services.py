"""Use cases for stored cloud accounts: create, change, delete, test, and building a client.

Every change is recorded in the audit log with the secret masked (only "changed" is kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from vpcepadmin.audit import recorder
from vpcepadmin.audit.models import Action, Outcome, TargetType
from vpcepadmin.cloud.auth import AkSkAuth, TokenAuth
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.endpoint_services import quota_list
from vpcepadmin.cloud.errors import CloudError
from vpcepadmin.credentials.crypto import SecretUnreadable
from vpcepadmin.credentials.models import AuthMethod, CloudCredential

SNAPSHOT_FIELDS = (
    "name",
    "cloud",
    "region",
    "project_id",
    "auth_method",
    "iam_username",
    "domain_name",
    "vpcep_endpoint",
    "iam_endpoint",
    "environment",
    "colour",
    "requires_approval",
)
SUCCESS_STAMP_INTERVAL = timedelta(minutes=1)


def snapshot(credential: CloudCredential) -> dict[str, Any]:
    """What the audit log keeps of an account: everything but secrets (the access key masked)."""
    data: dict[str, Any] = {name: getattr(credential, name) for name in SNAPSHOT_FIELDS}
    data["access_key"] = credential.masked_access_key if credential.access_key else ""
    return data


def client_for(credential: CloudCredential) -> VpcepClient:
    """A client for the account. Raises ``SecretUnreadable`` (and calls nothing) if the secret is."""
    secret = credential.secret()
    endpoints = credential.endpoints()
    if credential.auth_method == AuthMethod.AKSK:
        auth: AkSkAuth | TokenAuth = AkSkAuth(credential.access_key, secret, credential.project_id)
    else:
        auth = TokenAuth(
            iam_endpoint=endpoints.iam,
            username=credential.iam_username,
            password=secret,
            domain_name=credential.domain_name,
            project_id=credential.project_id,
            cache_key=credential.token_cache_key,
        )
    return VpcepClient(endpoint=endpoints.vpcep, project_id=credential.project_id, auth=auth)


def note_success(credential: CloudCredential) -> None:
    """Stamp the last successful call (at most once a minute: browsing must not write every time)."""
    now = timezone.now()
    if credential.last_success_at is not None and credential.last_success_at >= now - SUCCESS_STAMP_INTERVAL:
        return  # stamped less than a minute ago (as loaded with this request): no query at all
    stale = Q(last_success_at__isnull=True) | Q(last_success_at__lt=now - SUCCESS_STAMP_INTERVAL)
    CloudCredential.objects.filter(stale, pk=credential.pk).update(last_success_at=now)


def note_failure(credential: CloudCredential, error: CloudError | SecretUnreadable) -> None:
    if isinstance(error, CloudError):
        text = (f"{error.error_code}: " if error.error_code else "") + error.explained
    else:
        text = "The stored secret cannot be decrypted."
    CloudCredential.objects.filter(pk=credential.pk).update(
        last_error_at=timezone.now(), last_error=text[:300]
    )


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    message: str
    error_code: str = ""
    cloud_request_id: str = ""


def test_connection(credential: CloudCredential) -> ConnectionTest:
    """One cheap call (the quota query); the result is stored as the last success or error."""
    try:
        quotas = quota_list(client_for(credential), "endpoint_service")
    except SecretUnreadable as exc:
        note_failure(credential, exc)
        return ConnectionTest(False, "The stored secret cannot be decrypted: re-enter it.")
    except CloudError as exc:
        note_failure(credential, exc)
        return ConnectionTest(False, exc.explained, exc.error_code, exc.cloud_request_id)
    CloudCredential.objects.filter(pk=credential.pk).update(last_success_at=timezone.now())
    used = next((f"{q.used} of {q.quota} endpoint services in use." for q in quotas), "")
    return ConnectionTest(True, f"Connected. {used}".strip())


def _record(action: str, credential: CloudCredential, context: recorder.Context, **values: Any) -> None:
    recorder.append(
        recorder.Entry(
            action=action,
            target_type=TargetType.CREDENTIAL,
            outcome=Outcome.RECORDED,
            context=context,
            credential=credential,
            target_id=str(credential.pk),
            target_name=credential.name,
            **values,
        )
    )


@transaction.atomic
def create_credential(credential: CloudCredential, secret: str, context: recorder.Context) -> CloudCredential:
    """Store a new account (``credential`` unsaved, from the form) and record it."""
    credential.created_by = credential.updated_by = _user(context)
    credential.set_secret(secret)
    credential.save()
    _record(
        Action.CREATE_CREDENTIAL, credential, context, after={**snapshot(credential), "secret_status": "set"}
    )
    return credential


@transaction.atomic
def update_credential(
    credential: CloudCredential,
    before: dict[str, Any],
    new_secret: str,
    identity_changed: bool,
    context: recorder.Context,
) -> CloudCredential:
    """Save the form's changes (``before`` = ``snapshot`` taken before binding); blank secret keeps.

    A new secret or a new identity bumps ``secret_version``, so no cached token is reused.
    """
    if new_secret:
        credential.set_secret(new_secret)
    elif identity_changed:
        credential.secret_version += 1
    credential.updated_by = _user(context)
    credential.updated_at = timezone.now()
    credential.save()
    after = snapshot(credential) | {"secret_status": "changed" if new_secret else "unchanged"}
    _record(Action.UPDATE_CREDENTIAL, credential, context, before=before, after=after)
    return credential


@transaction.atomic
def delete_credential(credential: CloudCredential, context: recorder.Context) -> None:
    _record(Action.DELETE_CREDENTIAL, credential, context, before=snapshot(credential))
    credential.delete()


def _user(context: recorder.Context) -> Any:
    actor = context.actor
    return actor if actor is not None and actor.is_authenticated else None
