"""Reading Kartra's answers: the outcome classes and the pure `interpret` function.

Kept apart from the client so that the rules about what an answer means can be read,
and tested, without any network code. bulk_loader.kartra.client re-exports everything here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "FATAL_TYPES",
    "REJECTED_TYPES",
    "ActionResult",
    "CallResult",
    "Outcome",
    "answer_field",
    "failure",
    "interpret",
    "lead_details",
]


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
    """What a call's result means for its row (the table in the client module's docstring)."""

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


def failure(outcome: Outcome, message: str, status: int | None = None) -> CallResult:
    return CallResult(outcome, False, None, None, message, (), status, None)


def interpret(status: int, content: bytes, cmds: Sequence[str]) -> CallResult:
    """Turn an HTTP status and body into a CallResult (pure: tested without a network).

    Kartra answers 200 to everything but perhaps 429. Any other 3xx/4xx is not Kartra
    speaking but a wrong URL or a proxy refusing us, which every row would meet: fatal.
    A 2xx body without a `status` is not Kartra's either, yet the request was delivered:
    unknown.
    """
    if status == 429:
        return failure(Outcome.RATE_LIMITED, "too many requests (HTTP 429)", status)
    if status >= 500 or status == 408:
        return failure(Outcome.TRANSIENT, f"server error (HTTP {status})", status)
    if not 200 <= status < 300:
        message = f"HTTP {status} from the API URL: check KARTRA_API_URL / --api-url"
        return failure(Outcome.FATAL, message, status)
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON
        snippet = content[:80].decode("utf-8", "replace").strip()
        return failure(Outcome.TRANSIENT, f"answer is not JSON: {snippet!r}", status)
    if not isinstance(body, dict):
        return failure(Outcome.TRANSIENT, "answer is not a JSON object", status)
    if "status" not in body:
        return failure(Outcome.UNKNOWN, "answer has no status: not Kartra's format", status)
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
    lead_saved = actions[0].ok and not actions[0].cmd.startswith("retrieve_")
    lead_id = _lead_id(body) if lead_saved else None
    refused = [action for action in actions if not action.ok]
    if not refused:
        return CallResult(Outcome.OK, lead_saved, lead_id, None, message, actions, status, body)
    # A fatal type anywhere (a later action, or the top level) decides: every row would
    # meet it. Otherwise the first refused action speaks for the call.
    fatal = [a for a in refused if a.type in FATAL_TYPES]
    failed = fatal[0] if fatal else refused[0]
    kartra_type = failed.type or (None if top_ok else top_type)
    if not fatal and top_type in FATAL_TYPES and not top_ok:
        kartra_type = top_type
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
    for place in reversed(places):
        details = _details(place)
        if details is not None and details.get("id") not in (None, ""):
            return _text(details["id"])
    return None


def _details(value: Any) -> Mapping[str, Any] | None:
    """`lead_details` as an object, whichever way Kartra sent it; None when it is neither.

    The reference types it "String (JSON encoded object ...)" while its example shows an
    object: both readings are accepted, anything else tells nothing.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, Mapping) else None


def lead_details(result: CallResult) -> Mapping[str, Any] | None:
    """The answer's `lead_details` as an object (get_lead, search_lead, create/edit)."""
    return _details(answer_field(result, "lead_details"))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _message(body: Mapping[str, Any]) -> str:
    return _text(body.get("message"))


def answer_field(result: CallResult, key: str) -> Any:
    """`key` from the answer's top level, else from inside the first action's entry.

    Where a look-up's list (`account_tags`, `custom_fields`...) or get_lead's
    `lead_details` sits is documented only at the top level; reading both places keeps
    the caller right if Kartra nests them like the lead commands. None when absent.
    """
    body = result.body or {}
    if key in body:
        return body[key]
    entries = body.get("actions")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        for detail in entries[0].values():
            if isinstance(detail, dict) and key in detail:
                return detail[key]
    return None
