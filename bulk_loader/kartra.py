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

import ipaddress
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from bulk_loader.errors import ConfigError
from bulk_loader.formencode import encode_body

__all__ = [
    "DEFAULT_API_URL",
    "FATAL_TYPES",
    "REJECTED_TYPES",
    "ActionResult",
    "CallResult",
    "Credentials",
    "KartraClient",
    "Outcome",
    "assign_tag",
    "check_api_url",
    "give_points_to_lead",
    "interpret",
    "remove_points_from_lead",
    "subscribe_lead_to_list",
    "subscribe_lead_to_sequence_at_step",
    "unassign_tag",
    "unsubscribe_lead_from_list",
]

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://app.kartra.com/api"

# Whole-call errors: a bad key or an inactive App fails every row alike (API-FACTS.md).
# 241 is listed by the issue though no public document names its meaning.
FATAL_TYPES = frozenset(
    str.split("201 202 203 204 206 223 224 233 236 238 239 240 241 242 254 262")
)
# Errors that belong to this row only: the lead itself, or a tag/list/points/sequence.
REJECTED_TYPES = frozenset(
    str.split("234 243 244 245 271 207 208 209 211 212 213 214 215 217 219 225 226 227 228 229")
) | {"230", "231"}
RATE_LIMIT_TYPE = "429"
LEAD_COMMANDS = frozenset({"create_lead", "edit_lead", "search_lead", "get_lead"})


class Outcome(StrEnum):
    """What a call's result means for its row; see the module docstring."""

    OK = "ok"
    REJECTED = "rejected"
    FATAL = "fatal"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """One entry of Kartra's `actions` answer: the action's own status, type and message."""

    cmd: str
    status: str
    type: str | None
    message: str

    @property
    def ok(self) -> bool:
        return self.status.lower() == "success"


@dataclass(frozen=True, slots=True)
class CallResult:
    """Everything a call produced.

    `lead_saved`: the lead command (actions[0]) succeeded, i.e. the lead was created or
    edited (for search_lead and get_lead: found). With a non-ok outcome it marks a partial
    success: the lead is saved but a chained action failed. `kartra_type` is the type that
    decided the outcome (None when ok); `body` is Kartra's parsed answer, if any.
    """

    outcome: Outcome
    lead_saved: bool
    lead_id: str | None
    kartra_type: str | None
    message: str
    actions: tuple[ActionResult, ...] = ()
    http_status: int | None = None
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Credentials:
    """The App's id, API key and password; the secrets are hidden from repr and str."""

    app_id: str
    api_key: str = field(repr=False)
    api_password: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """Read KARTRA_APP_ID, KARTRA_API_KEY, KARTRA_API_PASSWORD; name any missing one."""
        env = os.environ if environ is None else environ
        names = ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD")
        missing = [name for name in names if not env.get(name)]
        if missing:
            raise ConfigError(
                f"missing environment variable {', '.join(missing)}: set it to your "
                "Kartra App's credentials (My Integrations > API)"
            )
        return cls(*(env[name] for name in names))

    def __str__(self) -> str:
        return f"Credentials(app_id={self.app_id!r})"


