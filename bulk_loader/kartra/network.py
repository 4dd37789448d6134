"""The network under the client: which URLs and proxies it accepts, which certificates
it trusts, and the deadline that bounds each call's every read and write.

A call's deadline bounds the whole answer, headers included: httpx's timeouts bound
each read, so a server trickling its answer a byte at a time could otherwise hold a
call for ever.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from bulk_loader.errors import ConfigError

__all__ = [
    "CALL_DEADLINE",
    "Overdue",
    "check_api_url",
    "check_proxy_url",
    "is_loopback",
    "shown_url",
    "tls_context",
    "with_deadlines",
]


def check_api_url(url: str) -> str:
    """Refuse anything but https, except plain http to this machine (the sandbox).

    A user name or password inside the URL is refused too: a command line shows in
    `ps` and in shell history, and the URL is printed in messages and resume lines.
    """
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"refusing API URL {shown_url(url)!r}: it holds a user name or password; "
            "Kartra's credentials go in KARTRA_API_KEY and KARTRA_API_PASSWORD, a proxy's "
            "in the HTTPS_PROXY environment variable"
        )
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return url
    raise ConfigError(
        f"refusing API URL {shown_url(url)!r}: Kartra needs https:// (plain http:// is only "
        "allowed for a sandbox on 127.0.0.1 or localhost)"
    )


def shown_url(url: str) -> str:
    """`url` fit to print: a user:password inside it becomes ***."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_proxy_url(url: str) -> str:
    """A proxy URL with no password in it (a command line shows in `ps`)."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise ConfigError(
            f"refusing proxy {shown_url(url)!r}: it holds a password; put the proxy URL "
            "with its password in the HTTPS_PROXY environment variable instead"
        )
    if parts.scheme not in ("http", "https", "socks5") or not parts.hostname:
        raise ConfigError(f"refusing proxy {url!r}: give it as http://host:port")
    return url


def tls_context(ca_bundle: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """The certificates to trust: `ca_bundle`, else the operating system's store."""
    if ca_bundle is not None:
        try:
            return ssl.create_default_context(cafile=os.fspath(ca_bundle))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"--ca-bundle {ca_bundle}: not a readable PEM file ({exc})") from exc
    import truststore  # the OS store: certificates IT installed (inspecting proxies) count

    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


CALL_DEADLINE = threading.local()  # the current call's deadline (time.monotonic), per thread


def remaining(timeout: float | None) -> float | None:
    """This read's timeout, shortened to what is left of the call's deadline."""
    deadline: float | None = getattr(CALL_DEADLINE, "at", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("no whole answer within the call's deadline")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the call's deadline, so that
    a server trickling its headers (not only its body) cannot hold a call."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, remaining(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def with_deadlines(client: httpx.Client) -> httpx.Client:
    """Every connection of `client` (direct and through proxies) keeps call deadlines.

    httpx builds its connection pools itself; their network backend is swapped here.
    Should a future httpx lay them out otherwise, only the body is bounded (the client's `_send`).
    """
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return client


class Overdue(Exception):
    """The answer did not arrive whole in time (or was absurdly large)."""
