"""Backup and undo: a lead's before-image, and the one edit that puts it back.

With --backup, each edit is preceded by a read of the lead (get_lead, by email) and the
journal keeps its before-image: only what the row will change (the fields and custom
fields it sends, whether the lead held each tag and list it names, its points). `undo`
then makes one edit_lead call per such lead, its actions chained: fields back, tags
the run added removed and those it removed put back, lists likewise, points reversed.
A sequence subscription has no documented way back and is reported instead.

A lead someone changed since the run (it no longer holds what the run wrote, as the
read-back compares it) is left alone unless forced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bulk_loader.kartra.actions import (
    assign_tag,
    give_points_to_lead,
    remove_points_from_lead,
    subscribe_lead_to_list,
    unassign_tag,
    unsubscribe_lead_from_list,
)
from bulk_loader.validation.validator import LeadRow

__all__ = ["UndoCall", "before_image", "undo_call"]

_NOT_RESTORED = ("email", "id", "new_email", "custom_fields")


def before_image(row: LeadRow, details: Mapping[str, Any]) -> str:
    """What of the lead `details` (get_lead's lead_details) `row` will change, as JSON."""
    fields = {
        name: _text(details.get(name))
        for name in row.lead
        if name not in _NOT_RESTORED and name in details
    }
    sent = {str(entry["field_identifier"]) for entry in row.lead.get("custom_fields", ())}
    custom: dict[str, Any] = {}
    for entry in details.get("custom_fields") or ():
        if not isinstance(entry, Mapping) or str(entry.get("field_identifier")) not in sent:
            continue
        value = entry.get("field_value")
        if isinstance(value, list):
            value = [int(o["option_id"]) for o in value if isinstance(o, Mapping)]
        custom[str(entry["field_identifier"])] = "" if value is None else value
    held = {_text(t.get("tag_name")) for t in details.get("tags") or () if isinstance(t, Mapping)}
    lists = {
        _text(entry.get("list_name")): _text(entry.get("active"))
        for entry in details.get("lists") or ()
        if isinstance(entry, Mapping)
    }
    named_tags = (*row.tags, *row.remove_tags)
    named_lists = (*row.lists, *row.remove_lists)
    return json.dumps(
        {
            "email": _text(details.get("email")),
            "fields": fields,
            "custom_fields": custom,
            "tags": sorted(t for t in named_tags if t in held),
            "lists": sorted(name for name in named_lists if lists.get(name) == "1"),
            "score": _text(details.get("score")),
        }
    )


@dataclass(frozen=True)
class UndoCall:
    """The edit that puts a lead back: its `lead` and chained `actions`, and what cannot
    be put back (`note`)."""

    lead: dict[str, Any]
    actions: list[dict[str, Any]]
    note: str = ""


def undo_call(row: LeadRow, before_json: str) -> UndoCall:
    """The edit that undoes `row` on its lead, from the before-image kept for it."""
    before = json.loads(before_json)
    now = str(row.lead.get("new_email") or row.lead.get("email") or "")
    lead: dict[str, Any] = {"email": now, **before["fields"]}
    if row.lead.get("new_email") and before.get("email"):
        lead["new_email"] = before["email"]  # renamed by the run: its address back
    if before["custom_fields"]:
        lead["custom_fields"] = [
            {"field_identifier": identifier, "field_value": value}
            for identifier, value in before["custom_fields"].items()
        ]
    held, joined = set(before["tags"]), set(before["lists"])
    actions = [unassign_tag(tag) for tag in row.tags if tag not in held]
    actions += [assign_tag(tag) for tag in row.remove_tags if tag in held]
    actions += [unsubscribe_lead_from_list(name) for name in row.lists if name not in joined]
    actions += [subscribe_lead_to_list(name) for name in row.remove_lists if name in joined]
    if row.points > 0:
        actions.append(remove_points_from_lead(row.points))
    elif row.points < 0:
        actions.append(give_points_to_lead(-row.points))
    note = ""
    if row.sequence is not None:
        note = (
            f"sequence {row.sequence[0]!r} (step {row.sequence[1]}) left as it is: Kartra "
            "documents no call to unsubscribe a lead from a sequence"
        )
    return UndoCall(lead, actions, note)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
