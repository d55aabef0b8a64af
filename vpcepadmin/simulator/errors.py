"""The errors the simulated cloud answers with, codes and messages as documented (vpcep-api.md §9).

An ``ApiError`` raised anywhere below the WSGI app becomes one error response: its HTTP status, and by
default the flat body ``{"error_code", "error_msg", "request_id"}`` (§9.1 shapes 1 and 3).
"""

from __future__ import annotations

# NOTE: literal error_msg strings from vpcep-api.md §9.2; only the codes the simulator emits.
VPCEP_ERRORS: dict[str, tuple[int, str]] = {
    "EndPoint.0001": (500, "System error. Please retry."),
    "EndPoint.0002": (400, "Parameter error."),
    "EndPoint.0004": (403, "Authentication information is incorrect or you have no permissions."),
    "EndPoint.0005": (404, "The requested resource does not exist."),
    "EndPoint.0006": (400, "Invalid limit."),
    "EndPoint.0010": (400, "Invalid offset."),
    # NOTE: documented with HTTP 504 (§9.2 "oddities"); reproduced on purpose.
    "EndPoint.0011": (504, "The request body is null."),
    "EndPoint.0014": (400, "Invalid project ID."),
    "EndPoint.0017": (400, "Invalid sort_key."),
    "EndPoint.0018": (400, "Invalid sort_dir."),
    "EndPoint.0019": (400, "Invalid status."),
    "EndPoint.0020": (400, "Invalid VPC ID."),
    "EndPoint.0021": (400, "Invalid marker_id."),
    # NOTE: the quota code is documented with a lower-case "p" (§7.3, §9.2).
    "Endpoint.1018": (400, "Quota exceeded."),
    "EndPoint.2011": (400, "The input parameter VPC ID is empty."),
    "EndPoint.2013": (400, "The endpoint does not belong to the endpoint service."),
    "EndPoint.2018": (400, "The endpoint is being deleted."),
    "EndPoint.2019": (400, "The endpoint is being created."),
    "EndPoint.2027": (400, "Invalid action."),
    "EndPoint.2028": (400, "The endpoint service port or protocol is empty."),
    "EndPoint.2031": (400, "Only one endpoint is allowed."),
    "EndPoint.2047": (400, "The VPC endpoint in the Failed status cannot be modified."),
    "EndPoint.3002": (400, "Invalid permission."),
    "EndPoint.3003": (400, "Invalid port ID."),
    "EndPoint.3006": (400, "The endpoint service is being used."),
    "EndPoint.3021": (400, "Invalid serverType."),
    "EndPoint.3035": (400, "Invalid action."),
    "EndPoint.3036": (400, "Invalid permissions."),
    "EndPoint.3043": (400, "The service port is invalid."),
    "EndPoint.3044": (400, "The parameter ports conflicted with ports in an existing endpoint service."),
    "EndPoint.3045": (400, "Other properties cannot be modified in the current endpoint service state."),
    "EndPoint.3049": (400, "The maximum number of whitelist records has been reached."),
    "EndPoint.3052": (400, "portId and ip cannot be modified at the same time."),
    "EndPoint.3066": (400, "The tag cannot be empty."),
    "EndPoint.3067": (400, "The tag key cannot be duplicated."),
    "EndPoint.3068": (400, "Tag keys and values should meet relevant requirements."),
    "EndPoint.3069": (400, "The maximum number of tags has been reached."),
    "EndPoint.3072": (400, "The tag key size is invalid."),
    "EndPoint.3073": (400, "The tag value size is invalid."),
    "EndPoint.3074": (400, "The maximum of ports has been reached."),
    "EndPoint.3075": (400, "The protocol is invalid."),
    "EndPoint.3076": (400, "Invalid service name."),
}

# NOTE: API-gateway codes, vpcep-api.md §9.3.
APIGW_ERRORS: dict[str, tuple[int, str]] = {
    "APIGW.0101": (404, "The API does not exist or has not been published in the environment."),
    "APIGW.0201": (413, "Request entity too large."),
    "APIGW.0301": (401, "Incorrect IAM authentication information"),
    "APIGW.0307": (401, "The token must be updated."),
}


class ApiError(Exception):
    """One error answer of the simulated cloud: HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def vpcep_error(code: str) -> ApiError:
    """The VPCEP error ``code`` with its documented HTTP status and message."""
    status, message = VPCEP_ERRORS[code]
    return ApiError(status, code, message)


def apigw_error(code: str, detail: str = "") -> ApiError:
    """The gateway error ``code``; ``detail`` is appended as ``<message>: <detail>`` (§9.3)."""
    status, message = APIGW_ERRORS[code]
    return ApiError(status, code, f"{message}: {detail}" if detail else message)


def iam_error(status: int, code: str, message: str) -> ApiError:
    """An IAM token-endpoint error (§9.4); IAM uses the same flat envelope."""
    return ApiError(status, code, message)
