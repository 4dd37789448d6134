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

__all__ = ["UndoCall", "before_image", "merge_images", "undo_call"]

_NOT_RESTORED = ("email", "id", "new_email", "custom_fields")


def before_image(row: LeadRow, details: Mapping[str, Any]) -> str:
    """What of the lead `details` (get_lead's lead_details) `row` will change, as JSON:
    the fields and custom fields it sends (with each custom field's type), whether the
    lead holds each tag and list it names, and the points and sequence the row sends
    (the row as sent: a re-run withholds them)."""
    fields = {
        name: _text(details.get(name))
        for name in row.lead
        if name not in _NOT_RESTORED and name in details
    }
    unread = [name for name in row.lead if name not in _NOT_RESTORED and name not in details]
    sent = {str(entry["field_identifier"]) for entry in row.lead.get("custom_fields", ())}
    custom: dict[str, Any] = {}
    for entry in details.get("custom_fields") or ():
        if not isinstance(entry, Mapping) or str(entry.get("field_identifier")) not in sent:
            continue
        value = entry.get("field_value")
        if isinstance(value, list):
            value = [int(o["option_id"]) for o in value if isinstance(o, Mapping)]
        kind = str(entry.get("field_type", ""))
        custom[str(entry["field_identifier"])] = {"type": kind, "value": value or ""}
    held = {_text(t.get("tag_name")) for t in details.get("tags") or () if isinstance(t, Mapping)}
    joined = {
        _text(entry.get("list_name"))
        for entry in details.get("lists") or ()
        if isinstance(entry, Mapping) and _text(entry.get("active")) == "1"
    }
    return json.dumps(
        {
            "email": _text(details.get("email")),
            "fields": fields,
            "unread": unread,
            "custom_fields": custom,
            "tags": {name: name in held for name in (*row.tags, *row.remove_tags)},
            "lists": {name: name in joined for name in (*row.lists, *row.remove_lists)},
            "points": row.points,
            "sequence": list(row.sequence) if row.sequence else None,
        }
    )


def merge_images(first: str, later: str) -> str:
    """A lead backed up by two runs: what the first image holds wins (the lead as it was
    before any run); what only the later one names (a field, a tag, a list a later row
    added) comes from it; the points and sequences of both runs are undone."""
    if not first:
        return later
    if not later:
        return first
    old, new = json.loads(first), json.loads(later)
    merged = dict(old)
    for key in ("fields", "custom_fields", "tags", "lists"):
        merged[key] = {**new.get(key, {}), **old.get(key, {})}
    merged["unread"] = sorted(set(old.get("unread", ())) | set(new.get("unread", ())))
    merged["points"] = int(old.get("points", 0)) + int(new.get("points", 0))
    merged["sequence"] = old.get("sequence") or new.get("sequence")
    return json.dumps(merged)


@dataclass(frozen=True)
class UndoCall:
    """The edit that puts a lead back: its `lead` and chained `actions`, and what cannot
    be put back (`note`)."""

    lead: dict[str, Any]
    actions: list[dict[str, Any]]
    note: str = ""


def undo_call(row: LeadRow, before_json: str, lead_id: str = "") -> UndoCall:
    """The edit that undoes `row` on its lead (by `lead_id` when the journal has it, else
    by its address), from the before-image kept for it."""
    before = json.loads(before_json)
    now = str(row.lead.get("new_email") or row.lead.get("email") or "")
    lead: dict[str, Any] = {"id": lead_id} if lead_id else {"email": now}
    lead.update(before["fields"])
    if row.lead.get("new_email") and before.get("email"):
        lead["new_email"] = before["email"]  # renamed by the run: its address back
    if before["custom_fields"]:
        lead["custom_fields"] = [
            {"field_identifier": identifier, "field_value": _custom_value(kept)}
            for identifier, kept in before["custom_fields"].items()
        ]
    tags, lists = before["tags"], before["lists"]
    actions = [unassign_tag(tag) for tag in row.tags if not tags.get(tag, True)]
    actions += [assign_tag(tag) for tag in row.remove_tags if tags.get(tag, False)]
    actions += [unsubscribe_lead_from_list(name) for name in row.lists if not lists.get(name, True)]
    actions += [subscribe_lead_to_list(name) for name in row.remove_lists if lists.get(name, False)]
    points = int(before.get("points", 0))  # what the backed-up runs sent, not the sheet
    if points > 0:
        actions.append(remove_points_from_lead(points))
    elif points < 0:
        actions.append(give_points_to_lead(-points))
    notes = []
    if before.get("sequence"):
        name, step = before["sequence"]
        notes.append(
            f"sequence {name!r} (step {step}) left as it is: Kartra documents no call to "
            "unsubscribe a lead from a sequence"
        )
    if before.get("unread"):
        notes.append(f"{', '.join(before['unread'])} not put back: get_lead does not return it")
    return UndoCall(lead, actions, "; ".join(notes))


def _custom_value(kept: Any) -> Any:
    """A custom field's value as edit_lead takes it: "" for empty, one option id for a
    drop-down or radio button, a list of ids for checkboxes, text for the rest."""
    value, kind = kept.get("value"), kept.get("type")
    if value in ("", [], None):
        return ""
    if kind in ("drop_down", "radio_button") and isinstance(value, list):
        return value[0]
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)
