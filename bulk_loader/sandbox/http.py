"""The sandbox over a real socket: a stdlib threading HTTP/1.1 server on 127.0.0.1.

Why not Starlette and uvicorn: the faults need the socket itself (an RST before acting,
a close without an answer after acting), which an ASGI app cannot reach; and stdlib
http.server with keep-alive and Nagle off serves about twice plain uvicorn's rate (see
LIBRARY-NOTES.md), with no new dependency.

Routes: `POST /api` (Kartra's endpoint), `POST /_control` with a JSON body
({"op": "configure", "knobs": {...}} | {"op": "reset"} | {"op": "dump"} | {"op": "stats"}),
`GET /_control` (stats and knobs) and `GET /_control/dump` (every lead).
"""

from __future__ import annotations

import contextlib
import json
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

__all__ = ["RunningSandbox", "SandboxServer", "run_forever"]

HOST = "127.0.0.1"


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
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/_control":
            self._control(lambda: json.loads(body or b"{}"))
        elif path == "/api":
            self._api(body)
        else:
            self._send(404, b'{"error": "not found: POST /api or /_control"}', "application/json")

    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path in ("/_control", "/_control/dump"):
            self._control(lambda: {"op": "dump" if path.endswith("dump") else "stats"})
        else:
            self._send(404, b'{"error": "not found"}', "application/json")

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
            answer = self.server.sandbox.control(read())
        except (ValueError, TypeError) as exc:
            self._send(400, json.dumps({"error": str(exc)}).encode(), "application/json")
            return
        self._send(200, json.dumps(answer, default=str).encode(), "application/json")

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
    """Binds 127.0.0.1 only; `close_all` ends kept-alive connections so stop is complete."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, sandbox: Sandbox, port: int = 0) -> None:
        super().__init__((HOST, port), _Handler)
        self.sandbox = sandbox
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


def run_forever(sandbox: Sandbox, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve in the calling thread until interrupted (Ctrl-C); the CLI's standing server."""
    server = SandboxServer(sandbox, port)
    try:
        on_ready(server.url)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close_all()
        server.server_close()
