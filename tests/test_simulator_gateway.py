"""The gateway and IAM over real HTTP: tokens, AK/SK signatures, projects, routes, sizes, request ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import RawApi, RawResponse
from tests.seeds import (
    ACCESS_KEY,
    DOMAIN_ID,
    DOMAIN_NAME,
    FOREIGN_ACCESS_KEY,
    FOREIGN_DOMAIN_NAME,
    FOREIGN_PASSWORD,
    FOREIGN_PROJECT_ID,
    FOREIGN_SECRET_KEY,
    FOREIGN_USERNAME,
    OTHER_PROJECT_ID,
    OTHER_PROJECT_NAME,
    PASSWORD,
    PROJECT_ID,
    SECRET_KEY,
    USERNAME,
    service_path,
    services_path,
    token_request,
)
from vpcepadmin.cloud import signing

TOKENS = "/v3/auth/tokens"
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def error_of(response: RawResponse) -> tuple[int, str, str]:
    body = response.json()
    return response.status, body["error_code"], body["error_msg"]


def test_it_issues_a_project_scoped_token_valid_for_24_hours(raw_api):
    before = datetime.now(UTC)
    response = raw_api.post(TOKENS, token_request(USERNAME, PASSWORD, DOMAIN_NAME, PROJECT_ID), auth=False)
    assert response.status == 201
    assert len(response.headers["x-subject-token"]) > 1000
    token = response.json()["token"]
    assert token["project"]["id"] == PROJECT_ID
    assert token["user"]["domain"] == {"id": DOMAIN_ID, "name": DOMAIN_NAME}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", token["expires_at"])
    expires = datetime.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert timedelta(hours=24) <= expires - before < timedelta(hours=24, seconds=5)
    assert {entry["type"] for entry in token["catalog"]} == {"vpcep", "identity"}
    assert token["catalog"][0]["endpoints"][0]["url"].endswith(f"/v1/{PROJECT_ID}")


def test_it_scopes_a_token_by_project_name_and_drops_the_catalog_on_request(raw_api):
    body = token_request(USERNAME, PASSWORD, DOMAIN_NAME, project_name=OTHER_PROJECT_NAME)
    response = raw_api.post(TOKENS, body, auth=False, query=[("nocatalog", "true")])
    assert response.status == 201
    assert response.json()["token"]["project"]["id"] == OTHER_PROJECT_ID
    assert "catalog" not in response.json()["token"]


@pytest.mark.parametrize(
    ("username", "password", "domain"),
    [
        (USERNAME, "wrong", DOMAIN_NAME),
        ("nobody", PASSWORD, DOMAIN_NAME),
        (USERNAME, PASSWORD, FOREIGN_DOMAIN_NAME),
    ],
    ids=["password", "user", "domain"],
)
def test_it_refuses_wrong_credentials_with_one_iam_answer(raw_api, username, password, domain):
    response = raw_api.post(TOKENS, token_request(username, password, domain, PROJECT_ID), auth=False)
    assert error_of(response)[:2] == (401, "IAM.0062")
    assert "x-subject-token" not in response.headers


def test_it_refuses_a_project_the_user_cannot_scope_to(raw_api):
    response = raw_api.post(
        TOKENS, token_request(USERNAME, PASSWORD, DOMAIN_NAME, FOREIGN_PROJECT_ID), auth=False
    )
    assert error_of(response)[:2] == (400, "IAM.1109")


@pytest.mark.parametrize("body", [b"{", b"{}", b'{"auth": {"identity": {"methods": ["token"]}}}'])
def test_it_refuses_a_malformed_token_request(raw_api, body):
    assert error_of(raw_api.request("POST", TOKENS, body=body, auth=False))[:2] == (400, "IAM.0011")


def test_it_accepts_a_token_for_its_own_project_only(raw_api):
    token = raw_api.token()
    assert raw_api.get(services_path(), token=token).status == 200
    assert error_of(raw_api.get(services_path(OTHER_PROJECT_ID), token=token))[:2] == (403, "EndPoint.0004")


def test_it_refuses_a_domain_scoped_token_for_project_calls(raw_api):
    token = raw_api.token(project_id=None)
    assert error_of(raw_api.get(services_path(), token=token))[:2] == (403, "EndPoint.0004")


def test_it_refuses_expired_and_unknown_tokens_with_apigw_0307(simulator, raw_api):
    token = raw_api.token()
    assert simulator.control.expire_tokens() == 1
    assert error_of(raw_api.get(services_path(), token=token)) == (
        401,
        "APIGW.0307",
        "The token must be updated.",
    )
    assert error_of(raw_api.get(services_path(), token="MIInot-a-token"))[:2] == (401, "APIGW.0307")


def test_it_refuses_a_call_without_credentials(raw_api):
    message = "Incorrect IAM authentication information: x-auth-token not found"
    assert error_of(raw_api.get(services_path(), auth=False)) == (401, "APIGW.0301", message)
    garbled = raw_api.get(services_path(), auth=False, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert error_of(garbled) == (401, "APIGW.0301", message)


def test_it_verifies_an_aksk_signature_over_path_query_headers_and_body(simulator, raw_api):
    service_id = simulator.seed["endpoint_services"][0]["id"]
    query = [("endpoint_service_name", "service 0"), ("limit", "5")]
    assert raw_api.get(services_path(), query=query).status == 200
    assert raw_api.put(service_path(service_id), {"description": "signed"}).status == 200


def test_it_refuses_a_wrong_secret_and_echoes_the_canonical_request_but_never_the_secret(raw_api):
    response = raw_api.get(services_path(), query=[("limit", "5")], secret_key="SKwrong")
    status, code, message = error_of(response)
    assert (status, code) == (401, "APIGW.0301")
    prefix = "Incorrect IAM authentication information: verify aksk signature fail, canonicalRequest:"
    assert message.startswith(f"{prefix}GET|/v1/{PROJECT_ID}/vpc-endpoint-services/|limit=5|content-type:")
    assert "\n" not in message
    assert SECRET_KEY not in message
    assert "SKwrong" not in message


def signed_headers(
    raw_api: RawApi, method: str, path: str, body: bytes, *, host: bool = True
) -> dict[str, str]:
    """Headers signed for ``body`` (the test then sends something else, or leaves Host unsigned)."""
    headers = {"Content-Type": "application/json", "X-Sdk-Date": signing.format_sdk_date(datetime.now(UTC))}
    if host:
        headers["Host"] = f"{raw_api.host}:{raw_api.port}"
    headers["Authorization"] = signing.sign(
        method=method,
        path=path,
        query_pairs=[],
        headers=headers,
        body=body,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
    )
    return headers


def test_it_refuses_a_body_changed_after_signing(simulator, raw_api):
    path = service_path(simulator.seed["endpoint_services"][0]["id"])
    headers = signed_headers(raw_api, "PUT", path, b'{"description": "a"}')
    # Same JSON document, different bytes: the signature covers the raw body, not its meaning.
    tampered = raw_api.request("PUT", path, body=b'{"description":"a"}', auth=False, headers=headers)
    assert error_of(tampered)[:2] == (401, "APIGW.0301")
    assert raw_api.get(path).json()["description"] == ""
    exact = raw_api.request("PUT", path, body=b'{"description": "a"}', auth=False, headers=headers)
    assert exact.status == 200


@pytest.mark.parametrize("minutes", [14, -14])
def test_it_accepts_a_clock_skew_up_to_15_minutes(raw_api, minutes):
    assert raw_api.get(services_path(), date=datetime.now(UTC) + timedelta(minutes=minutes)).status == 200


@pytest.mark.parametrize("minutes", [16, -16])
def test_it_refuses_a_clock_skew_over_15_minutes(raw_api, minutes):
    response = raw_api.get(services_path(), date=datetime.now(UTC) + timedelta(minutes=minutes))
    message = "Incorrect IAM authentication information: calc ak sk signature fail:signature expired"
    assert error_of(response) == (401, "APIGW.0301", message)


def test_it_refuses_an_unknown_access_key(raw_api):
    status, code, message = error_of(raw_api.get(services_path(), access_key="AKUNKNOWN0000000000X"))
    assert (status, code) == (401, "APIGW.0301")
    assert "ak not exist" in message


def test_it_requires_the_host_to_be_signed(raw_api):
    headers = signed_headers(raw_api, "GET", services_path(), b"", host=False)
    assert error_of(raw_api.get(services_path(), auth=False, headers=headers))[:2] == (401, "APIGW.0301")


def test_it_limits_an_access_key_to_the_projects_of_its_account(raw_api):
    assert raw_api.get(services_path(OTHER_PROJECT_ID)).status == 200
    assert error_of(raw_api.get(services_path(FOREIGN_PROJECT_ID)))[:2] == (403, "EndPoint.0004")
    foreign = {"access_key": FOREIGN_ACCESS_KEY, "secret_key": FOREIGN_SECRET_KEY}
    assert raw_api.get(services_path(FOREIGN_PROJECT_ID), **foreign).json()["total_count"] == 0
    assert error_of(raw_api.get(services_path(), **foreign))[:2] == (403, "EndPoint.0004")


def test_it_scopes_an_aksk_call_to_its_x_project_id(raw_api):
    assert raw_api.get(services_path(), headers={"X-Project-Id": PROJECT_ID}).status == 200
    mismatch = raw_api.get(services_path(), headers={"X-Project-Id": OTHER_PROJECT_ID})
    assert error_of(mismatch)[:2] == (403, "EndPoint.0004")


def test_it_refuses_a_path_project_id_that_is_not_32_hex(raw_api):
    assert error_of(raw_api.get(services_path("not-a-project")))[:2] == (400, "EndPoint.0014")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/nothing"),
        ("PATCH", services_path()),
        ("GET", services_path() + "/"),
        ("GET", "/v3/projects"),
    ],
)
def test_it_answers_an_unknown_api_with_apigw_0101_before_authentication(raw_api, method, path):
    assert error_of(raw_api.request(method, path, auth=False))[:2] == (404, "APIGW.0101")


def test_it_refuses_a_body_over_12_mb_with_413(simulator, raw_api):
    service_id = simulator.seed["endpoint_services"][0]["id"]
    response = raw_api.request(
        "PUT", service_path(service_id), body=b" " * (12 * 1024 * 1024 + 1), auth=False
    )
    assert error_of(response) == (413, "APIGW.0201", "Request entity too large.")


def test_it_signs_in_the_foreign_account_separately(raw_api):
    token = raw_api.token(FOREIGN_USERNAME, FOREIGN_PASSWORD, FOREIGN_PROJECT_ID, FOREIGN_DOMAIN_NAME)
    assert raw_api.get(services_path(FOREIGN_PROJECT_ID), token=token).status == 200


def test_it_sends_a_request_id_with_every_api_answer(simulator, raw_api):
    service_id = simulator.seed["endpoint_services"][0]["id"]
    answers = [
        raw_api.get("/", auth=False),
        raw_api.get(services_path()),
        raw_api.post(TOKENS, token_request(USERNAME, PASSWORD, DOMAIN_NAME, PROJECT_ID), auth=False),
        raw_api.post(TOKENS, token_request(USERNAME, "x", DOMAIN_NAME, PROJECT_ID), auth=False),
        raw_api.get(services_path(), auth=False),
        raw_api.get(service_path("missing")),
        raw_api.get("/nowhere", auth=False),
        raw_api.put(service_path(service_id), {"service_name": "bad name"}),
        raw_api.delete(service_path(service_id)),
    ]
    ids = [answer.request_id for answer in answers]
    assert all(REQUEST_ID.fullmatch(request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)
    assert [entry["request_id"] for entry in simulator.journal()] == ids
    errors = [answer for answer in answers if answer.status >= 400]
    assert all(answer.json()["request_id"] == answer.request_id for answer in errors)
