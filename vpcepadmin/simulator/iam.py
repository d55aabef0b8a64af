"""The IAM token endpoint, ``POST /v3/auth/tokens`` with the password method (vpcep-api.md §10.1, §9.4).

Guarantees: 201 with the token in the ``X-Subject-Token`` header and a Keystone-style body
(microsecond timestamps, user, project, roles, a minimal catalog unless ``?nocatalog``); the token is
valid for 24 h and scoped to the requested project (by id, or by name within the user's domain).
A wrong user, domain or password all answer the same 401, so nobody learns which part was wrong.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from vpcepadmin.simulator.errors import ApiError, iam_error
from vpcepadmin.simulator.records import Project, Token, User, World, exact_time
from vpcepadmin.simulator.wsgi import Call, Response

BAD_REQUEST = ("IAM.0011", "Request body is invalid.")
BAD_CREDENTIALS = ("IAM.0062", "The username or password is wrong.")
NO_PROJECT = ("IAM.1109", "The project does not exist.")


def _bad_request() -> ApiError:
    return iam_error(400, *BAD_REQUEST)


def _dig(document: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def issue_token(call: Call) -> Response:
    try:
        document = json.loads(call.request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_request() from exc
    methods = _dig(document, "auth", "identity", "methods")
    user_spec = _dig(document, "auth", "identity", "password", "user")
    if not isinstance(methods, list) or "password" not in methods or not isinstance(user_spec, dict):
        raise _bad_request()
    scope = _dig(document, "auth", "scope")
    with call.store.read() as world:
        user = _find_user(world, user_spec)
        project = _scoped_project(world, user, scope)
        region = world.region
    token = call.store.issue_token(user, project)
    body = token_json(token, region, call.base_url, with_catalog=call.request.param("nocatalog") is None)
    return Response.json(201, body, headers=[("X-Subject-Token", token.value)])


def _find_user(world: World, spec: dict[str, Any]) -> User:
    domain = spec.get("domain")
    if not isinstance(domain, dict):
        domain = {}
    for user in world.users:
        same_domain = domain.get("name") == user.domain_name or domain.get("id") == user.domain_id
        if user.name == spec.get("name") and same_domain and user.password == spec.get("password"):
            return user
    # NOTE: IAM answers 401 for a bad user/password (§9.4); one answer for every mismatch.
    raise iam_error(401, *BAD_CREDENTIALS)


def _scoped_project(world: World, user: User, scope: Any) -> Project | None:
    """The project of a project scope; None for a domain scope or no scope (no VPCEP access)."""
    spec = _dig(scope, "project")
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise _bad_request()
    for project in world.projects.values():
        if project.domain_id != user.domain_id:
            continue
        if project.id == spec.get("id") or (spec.get("id") is None and project.name == spec.get("name")):
            return project
    raise iam_error(400, *NO_PROJECT)


def token_json(token: Token, region: str, base_url: str, *, with_catalog: bool) -> dict[str, Any]:
    user = token.user
    body: dict[str, Any] = {
        "methods": ["password"],
        "expires_at": exact_time(token.expires_at),
        "issued_at": exact_time(token.issued_at),
        "user": {
            "id": user.id,
            "name": user.name,
            "domain": {"id": user.domain_id, "name": user.domain_name},
            "password_expires_at": "",
        },
        "roles": [{"id": uuid.uuid5(uuid.NAMESPACE_DNS, "role.te_admin").hex, "name": "te_admin"}],
    }
    if token.project is None:
        body["domain"] = {"id": user.domain_id, "name": user.domain_name}
    else:
        project = token.project
        body["project"] = {
            "id": project.id,
            "name": project.name,
            "domain": {"id": project.domain_id, "name": project.domain_name},
        }
    if with_catalog:
        body["catalog"] = _catalog(token.project, region, base_url)
    return {"token": body}


def _catalog(project: Project | None, region: str, base_url: str) -> list[dict[str, Any]]:
    def entry(kind: str, name: str, url: str) -> dict[str, Any]:
        endpoint_id = uuid.uuid5(uuid.NAMESPACE_URL, url).hex
        endpoint = {
            "id": endpoint_id,
            "url": url,
            "region": region,
            "region_id": region,
            "interface": "public",
        }
        return {
            "type": kind,
            "id": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex,
            "name": name,
            "endpoints": [endpoint],
        }

    # NOTE: the VPCEP catalog URL includes the project id; clients strip it (§11).
    vpcep_url = f"{base_url}/v1/{project.id}" if project else f"{base_url}/v1"
    return [entry("vpcep", "vpcep", vpcep_url), entry("identity", "iam", f"{base_url}/v3")]
