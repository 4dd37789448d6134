"""Kartra's chainable actions, as the dicts `create_lead`/`edit_lead` take in `then=`."""

from __future__ import annotations

from typing import Any

__all__ = [
    "assign_tag",
    "give_points_to_lead",
    "remove_points_from_lead",
    "subscribe_lead_to_list",
    "subscribe_lead_to_sequence_at_step",
    "unassign_tag",
    "unsubscribe_lead_from_list",
]


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