def check_api_url(url: str) -> str:
    """Refuse anything but https, except plain http to this machine (the sandbox)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise ConfigError(
        f"refusing API URL {url!r}: Kartra needs https:// (plain http:// is only allowed "
        "for a sandbox on 127.0.0.1 or localhost)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KartraClient:
    """A Kartra API client shared by many worker threads (httpx.Client is thread-safe).

    Pass `http` to inject a transport in tests (`sandbox.transport(...)`); the client then
    uses it as is. httpx never retries here: retrying is the runner's decision, because
    only it knows whether a retry is safe.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_url: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        verify: bool = True,
    ) -> None:
        self._credentials = credentials
        self.api_url = check_api_url(api_url or os.environ.get("KARTRA_API_URL") or DEFAULT_API_URL)
        self._owns_http = http is None
        self._http = http or httpx.Client(
            transport=httpx.HTTPTransport(retries=0, verify=verify),
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": "bulk-loader"},
        )
        self._lock = threading.Lock()
        self._calls_made = 0

    def __repr__(self) -> str:
        return f"KartraClient(api_url={self.api_url!r}, app_id={self._credentials.app_id!r})"

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

    def get_lead(self, *, email: str | None = None, id: str | None = None) -> CallResult:
        """Full lead details; the answer's `lead_details` is in `CallResult.body`."""
        return self.call([], get_lead=_identify(email, id))

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
            response = self._http.post(
                self.api_url,
                content=self._body(payload),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return _failure(Outcome.TRANSIENT, f"could not connect: {_describe(exc)}")
        except httpx.HTTPError as exc:  # read errors, timeouts, decoding: sent, maybe acted
            return _failure(Outcome.UNKNOWN, f"answer lost after sending: {_describe(exc)}")
        result = interpret(response.status_code, response.content, cmds)
        log.debug("%s -> %s %s", "+".join(cmds), result.outcome, result.kartra_type or "")
        return result

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


def _failure(outcome: Outcome, message: str, status: int | None = None) -> CallResult:
    return CallResult(outcome, False, None, None, message, (), status, None)


# -- reading an answer -------------------------------------------------------------------


def interpret(status: int, content: bytes, cmds: Sequence[str]) -> CallResult:
    """Turn an HTTP status and body into a CallResult (pure: tested without a network).

    Kartra answers 200 to everything but perhaps 429. Any other 3xx/4xx is not Kartra
    speaking but a wrong URL or a proxy refusing us, which every row would meet: fatal.
    A 2xx body without a `status` is not Kartra's either, yet the request was delivered:
    unknown.
    """
    if status == 429:
        return _failure(Outcome.RATE_LIMITED, "too many requests (HTTP 429)", status)
    if status >= 500 or status == 408:
        return _failure(Outcome.TRANSIENT, f"server error (HTTP {status})", status)
    if not 200 <= status < 300:
        message = f"HTTP {status} from the API URL: check KARTRA_API_URL / --api-url"
        return _failure(Outcome.FATAL, message, status)
    try:
        body = json.loads(content)
    except ValueError:
        snippet = content[:80].decode("utf-8", "replace").strip()
        return _failure(Outcome.TRANSIENT, f"answer is not JSON: {snippet!r}", status)
    if not isinstance(body, dict):
        return _failure(Outcome.TRANSIENT, "answer is not a JSON object", status)
    if "status" not in body:
        return _failure(Outcome.UNKNOWN, "answer has no status: not Kartra's format", status)
    return _from_body(body, status, cmds)


def _from_body(body: dict[str, Any], status: int, cmds: Sequence[str]) -> CallResult:
    top_type = _text(body.get("type")) or None
    top_ok = _text(body.get("status")).lower() == "success"
    message = _message(body)
    if top_type == RATE_LIMIT_TYPE:
        return CallResult(Outcome.RATE_LIMITED, False, None, top_type, message, (), status, body)
    actions = _actions(body, cmds)
    if not actions:
        # A whole-call answer: an error before any action ran, search_lead, get_lead or
        # an account look-up.
        if not top_ok:
            return CallResult(_classify(top_type), False, None, top_type, message, (), status,
                              body)  # fmt: skip
        lead_id = _lead_id(body)
        saved = bool(cmds) and cmds[0] in LEAD_COMMANDS
        return CallResult(Outcome.OK, saved, lead_id, None, message, (), status, body)
    # Read every entry: the top-level status is not trusted to reflect a later failure.
    lead_saved = actions[0].ok
    lead_id = _lead_id(body) if lead_saved else None
    failed = next((action for action in actions if not action.ok), None)
    if failed is None:
        return CallResult(Outcome.OK, lead_saved, lead_id, None, message, actions, status, body)
    kartra_type = failed.type or (None if top_ok else top_type)
    return CallResult(_classify(kartra_type), lead_saved, lead_id, kartra_type,
                      failed.message or message, actions, status, body)  # fmt: skip


def _classify(kartra_type: str | None) -> Outcome:
    """Fatal for whole-call errors; every other error (known or not) rejects this row only."""
    if kartra_type == RATE_LIMIT_TYPE:
        return Outcome.RATE_LIMITED
    return Outcome.FATAL if kartra_type in FATAL_TYPES else Outcome.REJECTED


def _actions(body: dict[str, Any], cmds: Sequence[str]) -> tuple[ActionResult, ...]:
    """Every entry of `actions`, in order; an action sent but not answered is marked.

    Whether Kartra still runs the actions after a failed one is not documented: a missing
    entry becomes status "NotAnswered" so that it counts as a failure, never as success.
    """
    entries = body.get("actions")
    if not isinstance(entries, list):
        return ()
    results: list[ActionResult] = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry:
            continue
        cmd, detail = next(iter(entry.items()))
        detail = detail if isinstance(detail, dict) else {}
        results.append(
            ActionResult(
                str(cmd),
                _text(detail.get("status")) or "Error",
                _text(detail.get("type")) or None,
                _message(detail),
            )
        )
    for cmd in cmds[len(results) :]:
        results.append(ActionResult(cmd, "NotAnswered", None, "Kartra gave no answer for it"))
    return tuple(results)


def _lead_id(body: dict[str, Any]) -> str | None:
    """The lead's id from `actions[0].<cmd>.lead_details` or the top-level `lead_details`."""
    places: list[Any] = [body.get("lead_details")]
    entries = body.get("actions")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        places.extend(detail.get("lead_details") for detail in entries[0].values()
                      if isinstance(detail, dict))  # fmt: skip
    for details in reversed(places):
        if isinstance(details, dict) and details.get("id") not in (None, ""):
            return _text(details["id"])
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _message(body: Mapping[str, Any]) -> str:
    return _text(body.get("message"))


# -- chainable actions: dicts for `then=` ----------------------------------------------------


def assign_tag(name: str) -> dict[str, Any]:
    return {"cmd": "assign_tag", "tag_name": name}


def unassign_tag(name: str) -> dict[str, Any]:
    return {"cmd": "unassign_tag", "tag_name": name}


def subscribe_lead_to_list(name: str) -> dict[str, Any]:
    return {"cmd": "subscribe_lead_to_list", "list_name": name}


def unsubscribe_lead_from_list(name: str) -> dict[str, Any]:
    return {"cmd": "unsubscribe_lead_from_list", "list_name": name}


def give_points_to_lead(points: int, expiration: int | None = None) -> dict[str, Any]:
    return {"cmd": "give_points_to_lead", "points": points, "expiration": expiration}


def remove_points_from_lead(points: int) -> dict[str, Any]:
    return {"cmd": "remove_points_from_lead", "points": points}


def subscribe_lead_to_sequence_at_step(name: str, step: int) -> dict[str, Any]:
    return {"cmd": "subscribe_lead_to_sequence_at_step", "sequence_name": name, "step": step}
