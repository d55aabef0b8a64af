"""Re-encrypt every stored secret under the newest key of VPCEPADMIN_FERNET_KEYS.

Rotation: put the new key first (keep the old ones after it), run this command, then remove the old
keys. Exits non-zero, naming the accounts, when a secret cannot be decrypted with any key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from vpcepadmin.credentials import crypto
from vpcepadmin.credentials.models import CloudCredential


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: Any, **options: Any) -> None:
        rotated, unreadable = 0, []
        with transaction.atomic():
            for credential in CloudCredential.objects.select_for_update().exclude(secret_encrypted=""):
                try:
                    token = crypto.rotate(credential.secret_encrypted)
                except crypto.SecretUnreadable:
                    unreadable.append(credential.name)
                    continue
                CloudCredential.objects.filter(pk=credential.pk).update(secret_encrypted=token)
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secret(s) under the newest key.")
        if unreadable:
            raise CommandError(
                f"Unreadable with every configured key, re-enter them: {', '.join(unreadable)}"
            )
