"""Fixtures for dashboard tests: the personas of style.md and accounts that point at the simulator.

Loaded by ``conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from requests.adapters import HTTPAdapter

from tests import mfakit, seeds
from vpcepadmin import roles
from vpcepadmin.credentials.models import AuthMethod, CloudCredential, Environment
from vpcepadmin.mfa import services as mfa

PERSONAS = (roles.VIEWER, roles.OPERATOR, roles.ADMIN)


@pytest.fixture(scope="session", autouse=True)
def every_call_has_a_timeout() -> Iterator[None]:
    """T30: no HTTP call in the whole suite leaves without a (connect, read) timeout."""
    original = HTTPAdapter.send

    def guarded(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs.get("timeout", args[1] if len(args) > 1 else None)
        well_formed = isinstance(timeout, tuple) and len(timeout) == 2 and None not in timeout
        assert well_formed, f"HTTP call without a (connect, read) timeout: {request.method} {request.url}"
        return original(self, request, *args, **kwargs)

    HTTPAdapter.send = guarded  # type: ignore[method-assign]
    yield
    HTTPAdapter.send = original  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _flushable_audit_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Transactional tests on PostgreSQL end with a TRUNCATE that the audit trigger would refuse.

    Open the trigger's test-only door on this connection just before pytest-django flushes.
    """
    marker = request.node.get_closest_marker("django_db")
    marked = marker is not None and bool(marker.kwargs.get("transaction"))
    if not (marked or {"transactional_db", "live_server"} & set(request.fixturenames)):
        yield
        return
    # Set up the database first, so that this teardown runs before its flush.
    request.getfixturevalue("_django_db_helper" if marked else "transactional_db")
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET vpcepadmin.allow_truncate = 'on'")


def make_user(role: str, username: str | None = None, password: str | None = None) -> User:
    """A user in ``role``; without ``password`` it cannot sign in by form (fast: no hashing)."""
    user = User.objects.create_user(username or role, password=password)
    user.groups.add(Group.objects.get(name=role))
    return user


ANONYMOUS, NO_ROLE = "anonymous", "norole"


@pytest.fixture
def people(db: None) -> dict[str, User | None]:
    """Everybody a permission test asks: nobody signed in, a user without a role, and each role."""
    return {
        ANONYMOUS: None,
        NO_ROLE: User.objects.create_user(NO_ROLE),
        **{role: make_user(role) for role in PERSONAS},
    }


def operators(*names: str) -> dict[str, Client]:
    """A signed-in client per operator named, each past a fresh second-factor check (the step-up of
    production changes): the two people of four eyes."""
    clients = {}
    for name in names:
        user = make_user("operator", username=name)
        clients[name] = client_for(user)
        mfakit.verify_session(clients[name], user)
    return clients


@pytest.fixture
def viewer(db: None) -> User:
    return make_user(roles.VIEWER)


@pytest.fixture
def operator(db: None) -> User:
    return make_user(roles.OPERATOR)


@pytest.fixture
def admin_user(db: None) -> User:
    return make_user(roles.ADMIN)


def client_for(user: User | None, client: Client | None = None) -> Client:
    """A client signed in as ``user`` (None: nobody), past the second factor when ``user`` must use one."""
    client = client or Client()
    if user is not None:
        client.force_login(user)
        if mfa.must_verify(user):
            mfakit.verify_session(client, user)
    return client


@pytest.fixture
def viewer_client(viewer: User) -> Client:
    return client_for(viewer)


@pytest.fixture
def operator_client(operator: User) -> Client:
    return client_for(operator)


@pytest.fixture
def admin_client_(admin_user: User) -> Client:
    return client_for(admin_user)


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    """pytest-django's ``admin_client`` (here the admin persona, as ``admin_user`` is), past the second factor."""
    return client_for(admin_user)


def make_account(url: str, **overrides: Any) -> CloudCredential:
    """An AK/SK account on the simulator's standard project (saved, secret encrypted)."""
    secret = overrides.pop("secret", seeds.SECRET_KEY)
    fields: dict[str, Any] = {
        "name": "Test account",
        "cloud": "otc",
        "region": seeds.REGION,
        "project_id": seeds.PROJECT_ID,
        "auth_method": AuthMethod.AKSK,
        "access_key": seeds.ACCESS_KEY,
        "vpcep_endpoint": url,
        "iam_endpoint": url,
        "environment": Environment.STAGING,
    }
    fields.update(overrides)
    credential = CloudCredential(**fields)
    credential.set_secret(secret)
    credential.save()
    return credential


@pytest.fixture
def account(db: None, simulator: Any) -> CloudCredential:
    return make_account(simulator.url)


@pytest.fixture
def token_account(db: None, simulator: Any) -> CloudCredential:
    return make_account(
        simulator.url,
        name="Token account",
        auth_method=AuthMethod.PASSWORD,
        access_key="",
        iam_username=seeds.USERNAME,
        domain_name=seeds.DOMAIN_NAME,
        secret=seeds.PASSWORD,
    )
