"""Kartra's error types and the chained actions' rules, shared by the sandbox model.

Each action returns its success type or raises KartraError with its documented error type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bulk_loader.sandbox.account import SandboxAccount
from bulk_loader.sandbox.leads import Lead

__all__ = ["ACTIONS", "MESSAGES", "KartraError", "custom_value"]

MESSAGES = {
    "201": "Connection not secure", "202": "API key is empty", "203": "API key not valid",
    "204": "API account inactive", "206": "Email or lead id is required",
    "223": "'lead' is not an array", "224": "'actions' is not an array",
    "233": "API password not valid", "234": "No lead found", "236": "'get_lead' is not an array",
    "238": "App id is empty", "239": "App id not valid", "240": "App account inactive",
    "242": "Unauthorized IP", "243": "No lead found", "244": "Lead already exists",
    "245": "Lead is deleted", "254": "'cmd' is required",
    "262": "App not permitted to run this cmd", "271": "Wrong custom field format",
    "207": "List name is empty", "208": "List name is empty", "209": "List does not exist",
    "231": "List does not exist", "211": "Tag name is empty", "212": "Tag does not exist",
    "213": "Tag name is empty", "214": "Tag does not exist", "215": "Points are empty",
    "217": "Points are empty", "227": "Points must be a number",
    "228": "Points must be a number", "219": "Sequence does not exist",
    "225": "Step is empty", "226": "Sequence name is empty", "229": "Step must be a number",
    "230": "Step does not exist", "429": "Too many requests",
    "101": "Lead subscribed to list", "103": "Tag assigned", "104": "Tag unassigned",
    "105": "Points given", "106": "Points removed", "107": "Lead subscribed to sequence",
}  # fmt: skip


class KartraError(Exception):
    """A Kartra error: `type` is the documented number as a string."""

    def __init__(self, type: str, message: str | None = None) -> None:
        super().__init__(type)
        self.type = type
        self.message = message or MESSAGES.get(type, "Error")

    def answer(self) -> dict[str, Any]:
        return {"status": "Error", "message": self.message, "type": self.type}


def _assign_tag(account: SandboxAccount, lead: Lead, entry: dict[str, Any]) -> str:
    name = _param(entry, "tag_name", "211", account.tags, "212")
    if name not in lead.tags:
        lead.tags.append(name)
    return "103"


def _unassign_tag(account: SandboxAccount, lead: Lead, entry: dict[str, Any]) -> str:
    name = _param(entry, "tag_name", "213", account.tags, "214")
    if name in lead.tags:
        lead.tags.remove(name)
    return "104"


def _subscribe_list(account: SandboxAccount, lead: Lead, entry: dict[str, Any]) -> str:
    lead.lists[_param(entry, "list_name", "207", account.lists, "231")] = "1"
    return "101"


def _unsubscribe_list(account: SandboxAccount, lead: Lead, entry: dict[str, Any]) -> str:
    name = _param(entry, "list_name", "208", account.lists, "209")
    if name in lead.lists:
        lead.lists[name] = "0"
    return "101"


def _give_points(account: SandboxAccount, lead: Lead, entry: dict[str, Any]) -> str:
    lead.score += _number(entry, "points", "215", "227")
    return "105"


def _remove_points(account: SandboxAccount, lead: Lead, entry: dict[str, Any]) -> str:
    lead.score -= _number(entry, "points", "217", "228")
    return "106"


def _subscribe_sequence(account: SandboxAccount, lead: Lead, entry: dict[str, Any]) -> str:
    name = _param(entry, "sequence_name", "226", tuple(account.sequences), "219")
    step = _number(entry, "step", "225", "229")
    if not 1 <= step <= account.sequences[name]:
        raise KartraError("230")
    lead.sequences[name] = [str(step), "active"]
    return "107"


ACTIONS: dict[str, Callable[[SandboxAccount, Lead, dict[str, Any]], str]] = {
    "assign_tag": _assign_tag,
    "unassign_tag": _unassign_tag,
    "subscribe_lead_to_list": _subscribe_list,
    "unsubscribe_lead_from_list": _unsubscribe_list,
    "give_points_to_lead": _give_points,
    "remove_points_from_lead": _remove_points,
    "subscribe_lead_to_sequence_at_step": _subscribe_sequence,
}


def custom_value(kind: str, options: Mapping[str, int], entry: dict[str, Any]) -> str | list[int]:
    """What to store for one custom field entry ("" clears); 271 for a wrong shape or option."""
    value = entry["field_value"]
    if value == "":
        return ""
    if kind in ("input_field", "text_area"):
        if not isinstance(value, str):
            raise KartraError("271")
        return value
    ids = list(value.values()) if isinstance(value, dict) else value
    if (kind == "checkbox") != isinstance(ids, list):
        raise KartraError("271")
    ids = ids if isinstance(ids, list) else [ids]
    known = set(options.values())
    if not all(isinstance(i, str) and i.isdigit() and int(i) in known for i in ids):
        raise KartraError("271")
    return [int(i) for i in ids]


def _param(
    entry: dict[str, Any], key: str, empty: str, known: tuple[str, ...], missing: str
) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KartraError(empty)
    if value not in known:
        raise KartraError(missing)
    return value


def _number(entry: dict[str, Any], key: str, empty: str, not_number: str) -> int:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise KartraError(empty)
    try:
        return int(value)
    except ValueError:
        raise KartraError(not_number) from None
