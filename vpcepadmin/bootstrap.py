"""First-run setup for the demo (`make run`): an admin user and accounts that point at the simulator.

No user with a known password is ever created: the admin's password is generated and shown once.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from vpcepadmin import roles
from vpcepadmin.audit.recorder import Context
from vpcepadmin.credentials.models import AuthMethod, CloudCredential, Colour, Environment
from vpcepadmin.credentials.services import create_credential

ADMIN_USERNAME = "admin"


@transaction.atomic
def ensure_admin_user() -> str | None:
    """Create the ``admin`` superuser (in the admin role) unless any superuser exists.

    Returns the generated password the one time it is created, else None.
    """
    User = get_user_model()
    if User.objects.filter(is_superuser=True).exists():
        return None
    password = secrets.token_urlsafe(15)
    user = User.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
    user.groups.add(Group.objects.get(name=roles.ADMIN))
    return password


def _demo_project(seed: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next(p for p in seed["projects"] if str(p["name"]).endswith(suffix))


def ensure_demo_accounts(seed: dict[str, Any], simulator_url: str) -> list[CloudCredential]:
    """Store the two demo accounts (production via AK/SK, staging via IAM password) if missing."""
    access = seed["access_keys"][0]
    user = seed["users"][0]
    specs = [
        (
            "Demo production",
            "_production",
            Environment.PRODUCTION,
            Colour.RED,
            AuthMethod.AKSK,
            access["secret"],
        ),
        (
            "Demo staging",
            "_staging",
            Environment.STAGING,
            Colour.ORANGE,
            AuthMethod.PASSWORD,
            user["password"],
        ),
    ]
    accounts = []
    for name, suffix, environment, colour, method, secret in specs:
        existing = CloudCredential.objects.filter(name=name).first()
        if existing is not None:
            accounts.append(existing)
            continue
        credential = CloudCredential(
            name=name,
            cloud="otc",
            region=seed.get("region", "eu-de"),
            project_id=_demo_project(seed, suffix)["id"],
            auth_method=method,
            access_key=access["access"] if method == AuthMethod.AKSK else "",
            iam_username=user["name"] if method == AuthMethod.PASSWORD else "",
            domain_name=user["domain_name"] if method == AuthMethod.PASSWORD else "",
            vpcep_endpoint=simulator_url,
            iam_endpoint=simulator_url,
            environment=environment,
            colour=colour,
            requires_approval=environment == Environment.PRODUCTION,  # the default for production
        )
        accounts.append(create_credential(credential, secret, Context()))
    return accounts
