"""Builders for cloud-client tests: a fast network policy and clients for both auth modes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests import seeds
from vpcepadmin.cloud.auth import AkSkAuth, TokenAuth
from vpcepadmin.cloud.client import VpcepClient
from vpcepadmin.cloud.transport import NetworkPolicy, Transport

FAST = NetworkPolicy(
    connect_timeout=1.0,
    read_timeout=1.0,
    deadline=4.0,
    max_body_bytes=256 * 1024,
    get_retries=2,
    backoff_base=0.01,
    backoff_max=0.05,
    retry_after_max=0.2,
    allow_loopback=True,  # the simulator listens on 127.0.0.1
)


def aksk_client(
    url: str,
    *,
    policy: NetworkPolicy = FAST,
    secret_key: str = seeds.SECRET_KEY,
    project_id: str = seeds.PROJECT_ID,
    skew: timedelta = timedelta(0),
) -> VpcepClient:
    auth = AkSkAuth(seeds.ACCESS_KEY, secret_key, project_id, clock=lambda: datetime.now(UTC) + skew)
    return VpcepClient(endpoint=url, project_id=project_id, auth=auth, transport=Transport(policy))


def token_client(
    url: str, *, policy: NetworkPolicy = FAST, password: str = seeds.PASSWORD, cache_key: str | None = None
) -> VpcepClient:
    auth = TokenAuth(
        iam_endpoint=url,
        username=seeds.USERNAME,
        password=password,
        domain_name=seeds.DOMAIN_NAME,
        project_id=seeds.PROJECT_ID,
        cache_key=cache_key or f"test-token:{uuid.uuid4().hex}",
    )
    return VpcepClient(endpoint=url, project_id=seeds.PROJECT_ID, auth=auth, transport=Transport(policy))
