"""Re-encrypt every stored secret under the newest key of VPCEPADMIN_FERNET_KEYS: the secrets of the
stored accounts and the keys of the users' authenticator apps.

Rotation: put the new key first (keep the old ones after it), run this command, then remove the old
keys. Exits non-zero, naming the accounts and users, when a secret cannot be decrypted with any key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from vpcepadmin.credentials import crypto
from vpcepadmin.credentials.models import CloudCredential
from vpcepadmin.mfa.models import AuthenticatorDevice


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            rotated, unreadable = _rotate_accounts()
            devices, unreadable_devices = _rotate_authenticators()
        self.stdout.write(f"Re-encrypted {rotated} secret(s) under the newest key.")
        self.stdout.write(f"Re-encrypted {devices} authenticator key(s) under the newest key.")
        if unreadable:
            raise CommandError(
                f"Unreadable with every configured key, re-enter them: {', '.join(unreadable)}"
            )
        if unreadable_devices:
            raise CommandError(
                "Authenticator keys unreadable with every configured key, reset the second factor of: "
                + ", ".join(unreadable_devices)
            )


def _rotate_accounts() -> tuple[int, list[str]]:
    rotated, unreadable = 0, []
    for credential in CloudCredential.objects.select_for_update().exclude(secret_encrypted=""):
        try:
            token = crypto.rotate(credential.secret_encrypted)
        except crypto.SecretUnreadable:
            unreadable.append(credential.name)
            continue
        CloudCredential.objects.filter(pk=credential.pk).update(secret_encrypted=token)
        rotated += 1
    return rotated, unreadable


def _rotate_authenticators() -> tuple[int, list[str]]:
    rotated, unreadable = 0, []
    for device in AuthenticatorDevice.objects.select_for_update().select_related("user"):
        try:
            token = crypto.rotate(device.key_encrypted)
        except crypto.SecretUnreadable:
            unreadable.append(device.user.get_username())
            continue
        AuthenticatorDevice.objects.filter(pk=device.pk).update(key_encrypted=token)
        rotated += 1
    return rotated, unreadable
