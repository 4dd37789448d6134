"""The Kartra API client: one POST per call, every answer turned into a value.

A call never raises for what Kartra or the network does: it returns a `CallResult`
whose `outcome` tells the runner what to do with the row:

    ok            every action succeeded
    rejected      this row can never succeed as it is (243, 244, 245, 271, tag/list/...)
    fatal         every row would fail the same way (bad key, inactive App, ...): stop
    rate_limited  429, as the HTTP status or as the body's type: wait, send again
    transient     the server certainly did not act (connect error, 5xx, non-JSON body)
    unknown       the request went out and the answer was lost: the server may have acted

httpx errors are translated in `_post` and nowhere else. Only configuration problems
raise (`ConfigError`). Credentials travel in the body and never appear in a repr, an
exception or a log line: only `_body` touches them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from bulk_loader.errors import ConfigError
from bulk_loader.kartra.answers import (
    FATAL_TYPES,
    REJECTED_TYPES,
    ActionResult,
    CallResult,
    Outcome,
    answer_field,
    failure,
    interpret,
    lead_details,
)
from bulk_loader.kartra.formencode import encode_body
from bulk_loader.kartra.network import (
    CALL_DEADLINE,
    Overdue,
    check_api_url,
    check_proxy_url,
    is_loopback,
    tls_context,
    with_deadlines,
)

__all__ = [
    "DEFAULT_API_URL",
    "FATAL_TYPES",
    "REJECTED_TYPES",
    "ActionResult",
    "CallResult",
    "Credentials",
    "KartraApi",
    "KartraClient",
    "Outcome",
    "account_label",
    "answer_field",
    "interpret",
    "lead_details",
]

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://app.kartra.com/api"


class KartraApi(Protocol):
    """What a run needs of a client: `KartraClient` (over HTTP, the sandbox's in-process
    transport or an `httpx.MockTransport`), or any object with these members."""

    @property
    def api_host(self) -> str: ...

    @property
    def calls_made(self) -> int: ...

    def account_identity(self) -> dict[str, str]: ...

    def create_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult: ...

    def edit_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult: ...

    def search_lead(self, *, email: str | None = None, id: str | None = None) -> CallResult: ...

    def get_lead(self, *, email: str) -> CallResult: ...

    def retrieve_custom_fields(self) -> CallResult: ...

    def retrieve_account_tags(self) -> CallResult: ...

    def retrieve_account_lists(self) -> CallResult: ...

    def retrieve_account_sequences(self) -> CallResult: ...


@dataclass(frozen=True)
class Credentials:
    """The App's id, API key and password; the secrets are hidden from repr and str."""

    app_id: str
    api_key: str = field(repr=False)
    api_password: str = field(repr=False)
    # The profile these came from ("": the environment's variables); named, never secret.
    profile: str = field(default="", compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read KARTRA_APP_ID, KARTRA_API_KEY, KARTRA_API_PASSWORD; name any missing one."""
        env = os.environ if environ is None else environ
        names = ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD")
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise ConfigError(
                f"missing environment variable {', '.join(missing)}: set "
                f"{'it' if len(missing) == 1 else 'them'} to your "
                "Kartra App's credentials (My Integrations > API)"
            )
        return cls(*(env[name] for name in names))

    def __str__(self) -> str:
        return f"Credentials(app_id={self.app_id!r})"


def account_label(client: KartraApi) -> str:
    """The account a client writes to, as every run names it: the App id, the profile
    when one was used, and the API host (never a key or password):
    `app 4Zt8 (profile acme) at app.kartra.com`."""
    app_id = client.account_identity().get("app_id", "?")
    profile = getattr(client, "profile", "")
    return f"app {app_id}" + (f" (profile {profile})" if profile else "") + f" at {client.api_host}"


# An answer larger than this is not Kartra's (its largest, get_lead, is a few KB).
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class KartraClient:
    """A Kartra API client shared by many worker threads (httpx.Client is thread-safe).

    Pass `http` to inject a transport in tests (`sandbox.transport(...)`); the client then
    uses it as is. httpx never retries here: retrying is the runner's decision, because
    only it knows whether a retry is safe.

    Corporate networks: the standard proxy variables (HTTPS_PROXY, NO_PROXY) are
    honoured, or `proxy`; TLS is checked against the operating system's certificate
    store (truststore), so an inspecting proxy's CA that IT installed is trusted, or
    against `ca_bundle`. A sandbox on this machine is reached directly, never by proxy.
    `timeout` bounds each step (connect, each read) and twice it the whole call, so a
    server that trickles its answer cannot hold a call for ever.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_url: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        verify: bool = True,
        proxy: str | None = None,
        ca_bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        self._credentials = credentials
        self.api_url = check_api_url(api_url or os.environ.get("KARTRA_API_URL") or DEFAULT_API_URL)
        self._deadline = 2 * timeout
        self._owns_http = http is None
        local = is_loopback(urlsplit(self.api_url).hostname or "")
        if proxy is not None:
            check_proxy_url(proxy)
        self._http = http or with_deadlines(
            httpx.Client(
                verify=tls_context(ca_bundle) if verify else False,
                proxy=None if local else proxy,
                trust_env=not local,  # HTTPS_PROXY and friends, but never for the sandbox
                timeout=httpx.Timeout(timeout),
                headers={"User-Agent": "bulk-loader"},
                follow_redirects=False,
            )
        )
        self._lock = threading.Lock()
        self._calls_made = 0

    def __repr__(self) -> str:
        return f"KartraClient(api_url={self.api_url!r}, app_id={self._credentials.app_id!r})"

    @property
    def api_host(self) -> str:
        """host[:port] of the API URL, never the user:password a URL may carry."""
        parts = urlsplit(self.api_url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)

    @property
    def profile(self) -> str:
        """The profile the credentials came from ("": the environment's variables)."""
        return self._credentials.profile

    def account_identity(self) -> dict[str, str]:
        """Which App and key this client speaks for, without the secrets themselves.

        The run journal keys on it, so that a journal kept for one account is never
        resumed against another. The key appears only as a salted, truncated digest.
        """
        creds = self._credentials
        digest = hashlib.sha256(f"bulk-loader:{creds.app_id}:{creds.api_key}".encode())
        return {
            "app_id": creds.app_id,
            "api_key_digest": digest.hexdigest()[:16],
            "api_host": self.api_host,
        }

    @property
    def calls_made(self) -> int:
        """HTTP requests sent so far, counted across all threads."""
        return self._calls_made

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> KartraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ------------------------------------------------------------------------

    def call(
        self,
        actions: Sequence[Mapping[str, Any]],
        lead: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> CallResult:
        """Send one API call; `actions[0]` is the lead command, the rest apply to that lead."""
        payload: dict[str, Any] = dict(extra)
        if lead is not None:
            payload["lead"] = lead
        if actions:
            payload["actions"] = list(actions)
        cmds = [str(action.get("cmd", "")) for action in actions] or list(extra)[:1]
        return self._post(payload, cmds)

    def create_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult:
        return self.call([{"cmd": "create_lead"}, *then], lead)

    def edit_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult:
        return self.call([{"cmd": "edit_lead"}, *then], lead)

    def search_lead(self, *, email: str | None = None, id: str | None = None) -> CallResult:
        return self.call([{"cmd": "search_lead"}], _identify(email, id))

    def get_lead(self, *, email: str) -> CallResult:
        """Full lead details (`lead_details(result)`), found by email.

        Kartra's reference: "the lead's email is required to identify the lead". An id is
        not documented for get_lead, so none is ever sent.
        """
        if not email:
            raise ValueError("get_lead needs the lead's email")
        return self.call([], get_lead={"email": email})

    def retrieve_custom_fields(self) -> CallResult:
        return self.call([{"cmd": "retrieve_custom_fields"}])

    def retrieve_account_tags(self) -> CallResult:
        return self.call([{"cmd": "retrieve_account_tags"}])

    def retrieve_account_lists(self) -> CallResult:
        return self.call([{"cmd": "retrieve_account_lists"}])

    def retrieve_account_sequences(self) -> CallResult:
        return self.call([{"cmd": "retrieve_account_sequences"}])

    # -- the one seam where httpx errors become outcomes -------------------------------

    def _post(self, payload: dict[str, Any], cmds: list[str]) -> CallResult:
        """Send the call; map every httpx failure to transient or unknown.

        transient: nothing reached the server (ConnectError, ConnectTimeout, PoolTimeout).
        unknown: the request may have been read and acted on (ReadTimeout, ReadError,
        RemoteProtocolError, write errors). A connection reset before the server read
        anything also surfaces as ReadError: indistinguishable from a reset after
        acting, so it is honestly "unknown" too.
        """
        with self._lock:
            self._calls_made += 1
        try:
            status, content = self._send(self._body(payload))
        except (
            httpx.ConnectError,
            httpx.ConnectTimeout,
            httpx.PoolTimeout,
            httpx.ProxyError,
        ) as exc:
            message = f"could not connect to {self.api_host}: {_describe(exc)}"
            return failure(Outcome.TRANSIENT, message)
        except httpx.HTTPError as exc:  # read errors, timeouts, decoding: sent, maybe acted
            return failure(Outcome.UNKNOWN, f"answer lost after sending: {_describe(exc)}")
        except Overdue as exc:
            return failure(Outcome.UNKNOWN, f"answer lost after sending: {exc}")
        result = interpret(status, content, cmds)
        log.debug("%s -> %s %s", "+".join(cmds), result.outcome, result.kartra_type or "")
        return result

    def _send(self, body: bytes) -> tuple[int, bytes]:
        """POST `body`; the status and the whole answer, within the call's deadline."""
        deadline = time.monotonic() + self._deadline
        CALL_DEADLINE.at = deadline  # every read and write of this call, headers included
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            return self._send_within(body, headers, deadline)
        except httpx.TimeoutException as exc:
            if time.monotonic() >= deadline - 0.05:  # the call's deadline, not one read's
                raise Overdue(f"no whole answer within {self._deadline:g} s") from exc
            raise
        finally:
            CALL_DEADLINE.at = None

    def _send_within(
        self, body: bytes, headers: dict[str, str], deadline: float
    ) -> tuple[int, bytes]:
        with self._http.stream("POST", self.api_url, content=body, headers=headers) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if time.monotonic() > deadline:
                    raise Overdue(f"no whole answer within {self._deadline:g} s")
                if size > MAX_ANSWER_BYTES:
                    raise Overdue(f"an answer of over {MAX_ANSWER_BYTES:,} bytes")
            return response.status_code, b"".join(chunks)

    def _body(self, payload: dict[str, Any]) -> bytes:
        creds = self._credentials
        auth = {"app_id": creds.app_id, "api_key": creds.api_key}
        return encode_body({**auth, "api_password": creds.api_password, **payload})


def _identify(email: str | None, id: str | None) -> dict[str, str]:
    if id is None and email is None:
        raise ValueError("give the lead's email or id")
    return {"id": id} if id is not None else {"email": email or ""}


def _describe(exc: httpx.HTTPError) -> str:
    # The class name plus httpx's own text, which names neither the body nor credentials.
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
