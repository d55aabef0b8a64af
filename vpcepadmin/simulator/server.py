"""``SimulatorServer``: the simulator on a real socket, with HTTP/1.1 keep-alive and real faults.

A small threading HTTP/1.1 server adapts each request to the WSGI app, so that it controls the
socket: ``SimulatedReset`` becomes a TCP RST (SO_LINGER on, 0 s, then close) or, after a partial body,
a plain close; every body chunk is written and flushed at once (dripping); idle keep-alive connections
stay open for the client's pool. Tests start it on a free port in a daemon thread::

    with SimulatorServer(seed=standard_seed(), creating_seconds=0.2) as server:
        requests_to(server.url)

With ``tls_port`` it also serves the same app (same state, journal and faults) over HTTPS, with a
certificate signed by a CA made at start (``vpcepadmin.simulator.tls``): ``tls_url`` is the address and
``tls_ca_file`` the CA certificate a client must be told to trust; nothing trusts it by default.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import socketserver
import ssl
import struct
import sys
import tempfile
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote_to_bytes

from vpcepadmin.simulator.app import SimulatorApp
from vpcepadmin.simulator.records import Timings
from vpcepadmin.simulator.state import Store
from vpcepadmin.simulator.tls import DEFAULT_NAMES, TlsIdentity, make_identity
from vpcepadmin.simulator.wsgi import SimulatedReset

logger = logging.getLogger(__name__)
# A body left unread (e.g. after 413) is drained up to this size to keep the connection usable.
MAX_DRAIN_BYTES = 64 * 1024 * 1024
# A client that connects to the TLS listener and says nothing is dropped after this many seconds.
HANDSHAKE_TIMEOUT = 10.0


class _Input:
    """``wsgi.input``: at most Content-Length bytes of the request body; remembers what is left."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data: bytes = self._stream.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def drain(self) -> bool:
        """Read and drop the rest; False when too much is left (then the connection must close)."""
        if self.remaining > MAX_DRAIN_BYTES:
            return False
        while self.remaining:
            if not self.read(min(self.remaining, 1 << 20)):
                return False
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm meets the
    # client's delayed ACK and every answer waits ~40 ms more than the cloud would make it wait.
    disable_nagle_algorithm = True
    server_version = "vpcep-simulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ValueError:
            # NOTE: a deliberately dropped connection (reset fault) has closed files; the base class
            # still flushes them after the handler returns.
            if not self.wfile.closed:
                raise
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _content_length(self) -> int | None:
        """The body's length; None for a chunked body or an unreadable length (not supported)."""
        length = self.headers.get("Content-Length") or "0"
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        return None if chunked or not (length.isascii() and length.isdigit()) else int(length)

    def _run(self) -> None:
        length = self._content_length()
        if length is None:
            self.send_error(411, "Length Required")
            self.close_connection = True
            return
        body = _Input(self.rfile, length)
        try:
            self._respond(body)
        except SimulatedReset as reset:
            self._drop(rst=reset.rst)
            return
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
            return
        if not body.drain():
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _run

    def _respond(self, body: _Input) -> None:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [status, headers]

        try:
            result = self.server.app(self._environ(body), start_response)
        except SimulatedReset:
            raise
        except Exception:  # the server's outermost boundary: a simulator bug answers 500, not a hang
            logger.exception("simulator bug while answering %s %s", self.command, self.path)
            self.send_error(500, "Internal Server Error")
            return
        try:
            sent_headers = False
            for chunk in result:
                if not sent_headers:
                    self._send_headers(*started)
                    sent_headers = True
                if chunk and self.command != "HEAD":
                    self.wfile.write(chunk)
                    self.wfile.flush()
            if not sent_headers:
                self._send_headers(*started)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _send_headers(self, status: str, headers: list[tuple[str, str]]) -> None:
        code, _, phrase = status.partition(" ")
        self.send_response(int(code), phrase)
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()

    def _drop(self, *, rst: bool) -> None:
        self.close_connection = True
        if rst:
            # NOTE: linger on with 0 s makes close() send RST instead of FIN: a real "connection reset".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket only really closes once its file objects are closed too
        self.wfile.close()
        self.connection.close()

    def _environ(self, body: _Input) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query,
            "RAW_URI": self.path,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.server.url_scheme,
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            if "_" in name:
                # NOTE: never signed (§10.2 step 4) and ambiguous in WSGI; dropped, as gunicorn does.
                continue
            key = name.upper().replace("-", "_")
            key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    url_scheme = "http"

    def __init__(self, address: tuple[str, int], app: SimulatorApp) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (slow without DNS); we need no name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def url(self) -> str:
        return f"{self.url_scheme}://{self.server_name}:{self.server_port}"


