"""Connections that reach only addresses the address policy allows (``cloud.addresses``).

Guarantees, for every new connection a ``CheckedAdapter`` opens:

- the host name is resolved exactly once, and every address it resolves to is checked before any
  socket is opened; one refused address refuses the connection (``AddressRefused`` as the cause
  of a ``NewConnectionError``: nothing was sent);
- the socket connects to one of those checked addresses, never to a second resolution of the name
  (which a rebinding resolver could answer differently);
- TLS still sends the host name as SNI and verifies the certificate against the host name, not
  the address: only the socket is made here, urllib3's ``connect`` wraps it exactly as before.

A kept-alive connection is reused without a new check: it goes to an address checked when it opened.
This overrides urllib3 2.x's ``HTTPConnection._new_conn`` (the one place it opens a socket; the
dependency is pinned below 3), and the SSRF tests prove that it is the code that runs.
"""

from __future__ import annotations

import functools
import socket
import sys
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

from vpcepadmin.cloud.addresses import AddressRefused, Candidate, checked_candidates


def _open_socket(connection: HTTPConnection, candidates: list[Candidate]) -> socket.socket:
    """A socket connected to the first candidate that accepts, with the connection's options."""
    error: OSError = OSError("The host name resolved to no address.")
    for family, kind, proto, _name, sockaddr in candidates:
        sock: socket.socket | None = None
        try:
            sock = socket.socket(family, kind, proto)
            for option in connection.socket_options or ():
                sock.setsockopt(*option)
            if connection.timeout is None or isinstance(connection.timeout, int | float):
                sock.settimeout(connection.timeout)
            if connection.source_address:
                sock.bind(connection.source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:  # this address failed: try the next checked one
            error = exc
            if sock is not None:
                sock.close()
    raise error


def _checked_socket(connection: HTTPConnection, allow_loopback: bool) -> socket.socket:
    """What urllib3's ``_new_conn`` does, with the address check between resolving and connecting.

    Errors are urllib3's own, so that requests and ``failures.connection_failure`` classify them
    as before; a refused address is a ``NewConnectionError`` caused by ``AddressRefused``.
    """
    try:
        candidates = checked_candidates(
            connection._dns_host, connection.port, allow_loopback=allow_loopback, family=allowed_gai_family()
        )
    except socket.gaierror as exc:
        raise NameResolutionError(connection.host, connection, exc) from exc
    except AddressRefused as exc:
        raise NewConnectionError(connection, f"The address {exc.address} is refused.") from exc
    try:
        sock = _open_socket(connection, candidates)
    except TimeoutError as exc:
        raise ConnectTimeoutError(
            connection, f"Connection to {connection.host} timed out. (connect timeout={connection.timeout})"
        ) from exc
    except OSError as exc:
        raise NewConnectionError(connection, f"Failed to establish a new connection: {exc}") from exc
    sys.audit("http.client.connect", connection, connection.host, connection.port)
    return sock


class CheckedHTTPConnection(HTTPConnection):
    """Plain HTTP (only ever to the simulator on loopback) under the address policy."""

    allow_loopback = False

    def _new_conn(self) -> socket.socket:
        return _checked_socket(self, self.allow_loopback)


class CheckedHTTPSConnection(HTTPSConnection):
    """HTTPS under the address policy; SNI and the certificate check use the host name."""

    allow_loopback = False

    def _new_conn(self) -> socket.socket:
        return _checked_socket(self, self.allow_loopback)


@functools.cache
def pool_classes(allow_loopback: bool) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes by scheme whose connections apply the policy (two sets at most)."""

    class HTTP(CheckedHTTPConnection):
        pass

    class HTTPS(CheckedHTTPSConnection):
        pass

    HTTP.allow_loopback = HTTPS.allow_loopback = allow_loopback

    class HTTPPool(HTTPConnectionPool):
        ConnectionCls = HTTP

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = HTTPS

    return {"http": HTTPPool, "https": HTTPSPool}


class CheckedAdapter(HTTPAdapter):
    """A requests adapter whose every new connection goes only where the address policy allows."""

    __attrs__ = [*HTTPAdapter.__attrs__, "allow_loopback"]  # kept when pickled

    def __init__(self, *, allow_loopback: bool, **kwargs: Any) -> None:
        self.allow_loopback = allow_loopback  # before super().__init__, which makes the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(pool_classes(self.allow_loopback))
