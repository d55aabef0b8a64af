"""AK/SK signing: the three vectors of vpcep-api.md §10.4 and the canonicalisation rules."""

from __future__ import annotations

import pytest

from vpcepadmin.cloud import signing

AK = "AKTESTEXAMPLE0000001"
SK = "SKtestExampleSecretKey0000000000000000001"
PROJECT = "0123456789abcdef0123456789abcdef"
SERVICE = "4189d3c2-8882-4871-a3c2-d380272eed83"
HEADERS = {
    "Content-Type": "application/json",
    "X-Sdk-Date": "20240115T103000Z",
    "Host": "vpcep.eu-de.otc.t-systems.com",
    "X-Project-Id": PROJECT,
}
SIGNED = "content-type;host;x-project-id;x-sdk-date"


def _authorization(method: str, path: str, query: list[tuple[str, str]], body: bytes) -> str:
    return signing.sign(
        method=method, path=path, query_pairs=query, headers=HEADERS, body=body, access_key=AK, secret_key=SK
    )


def test_it_matches_vector_1_list_with_query() -> None:
    query = [("limit", "10"), ("offset", "0"), ("endpoint_service_name", "demo svc")]
    assert _authorization("GET", f"/v1/{PROJECT}/vpc-endpoint-services", query, b"") == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}, "
        "Signature=ae0182612b038fed502bcb47610eab75ad91b59da027b756b3aca71a3607c1da"
    )


def test_it_matches_vector_1_canonical_request_hash() -> None:
    query = signing.canonical_query([("limit", "10"), ("offset", "0"), ("endpoint_service_name", "demo svc")])
    canonical = signing.canonical_request(
        "GET",
        f"/v1/{PROJECT}/vpc-endpoint-services",
        query,
        HEADERS,
        SIGNED.split(";"),
        signing.EMPTY_BODY_SHA256,
    )
    assert query == "endpoint_service_name=demo%20svc&limit=10&offset=0"
    assert signing.string_to_sign(canonical, "20240115T103000Z").endswith(
        "139c8c63b9bdb9f648a499cd00db8d1a4c9a717461ebeee615b60d9df7522601"
    )


def test_it_matches_vector_2_put_with_body() -> None:
    body = b'{"service_name":"demo","approval_enabled":false}'
    assert signing.payload_hash(body, "application/json") == (
        "42a207c31db9509a85ed4783d6d11b89e3b2168b1fa8e3c64bae34749c6ce2ee"
    )
    assert _authorization("PUT", f"/v1/{PROJECT}/vpc-endpoint-services/{SERVICE}", [], body).endswith(
        "Signature=88360141507a9c5b615abf2aa827e8a6129dee9b302ba17a906cc4b6afffc79b"
    )


def test_it_matches_vector_3_delete() -> None:
    assert _authorization("DELETE", f"/v1/{PROJECT}/vpc-endpoint-services/{SERVICE}", [], b"").endswith(
        "Signature=6f71be1bed7244cf79e50e9b7c707112550e91697491988d12226c948616f41a"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/p/vpc-endpoint-services", "/v1/p/vpc-endpoint-services/"),
        ("/v1/p/x/", "/v1/p/x/"),
        ("/v1/p/a%20b", "/v1/p/a%20b/"),
        ("/v1/p/a b", "/v1/p/a%20b/"),
        ("/v1/p/~_.-", "/v1/p/~_.-/"),
    ],
)
def test_it_canonicalises_the_uri(path: str, expected: str) -> None:
    assert signing.canonical_uri(path) == expected


def test_it_never_signs_headers_with_underscores() -> None:
    assert signing.signed_header_names({"X_Custom": "1", "Host": "h", "X-Sdk-Date": "d"}) == [
        "host",
        "x-sdk-date",
    ]


def test_it_parses_its_own_authorization_header() -> None:
    parsed = signing.parse_authorization(
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={SIGNED}, Signature=abc"
    )
    assert parsed == signing.ParsedAuthorization(AK, SIGNED.split(";"), "abc")
    assert signing.parse_authorization("AWS4-HMAC-SHA256 Credential=x") is None
    assert signing.parse_authorization("SDK-HMAC-SHA256 Access=x") is None
