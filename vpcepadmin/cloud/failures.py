"""Why one attempt of a cloud call failed: sent or not, worth a retry or not, in plain words.

A failure before the request left (refused, unresolvable, the TLS handshake) means nothing was
sent, so even a mutation cannot have happened; a failure after it may have left does not prove
that. Reasons are fixed texts, fit for an operator and a log line: they never carry a secret.
"""

from __future__ import annotations

import ssl

import requests
import urllib3.exceptions
from urllib3.util.ssl_match_hostname import CertificateError as HostnameMismatch

from vpcepadmin.cloud.addresses import AddressRefused


class Failure(Exception):
    """One attempt failed; ``str()`` is a plain, fixed-text reason fit for an operator and a log."""

    def __init__(self, reason: str, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable


class NotSent(Failure):
    """The request never left: no connection, or no TLS session to send it over."""


class Broken(Failure):
    """The request was (or may have been) sent, and no complete answer came back."""


_CONNECT_FAILURES = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)

# Plain reasons (also the error messages): fixed texts, so they never carry anything secret.
NOT_TRUSTED = "The endpoint's TLS certificate is not trusted."
NOT_VALID_NOW = "The endpoint's TLS certificate has expired or is not valid yet."
OTHER_HOST = "The endpoint's TLS certificate is for another host name."
NOT_TLS = "The endpoint does not speak TLS (wrong protocol, e.g. plain HTTP)."
HANDSHAKE_FAILED = "The TLS handshake with the endpoint failed."
TLS_BROKEN = "The TLS connection broke before an answer came back."
REFUSED = "The endpoint refused the connection."
UNRESOLVABLE = "The endpoint's host name cannot be resolved."
UNREACHABLE = "The endpoint cannot be reached."
CONNECT_TIMEOUT = "The connection to the endpoint timed out."
RESET = "The connection was reset."
BROKEN = "The connection broke before an answer came back."
READ_TIMEOUT = "The endpoint did not answer in time."
CA_BUNDLE_MISSING = "The configured CA bundle (VPCEPADMIN_CLOUD_CA_BUNDLE) does not exist."
# The one reason with a value in it: an address is no secret, and it says where the name pointed.
REFUSED_ADDRESS = (
    "The endpoint resolves to a private or internal address ({address}); calls to it are refused."
)

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) that are not about trust.
_VERIFY_NOT_VALID_NOW = frozenset({9, 10})  # CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
_VERIFY_OTHER_HOST = frozenset({62, 64})  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH
# OpenSSL reasons for a peer whose first bytes are not a TLS record: a plain-HTTP server answering.
_NOT_TLS_REASONS = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "UNKNOWN_PROTOCOL",
        "PACKET_LENGTH_TOO_LONG",
        "HTTP_REQUEST",
    }
)


def chain_of(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps (cause, context, urllib3's ``reason``, args), once each.

    Only exceptions are followed: an ``ssl.SSLError``'s ``reason`` is a text, not a cause.
    """
    found: list[BaseException] = []
    seen: set[int] = set()
    stack: list[object] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        stack.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        stack.extend(current.args)
    return found


def _raised_in_handshake(exc: BaseException) -> bool:
    """True when ``exc`` came out of the TLS handshake, which precedes any byte of the request."""
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_name == "do_handshake":
            return True
        trace = trace.tb_next
    return False


def _tls_failure(chain: list[BaseException]) -> Failure | None:
    """The TLS problem in ``chain``, if any. A handshake failure means nothing was sent."""
    for exc in chain:
        if isinstance(exc, ssl.SSLCertVerificationError):
            code = exc.verify_code
            if code in _VERIFY_OTHER_HOST:
                return NotSent(OTHER_HOST, retryable=False)
            if code in _VERIFY_NOT_VALID_NOW:
                return NotSent(NOT_VALID_NOW, retryable=False)
            return NotSent(NOT_TRUSTED, retryable=False)
        if isinstance(exc, HostnameMismatch):
            # urllib3's own name check, after the handshake and before the request is written.
            return NotSent(OTHER_HOST, retryable=False)
    for exc in chain:
        if isinstance(exc, ssl.SSLError):
            if not _raised_in_handshake(exc):
                return Broken(TLS_BROKEN)  # after the handshake the request may have been written
            if exc.reason in _NOT_TLS_REASONS:
                return NotSent(NOT_TLS, retryable=False)
            # Neither certificate nor protocol (e.g. the peer hung up mid-handshake): may pass.
            return NotSent(HANDSHAKE_FAILED)
    return None


def was_reset(exc: BaseException) -> bool:
    return any(isinstance(item, ConnectionResetError) for item in chain_of(exc))


def connection_failure(exc: requests.ConnectionError) -> Failure:
    """Map a failed exchange onto sent / not sent, retryable or not, with a plain reason."""
    chain = chain_of(exc)
    refused = next((item for item in chain if isinstance(item, AddressRefused)), None)
    if refused is not None:
        # Checked before any socket was opened; asking again at once would not make it public.
        return NotSent(REFUSED_ADDRESS.format(address=refused.address), retryable=False)
    tls = _tls_failure(chain)
    if tls is not None:
        return tls
    reset = any(isinstance(item, ConnectionResetError) for item in chain)
    if any(isinstance(item, OSError) and _raised_in_handshake(item) for item in chain):
        # The peer hung up during the handshake: not one byte of the request was written.
        return NotSent(RESET if reset else HANDSHAKE_FAILED)
    if any(isinstance(item, _CONNECT_FAILURES) for item in chain):
        if any(isinstance(item, ConnectionRefusedError) for item in chain):
            return NotSent(REFUSED)
        if any(isinstance(item, urllib3.exceptions.NameResolutionError) for item in chain):
            return NotSent(UNRESOLVABLE)
        return NotSent(UNREACHABLE)
    return Broken(RESET if reset else BROKEN)
