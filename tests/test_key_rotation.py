"""Every key can be rotated without breaking what it signed (README, "Security": rotating keys).

The Fernet keys (stored secrets) and the anchor key have their own tests (test_credentials_crypto,
test_audit_integrity); this one rotates Django's SECRET_KEY through the environment, as deployed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = "old-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH"
NEW = "new-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH"
SIGN = "from django.core import signing; print(signing.dumps({'signed': 'by the old key'}))"
LOAD = "import sys; from django.core import signing; print(signing.loads(sys.argv[-1])['signed'])"


def _shell(code: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VPCEPADMIN_", "DJANGO_"))}
    clean |= {"VPCEPADMIN_DEBUG": "1", "VPCEPADMIN_VAR_DIR": tempfile.mkdtemp(prefix="vpcepadmin-keys-")}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "vpcepadmin.settings", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_what_the_old_secret_key_signed_is_accepted_while_it_is_listed_as_a_fallback() -> None:
    token = _shell(SIGN, VPCEPADMIN_SECRET_KEY=OLD).stdout.strip()
    assert token
    kept = _shell(LOAD, token, VPCEPADMIN_SECRET_KEY=NEW, VPCEPADMIN_SECRET_KEY_FALLBACKS=OLD)
    assert kept.returncode == 0 and kept.stdout.strip() == "by the old key", kept.stderr
    refused = _shell(LOAD, token, VPCEPADMIN_SECRET_KEY=NEW)
    assert refused.returncode != 0 and "BadSignature" in refused.stderr
