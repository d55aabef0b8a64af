"""The request and response the simulator's handlers see, built from a plain WSGI environ.

``Request`` keeps what AK/SK verification needs verbatim: the raw path as received, the raw query
string, the exact header values and the raw body bytes (vpcep-api.md §10.2, §10.6).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

if TYPE_CHECKING:
    from vpcepadmin.simulator.state import Store

# NOTE: AK/SK requests are limited to 12 MB bodies (vpcep-api.md §10.2 step 11, §12).
MAX_BODY_BYTES = 12 * 1024 * 1024

StartResponse = Any  # the WSGI start_response callable (typing it fully buys nothing here)


class SimulatedReset(Exception):
    """Raised by the app to make the server drop the connection.

    ``rst=True`` sends a TCP RST (SO_LINGER 0); ``rst=False`` closes normally (FIN), which after a
    partial body makes the client see fewer bytes than Content-Length. Only ``SimulatorServer``
    understands this; another WSGI server treats it as an application error and closes or answers 500.
    """

    def __init__(self, *, rst: bool = True) -> None:
        super().__init__("simulated connection reset")
        self.rst = rst


@dataclass
class Request:
    """One HTTP request as received. ``headers`` has lower-case names and the exact values sent."""

    method: str
    path: str
    raw_path: str
    query_string: str
    headers: dict[str, str]
    body: bytes
    body_too_large: bool = False
    client_port: int = 0
    query: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # NOTE: "+" decodes to a space, as Java-based gateways do; the SDK and our client send %20.
        self.query = parse_qsl(self.query_string, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """The first value of query parameter ``name``; None when absent or empty."""
        for key, value in self.query:
            if key == name:
                return value or None
        return None

    @property
    def host(self) -> str:
        return self.headers.get("host", "localhost")

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        """Read the request; a body above ``MAX_BODY_BYTES`` is left unread and flagged."""
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(path)
        headers = _headers(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        too_large = length > MAX_BODY_BYTES
        body = b"" if too_large or length <= 0 else environ["wsgi.input"].read(length)
        return cls(
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            path=path,
            raw_path=raw_uri.partition("?")[0],
            query_string=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
            body_too_large=too_large,
            client_port=int(environ.get("REMOTE_PORT") or 0),
        )


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].lower().replace("_", "-")] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return headers


@dataclass
class Response:
    """One answer: status, headers and a body that is either bytes or an iterable of chunks."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: Iterable[bytes] | None = None

    @classmethod
    def json(cls, status: int, document: object, headers: Iterable[tuple[str, str]] = ()) -> Response:
        body = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return cls(status, body, [("Content-Type", "application/json"), *headers])

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def iter_body(self) -> Iterator[bytes]:
        if self.chunks is not None:
            yield from self.chunks
        elif self.body:
            yield self.body


def reason(status: int) -> str:
    """The reason phrase for ``status`` (WSGI needs one)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass
class Call:
    """What a handler gets: the request, the store, the path parameters and the public base URL."""

    request: Request
    store: Store
    params: dict[str, str]
    base_url: str

    @property
    def project_id(self) -> str:
        return self.params["project_id"]

    def query(self, *names: str) -> dict[str, str | None]:
        return {name: self.request.param(name) for name in names}


Handler = Callable[[Call], Response]
