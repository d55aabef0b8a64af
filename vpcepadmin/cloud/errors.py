"""One error taxonomy for every cloud call, mapped in one place (``classify``).

Views and use cases catch these classes only. Every error carries what an operator needs to find
the call in the cloud's own trace: HTTP status, the cloud's error code and message, and the cloud's
``X-Request-Id``.
"""

from __future__ import annotations

import json
import re
from typing import Any

THROTTLE_CODES = frozenset({"APIGW.0308", "EndPoint.0022"})
TOKEN_REFRESH_CODES = frozenset({"APIGW.0307", "APIGW.0301"})
MAX_MESSAGE_CHARS = 500


class CloudError(Exception):
    """Base class. ``status`` is 0 when no HTTP answer was received."""

    summary = "The cloud API call failed."

    def __init__(
        self,
        message: str = "",
        *,
        status: int = 0,
        error_code: str = "",
        cloud_request_id: str = "",
    ) -> None:
        self.message = message[:MAX_MESSAGE_CHARS] or self.summary
        self.status = status
        self.error_code = error_code
        self.cloud_request_id = cloud_request_id
        super().__init__(self.message)

    def __str__(self) -> str:
        code = f"{self.error_code}: " if self.error_code else ""
        return f"{code}{self.message}"

    @property
    def detail(self) -> str:
        """The message when it says more than the summary, else "" (so no page says it twice)."""
        said = _words(self.summary) | _GENERIC_WORDS
        return self.message if _words(self.message) - said else ""

    @property
    def explained(self) -> str:
        """What a page shows: the summary once, then the detail when there is one."""
        return f"{self.summary} {self.detail}".strip()


class CloudAuthError(CloudError):
    """401/403: the stored credentials are wrong, expired or lack a permission."""

    summary = "The cloud refused the credentials."


class CloudNotFound(CloudError):
    """404: the resource does not exist (for a service: deleted, or never existed)."""

    summary = "The resource does not exist in the cloud."


class CloudRejected(CloudError):
    """400/409 and other 4xx: the cloud understood the request and refused it. Nothing changed."""

    summary = "The cloud rejected the request."


class CloudThrottled(CloudError):
    """429 ``APIGW.0308`` or 400 ``EndPoint.0022``: too many requests; nothing changed."""

    summary = "The cloud is rate-limiting requests; try again in a moment."


class CloudUnavailable(CloudError):
    """5xx, connection refused, a failed TLS handshake, timeouts on reads, redirects or unreadable
    answers. ``message`` says why in the operator's words (e.g. "The endpoint's TLS certificate is
    not trusted.").

    For a mutation this class means the request was not applied (it was not sent, or the server
    said it failed); when that cannot be known, ``CloudOutcomeUnknown`` is raised instead.
    """

    summary = "The cloud API is unavailable."


class CloudOutcomeUnknown(CloudError):
    """A mutating request was sent but no usable answer came back (read timeout, reset, deadline).

    The change may or may not have been applied: re-read the resource to find out.
    """

    summary = "The request was sent but no answer came back; it may or may not have been applied."


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


# Words that say nothing a summary does not already say ("Service temporarily unavailable").
_GENERIC_WORDS = frozenset(
    _words(
        "a an the is are was be been to of for please try again later temporarily error internal server"
        " service cloud api unavailable failed request backend gateway currently available down"
    )
)


def parse_error_body(raw: bytes) -> tuple[str, str]:
    """Return (error_code, error_msg) from any of the error shapes of vpcep-api.md §9.1 and §9.4."""
    try:
        body: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "", raw[:MAX_MESSAGE_CHARS].decode("utf-8", "replace").strip()
    return _find_code_and_message(body)


_ERROR_KEYS = (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message"))


def _find_code_and_message(body: Any, depth: int = 0) -> tuple[str, str]:
    if not isinstance(body, dict) or depth > 3:
        return "", ""
    # NOTE: the same order as the official SDK's exception handler (vpcep-api.md §9.1).
    for code_key, message_key in _ERROR_KEYS:
        if code_key in body or message_key in body:
            return str(body.get(code_key, "")), str(body.get(message_key, ""))
    for value in body.values():
        code, message = _find_code_and_message(value, depth + 1)
        if code or message:
            return code, message
    return "", ""


def classify(status: int, error_code: str, message: str, cloud_request_id: str) -> CloudError:
    """Map an HTTP error answer onto the taxonomy. The caller decides about mutations and 5xx."""
    kwargs: dict[str, Any] = {"status": status, "error_code": error_code}
    kwargs["cloud_request_id"] = cloud_request_id
    if status == 429 or error_code in THROTTLE_CODES:
        return CloudThrottled(message, **kwargs)
    if status in (401, 403):
        return CloudAuthError(message, **kwargs)
    if status == 404:
        return CloudNotFound(message, **kwargs)
    if 400 <= status < 500:
        return CloudRejected(message, **kwargs)
    return CloudUnavailable(message or f"HTTP {status}", **kwargs)
