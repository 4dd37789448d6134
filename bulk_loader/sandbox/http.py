"""The sandbox over a real socket: a stdlib threading HTTP/1.1 server on 127.0.0.1.

Why not Starlette and uvicorn: the faults need the socket itself (an RST before acting,
a close without an answer after acting), which an ASGI app cannot reach; and stdlib
http.server with keep-alive and Nagle off serves about twice plain uvicorn's rate (see
LIBRARY-NOTES.md), with no new dependency.

Routes: `POST /api` (Kartra's endpoint), `POST /_control` with a JSON body
({"op": "configure", "knobs": {...}} | {"op": "reset"} | {"op": "dump"} | {"op": "stats"}),
`GET /_control` (stats and knobs) and `GET /_control/dump` (every lead).

Who may call: every request must name the server by a loopback Host (127.0.0.1, localhost
or [::1], any port), else 421: a web page that rebinds its own name to 127.0.0.1 still
sends that name. Every control request must also carry the token made when the server
starts, in the `X-Sandbox-Token` header, else 403; a control POST must be
`Content-Type: application/json`, else 415. A browser can send neither that header nor
that type to another origin without a preflight, which this server does not answer.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import secrets
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from bulk_loader.sandbox.model import SandboxState
from bulk_loader.sandbox.service import Sandbox, Stats

__all__ = ["TOKEN_HEADER", "RunningSandbox", "SandboxServer", "run_forever"]

HOST = "127.0.0.1"
TOKEN_HEADER = "X-Sandbox-Token"
# Any port: an ssh tunnel or a port forward may put the sandbox behind another one.
_LOOPBACK_HOST = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?", re.IGNORECASE)


def loopback_host(value: str | None) -> bool:
    """Whether a Host header names this machine's loopback; a missing one does not."""
    return value is not None and _LOOPBACK_HOST.fullmatch(value.strip()) is not None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a new TCP connection per call costs 8x
    server: SandboxServer
    timeout = 120  # an idle keep-alive connection ends by itself

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per call would cost more than the call

    def do_POST(self) -> None:
        # The body is read before any refusal: closing on unread bytes would send an RST
        # that can reach the client before the refusal does.
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path.rstrip("/")
        if not self._host_allowed():
            return
        if path == "/_control":
            if not self._token_allowed():
                return
            if self.headers.get_content_type() != "application/json":
                self._error(415, "the control endpoint takes Content-Type: application/json")
                return
            self._control(lambda: json.loads(body or b"{}"))
        elif path == "/api":
            self._api(body)
        else:
            self._error(404, "not found: POST /api or /_control")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if not self._host_allowed():
            return
        if path in ("/_control", "/_control/dump"):
            if self._token_allowed():
                self._control(lambda: {"op": "dump" if path.endswith("dump") else "stats"})
        else:
            self._error(404, "not found")

    def _host_allowed(self) -> bool:
        """DNS rebinding: a page whose name now points at 127.0.0.1 still sends its name."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) == 1 and loopback_host(hosts[0]):
            return True
        self._error(421, "Host must be 127.0.0.1, localhost or [::1] (with any port)")
        return False

    def _token_allowed(self) -> bool:
        given = self.headers.get(TOKEN_HEADER)
        if given is None:
            self._error(
                403, f"the control endpoint needs the {TOKEN_HEADER} header printed at start"
            )
            return False
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.server.token.encode()):
            self._error(403, f"wrong {TOKEN_HEADER}")
            return False
        return True

    def _api(self, body: bytes) -> None:
        reply = self.server.sandbox.handle(body, self.client_address[0])
        if reply.fault == "reset":
            # SO_LINGER 0 makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._hang_up()
            return
        if reply.delay:
            time.sleep(reply.delay)
        if reply.fault == "lost":
            self._hang_up()
            return
        self._send(reply.status, reply.body, reply.content_type)

    def _control(self, read: Callable[[], Any]) -> None:
        try:
            request = read()
            if not isinstance(request, dict):
                raise ValueError('the body must be a JSON object: {"op": ...}')
            answer = self.server.sandbox.control(request)
        except (ValueError, TypeError) as exc:
            self._error(400, str(exc))
            return
        self._send(200, json.dumps(answer, default=str).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"error": message}).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _hang_up(self) -> None:
        self.close_connection = True
        self.connection.close()


class SandboxServer(ThreadingHTTPServer):
    """Binds 127.0.0.1 only; `close_all` ends kept-alive connections so stop is complete.

    `token` is new at every start: the control endpoint's password, for this run only.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sandbox: Sandbox, port: int = 0) -> None:
        super().__init__((HOST, port), _Handler)
        self.sandbox = sandbox
        self.token = secrets.token_urlsafe(32)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/api"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is normal here, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_all(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client or a fault
                connection.shutdown(socket.SHUT_RDWR)


class RunningSandbox:
    """A sandbox serving in a background thread; a context manager that stops it."""

    def __init__(self, sandbox: Sandbox, port: int = 0, on_stop: Callable[[], None] = lambda: None):
        self.sandbox = sandbox
        self._server = SandboxServer(sandbox, port)
        self._on_stop = on_stop
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
            name=f"sandbox:{self.port}",
        )  # fmt: skip
        self._thread.start()
        self._stopped = False

    @property
    def url(self) -> str:
        """The API URL to hand the client: http://127.0.0.1:PORT/api."""
        return self._server.url

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def token(self) -> str:
        """The control endpoint's token: send it as the X-Sandbox-Token header."""
        return self._server.token

    @property
    def control_url(self) -> str:
        """http://127.0.0.1:PORT/_control."""
        return self.url.removesuffix("/api") + "/_control"

    @property
    def state(self) -> SandboxState:
        return self.sandbox.state

    @property
    def stats(self) -> Stats:
        return self.sandbox.stats

    def configure(self, **knobs: Any) -> Any:
        return self.sandbox.configure(**knobs)

    def reset(self) -> None:
        self.sandbox.reset()

    def stop(self) -> None:
        """Stop serving, close every connection, release the port; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.close_all()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._on_stop()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_forever(sandbox: Sandbox, port: int, on_ready: Callable[[str, str], None]) -> None:
    """Serve in the calling thread until interrupted (Ctrl-C); the CLI's standing server.

    `on_ready(url, token)` is called once listening, with the API URL and control token.
    """
    server = SandboxServer(sandbox, port)
    try:
        on_ready(server.url, server.token)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close_all()
        server.server_close()
