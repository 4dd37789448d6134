"""The client on real networks: proxies, certificate stores, servers that never finish.

Every server here is a few lines on 127.0.0.1; none of them reaches anywhere else.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import certifi
import pytest

from bulk_loader.errors import ConfigError
from bulk_loader.kartra.client import Credentials, KartraClient, Outcome
from bulk_loader.sandbox import serve_in_thread

ROOT_ACCOUNT = Path(__file__).resolve().parent.parent / "samples" / "account.toml"
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


@contextmanager
def tcp_server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A one-connection-at-a-time server on 127.0.0.1; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)

    def serve() -> None:
        try:
            while True:
                connection, _ = listener.accept()
                with connection:
                    connection.settimeout(30)
                    handle(connection)
        except OSError:
            return  # the listener was closed: the test is over

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def read_head(connection: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_a_server_that_trickles_its_answer_cannot_hold_a_call() -> None:
    """One byte every 0.2 s keeps every read alive; the call's own deadline ends it."""
    sent = [0]

    def trickle(connection: socket.socket) -> None:
        read_head(connection)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
        for _ in range(5000):
            try:
                connection.sendall(b" ")
            except OSError:
                return  # the client hung up
            sent[0] += 1
            threading.Event().wait(0.2)

    with (
        tcp_server(trickle) as port,
        KartraClient(CREDENTIALS, api_url=f"http://127.0.0.1:{port}/api", timeout=0.5) as client,
    ):
        result = client.search_lead(email="a@example.com")
    assert result.outcome is Outcome.UNKNOWN and "no whole answer within 1 s" in result.message
    assert sent[0] < 100  # the whole answer would have been 5,000 bytes (1,000 s)


@contextmanager
def refusing_proxy() -> Iterator[tuple[int, list[bytes]]]:
    """A proxy that records each request line and refuses it (502): nothing goes out."""
    seen: list[bytes] = []

    def refuse(connection: socket.socket) -> None:
        seen.append(read_head(connection).split(b"\r\n", 1)[0])
        connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    with tcp_server(refuse) as port:
        yield port, seen


def test_https_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY, as set on corporate laptops: the call goes to the proxy."""
    with refusing_proxy() as (port, seen):
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        with KartraClient(CREDENTIALS, api_url="https://app.kartra.com/api") as client:
            result = client.search_lead(email="a@example.com")
    assert seen == [b"CONNECT app.kartra.com:443 HTTP/1.1"]
    assert result.outcome is Outcome.TRANSIENT  # refused by the proxy: Kartra saw nothing


def test_the_proxy_option_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """--proxy http://host:port, without the environment."""
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    with (
        refusing_proxy() as (port, seen),
        KartraClient(
            CREDENTIALS, api_url="https://app.kartra.com/api", proxy=f"http://127.0.0.1:{port}"
        ) as client,
    ):
        client.search_lead(email="a@example.com")
    assert seen == [b"CONNECT app.kartra.com:443 HTTP/1.1"]


def test_a_sandbox_on_this_machine_is_never_reached_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY set for the corporate network: the local sandbox still answers directly."""
    with refusing_proxy() as (port, seen):
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{port}")
        with (
            serve_in_thread(ROOT_ACCOUNT, rate=None) as sandbox,
            KartraClient(CREDENTIALS, api_url=sandbox.url) as client,
        ):
            result = client.search_lead(email="maria.lopez@example.com")
    assert result.outcome is Outcome.OK and seen == []


def test_a_proxy_password_on_the_command_line_is_refused() -> None:
    """A password in --proxy would show in `ps`: the environment variable is the place."""
    with pytest.raises(ConfigError, match=r"'http://\*\*\*@proxy.corp:3128'.*HTTPS_PROXY"):
        KartraClient(CREDENTIALS, proxy="http://me:s3cret@proxy.corp:3128")


def test_a_ca_bundle_is_trusted_and_a_missing_one_is_one_clear_line() -> None:
    """--ca-bundle for an inspecting proxy's CA; a wrong path names itself."""
    KartraClient(CREDENTIALS, ca_bundle=certifi.where()).close()
    with pytest.raises(ConfigError, match=r"--ca-bundle /no/such.pem: not a readable PEM"):
        KartraClient(CREDENTIALS, ca_bundle="/no/such.pem")


def test_a_server_that_trickles_its_headers_cannot_hold_a_call() -> None:
    """Status line and headers a byte every 0.25 s: the call's deadline (2 s) ends it too."""
    sent = [0]
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Slow: " + b"x" * 160 + b"\r\n\r\n{}"

    def trickle(connection: socket.socket) -> None:
        read_head(connection)
        for byte in head:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                return  # the client hung up
            sent[0] += 1
            threading.Event().wait(0.25)

    with (
        tcp_server(trickle) as port,
        KartraClient(CREDENTIALS, api_url=f"http://127.0.0.1:{port}/api", timeout=1.0) as client,
    ):
        result = client.search_lead(email="a@example.com")
    assert result.outcome is Outcome.UNKNOWN and "no whole answer within 2 s" in result.message
    assert sent[0] < 40  # the whole head is 200 bytes (50 s)
