"""Secrets at rest: encrypted with MultiFernet, fail closed, rotated by a command."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests import seeds
from tests.dashboard import make_account
from vpcepadmin.credentials import crypto
from vpcepadmin.credentials.models import CloudCredential


def _raw_column(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted FROM credentials_cloudcredential WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


def _flip_a_byte(credential: CloudCredential) -> None:
    token = credential.secret_encrypted
    middle = len(token) // 2
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    CloudCredential.objects.filter(pk=credential.pk).update(secret_encrypted=flipped)


def test_the_raw_column_holds_a_fernet_token_not_the_secret(account) -> None:
    raw = _raw_column(account.pk)
    assert raw.startswith("gAAAAA")
    assert seeds.SECRET_KEY not in raw
    assert seeds.SECRET_KEY[:8] not in raw


def test_a_tampered_token_is_unreadable_and_nothing_is_called(
    account, simulator, viewer_client, admin_client_
):
    _flip_a_byte(account)
    account.refresh_from_db()
    with pytest.raises(crypto.SecretUnreadable):
        account.secret()
    detail = admin_client_.get(f"/credentials/{account.pk}/").content.decode()
    assert "unreadable" in detail
    listing = viewer_client.get(f"/credentials/{account.pk}/services/")
    assert listing.status_code == 200
    assert "re-enter it" in listing.content.decode()
    tested = admin_client_.post(f"/credentials/{account.pk}/test/", HTTP_HX_REQUEST="true").content.decode()
    assert "cannot be decrypted" in tested
    assert simulator.journal() == []


def test_a_wrong_key_set_is_unreadable_never_the_ciphertext(account, settings) -> None:
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnreadable):
        account.secret()


def test_rotation_re_encrypts_under_the_newest_key(db, simulator, settings) -> None:
    old = settings.FERNET_KEYS[0]
    accounts = [make_account(simulator.url, name=f"a{i}", secret=f"secret-{i}") for i in range(3)]
    new = Fernet.generate_key().decode()
    settings.FERNET_KEYS = [new, old]
    call_command("rotate_credential_keys")
    settings.FERNET_KEYS = [new]
    for index, account in enumerate(accounts):
        account.refresh_from_db()
        assert account.secret() == f"secret-{index}"
        assert crypto.is_current(account.secret_encrypted)


def test_rotation_names_unreadable_accounts_and_fails(account, settings) -> None:
    _flip_a_byte(account)
    with pytest.raises(CommandError, match="Test account"):
        call_command("rotate_credential_keys")


def test_rotating_secret_key_leaves_credentials_readable(account, settings) -> None:
    settings.SECRET_KEY = "another-long-secret-key-for-signing-only-0123456789-abcdefghij"
    account.refresh_from_db()
    assert account.secret() == seeds.SECRET_KEY


def test_no_key_means_no_secret_can_be_stored(settings, db) -> None:
    settings.FERNET_KEYS = []
    credential = CloudCredential(name="x")
    with pytest.raises(crypto.NoEncryptionKey):
        credential.set_secret("s")
