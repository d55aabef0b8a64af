"""Deleting an account or a user rewrites no audit record: the chain verifies and the names stay."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management import call_command

from tests.auditkit import change, text
from vpcepadmin.audit.models import Action, AuditRecord
from vpcepadmin.audit.recorder import Context
from vpcepadmin.credentials.services import delete_credential


def test_deleting_an_account_or_a_user_keeps_the_chain_and_the_names(
    viewer_client, account, simulator, operator, capsys
) -> None:
    applied = change(account, simulator.seed["endpoint_services"][0]["id"], operator, description="x").record
    account_pk = account.pk
    delete_credential(account, Context())
    User.objects.filter(pk=operator.pk).delete()
    call_command("verify_audit")
    # The change (attempt, outcome), the account's deletion, and the user's: all in one chain.
    assert f"Audit chain verified: {AuditRecord.objects.count()} records" in capsys.readouterr().out
    assert AuditRecord.objects.filter(action=Action.USER_DELETED, target_name="operator").exists()
    page = text(viewer_client.get(f"/audit/{applied.pk}/"))
    assert "Account Test account (deleted)" in page
    assert "Actor operator" in page
    assert AuditRecord.objects.get(pk=applied.pk).credential_id == account_pk