class _HTTPSServer(_HTTPServer):
    """The same server behind TLS. The handshake runs in the connection's own thread, so a client
    that never completes it holds up nobody else; a failed handshake just closes that connection."""

    url_scheme = "https"

    def __init__(self, address: tuple[str, int], app: SimulatorApp, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(address, app)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(HANDSHAKE_TIMEOUT)
            request.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            # Expected whenever a client rejects the certificate or does not speak TLS.
            logger.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        super().finish_request(request, client_address)


class SimulatorServer:
    """The simulator on ``host:port`` (0: a free port). State comes from ``state_file`` when it exists,
    else from ``seed``, else from the demo seed when ``demo``, else empty.

    With ``tls_port`` (0: a free port) the same app is also served over HTTPS on ``host:tls_port``,
    with a fresh certificate for ``tls_names`` (host names or IP addresses).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: dict[str, Any] | None = None,
        demo: bool = False,
        state_file: str | Path | None = None,
        creating_seconds: float = 3.0,
        deleting_seconds: float = 3.0,
        tls_port: int | None = None,
        tls_names: Sequence[str] = DEFAULT_NAMES,
    ) -> None:
        if seed is None and demo:
            from vpcepadmin.simulator.demo import demo_seed

            seed = demo_seed()
        self.seed: dict[str, Any] = seed if seed is not None else {}
        timings = Timings(creating_seconds, deleting_seconds)
        path = Path(state_file) if state_file is not None else None
        self.app = SimulatorApp(Store.open(self.seed, timings=timings, state_file=path))
        self._httpd = _HTTPServer((host, port), self.app)
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()
        self._tls: _HTTPSServer | None = None
        self._tls_folder: Path | None = None
        self.tls_identity: TlsIdentity | None = None
        if tls_port is not None:
            self._start_tls_listener(host, tls_port, tls_names)

    def _start_tls_listener(self, host: str, port: int, names: Sequence[str]) -> None:
        self.tls_identity = make_identity(names)
        try:
            self._tls = _HTTPSServer((host, port), self.app, self.tls_identity.server_context())
            self._tls_folder = Path(tempfile.mkdtemp(prefix="vpcep-sim-ca-"))
            self.tls_identity.write_ca(self._tls_folder / "ca.pem")
        except BaseException:
            self._httpd.server_close()  # the plain listener is already bound: do not leak it
            if self._tls is not None:
                self._tls.server_close()
            raise

    @property
    def url(self) -> str:
        return self._httpd.url

    @property
    def tls_url(self) -> str:
        """``https://host:port`` of the TLS listener; ValueError when there is none."""
        if self._tls is None:
            raise ValueError("this simulator has no TLS listener (pass tls_port)")
        return self._tls.url

    @property
    def tls_ca_file(self) -> Path:
        """The CA certificate that signed the listener's certificate (exists until ``stop()``)."""
        if self._tls_folder is None:
            raise ValueError("this simulator has no TLS listener (pass tls_port)")
        return self._tls_folder / "ca.pem"

    def start(self) -> SimulatorServer:
        """Serve in a daemon thread; returns at once."""
        self._serving.set()  # before the thread runs, so that an immediate stop() still shuts it down
        self._thread = threading.Thread(target=self.serve_forever, name="vpcep-simulator", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` (from another thread) or KeyboardInterrupt."""
        self._serving.set()
        tls_thread = None
        if self._tls is not None:
            tls_thread = threading.Thread(
                target=self._tls.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            tls_thread.start()
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            # The TLS listener lives exactly as long as the plain one, however that one ended.
            if self._tls is not None and tls_thread is not None:
                self._tls.shutdown()
                tls_thread.join(timeout=5)
            self._serving.clear()

    def stop(self) -> None:
        """Stop serving, cut injected waits short, close the listening sockets, drop the CA file."""
        self.app.stopping.set()
        if self._serving.is_set():
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tls is not None:
            self._tls.server_close()
        if self._tls_folder is not None:
            shutil.rmtree(self._tls_folder, ignore_errors=True)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def describe(self) -> str:
        """What the demo prints: where the cloud is and how to sign in to it (fake credentials)."""
        state = self.app.store.dump()
        lines = [f"VPCEP + IAM simulator on {self.url} (region {state['region']})"]
        if self._tls is not None:
            lines.append(f"  HTTPS     {self.tls_url}  (trust the CA in {self.tls_ca_file})")
        lines.append(f"  IAM       {self.url}/v3/auth/tokens")
        domains = {p["domain_name"]: p["domain_id"] for p in state["projects"]}
        lines += [f"  domain    {name}  (id {domain_id})" for name, domain_id in domains.items()]
        lines += [
            f"  user      {u['name']} / {u['password']} (domain {u['domain_name']})" for u in state["users"]
        ]
        lines += [f"  project   {p['id']}  {p['name']}" for p in state["projects"]]
        lines += [f"  AK / SK   {k['access']} / {k['secret']}" for k in state["access_keys"]]
        lines.append(f"  timings   {json.dumps(state['timings'])}")
        return "\n".join(lines)
