"""Each valid row's payload: the Kartra `lead`, its custom fields, and its actions (tags
and lists added and removed, points, a sequence).

Every bound column but a split one has a converter from its cell's text to the value
sent; a split column's fields are set by the row's transforms (transforms.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bulk_loader.template.fields import NAME_ACTIONS
from bulk_loader.template.model import ActionColumn, CustomFieldMap, Template
from bulk_loader.validation.binding import BoundColumn
from bulk_loader.validation.checks import normalise_email, resolve_options, split_values
from bulk_loader.validation.dates import send_date
from bulk_loader.validation.time_zones import kartra_time_zone

__all__ = ["LeadRow", "Payloads"]


@dataclass(frozen=True, slots=True)
class LeadRow:
    """A valid row, ready to send: the Kartra `lead` payload and its actions."""

    row: int
    cells: tuple[str, ...]
    lead: dict[str, Any]
    tags: tuple[str, ...]
    lists: tuple[str, ...]
    key: str  # what identifies the lead: the lower-cased email, or the id
    remove_tags: tuple[str, ...] = ()
    remove_lists: tuple[str, ...] = ()
    points: int = 0  # +n given (give_points_to_lead), -n taken (remove_points_from_lead)
    expiration_days: int | None = None  # how long given points last
    sequence: tuple[str, int] | None = None  # (name, step): subscribe at that step

    def actions(self) -> dict[str, Any]:
        """The actions beyond tags and lists, as the journal keeps them: only those the
        row has (a row without any keeps the payload, and the digest, of earlier runs)."""
        more: dict[str, Any] = {}
        if self.remove_tags:
            more["remove_tags"] = list(self.remove_tags)
        if self.remove_lists:
            more["remove_lists"] = list(self.remove_lists)
        if self.points:
            more["points"] = self.points
            if self.expiration_days is not None:
                more["expiration_days"] = self.expiration_days
        if self.sequence is not None:
            more["sequence"] = list(self.sequence)
        return more


class Payloads:
    """Builds the LeadRow of each valid row from its cells."""

    def __init__(self, template: Template, columns: Sequence[BoundColumn]) -> None:
        self.template = template
        # A split column feeds several fields: its transform sets them, not a converter.
        self._converters = [
            _converter(c, template.clear) for c in columns if not c.name.startswith("split.")
        ]
        self._added = {name: _added(template.name_action(name)) for name in NAME_ACTIONS}

    def lead_row(self, row: int, cells: Sequence[str], changes: dict[str, str]) -> LeadRow:
        """The row's payload; `changes`: the fields its transforms set (transforms.py)."""
        lead: dict[str, Any] = {}
        custom: list[dict[str, Any]] = []
        actions: dict[str, Any] = {name: () for name in NAME_ACTIONS}
        for index, kind, target, convert in self._converters:
            value = cells[index].strip()
            if not value:
                continue
            if kind == _FIELD:
                lead[target] = convert(value)
            elif kind == _CUSTOM:
                converted = convert(value)
                if converted == []:  # only separators: an empty cell, not a malformed 271
                    continue
                custom.append({"field_identifier": target, "field_value": converted})
            else:
                actions[target] = convert(value)
        lead.update(changes)
        if custom:
            lead["custom_fields"] = custom
        key = lead.get("id", "") if self.template.match == "id" else ""
        key = key or str(lead.get("email", "")).casefold()
        tags, remove_tags, lists, remove_lists = (
            _with(actions[name], self._added[name]) for name in NAME_ACTIONS
        )
        points = self.template.points
        sequence = self.template.sequence
        named = actions.get("sequence")
        return LeadRow(
            row,
            tuple(cells),
            lead,
            tags,
            lists,
            str(key),
            remove_tags=remove_tags,
            remove_lists=remove_lists,
            points=actions.get("points", 0),
            expiration_days=points.expiration_days if points is not None else None,
            sequence=(named, actions.get("sequence_step") or sequence.step)
            if named and sequence is not None
            else None,
        )


_FIELD, _CUSTOM, _ACTION = range(3)
Converter = tuple[int, int, str, Callable[[str], Any]]


def _converter(column: BoundColumn, clear: str | None) -> Converter:
    """(cell index, kind, target, cell text -> payload value).

    Choices and names are cached by text: a sheet repeats the same few labels a lot;
    so are dates (send_date).
    """
    target, spec = column.target, column.custom
    if target in ("points", "sequence_step"):  # checked whole numbers: "+10", "-5", "2"
        return column.index, _ACTION, target, int
    if target == "sequence":
        return column.index, _ACTION, target, str
    if spec is None and column.name.startswith("actions."):
        separator = column.separator or ";"
        split = lru_cache(4096)(lambda value: tuple(split_values(value, separator)))
        return column.index, _ACTION, target, split
    if spec is None:
        return column.index, _FIELD, target, _field_converter(target, clear)
    return column.index, _CUSTOM, target, _custom_converter(spec, clear)


def _field_converter(target: str, clear: str | None) -> Callable[[str], Any]:
    """A lead field's cell text -> the value sent; the clear marker sends ""."""
    if target in ("email", "new_email"):
        # never cleared: there the marker fails the email check
        return lambda value: _field_value(target, value)
    if target == "phone_country_code":  # the marker clears it; it is not a code to "+"
        return lambda value: "" if value == clear else _field_value(target, value)
    if target == "lead_preferred_time_zone":  # sent as Kartra's zone of the same clock
        return lambda value: "" if value == clear else kartra_time_zone(value)
    if clear is None:
        return str  # as is: str() of a str is itself
    return lambda value: "" if value == clear else value


def _custom_converter(spec: CustomFieldMap, clear: str | None) -> Callable[[str], Any]:
    """A custom field's cell text -> the value sent; the clear marker sends ""."""
    convert: Callable[[str], Any] = lambda value: value  # noqa: E731
    if spec.date is not None:  # read as a date, sent in the format; else as written
        fmt, order = spec.date, spec.date_order or "MDY"
        convert = lambda value: send_date(value, fmt, order).text  # noqa: E731
    if spec.type in ("drop_down", "radio_button", "checkbox"):
        convert = lru_cache(4096)(lambda value: _custom_value(spec, value))
    if spec.type == "checkbox":  # a fresh list per lead: callers may change it
        cached = convert
        convert = lambda value: list(cached(value))  # noqa: E731
    final = convert
    return lambda value: "" if value == clear else final(value)


def _added(action: ActionColumn | None) -> tuple[str, ...]:
    """The names an action adds to every row (`add` in the template)."""
    return action.add if action is not None else ()


def _with(names: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, ...]:
    """A row's names, then the ones added to every row, each once."""
    return tuple(dict.fromkeys((*names, *added))) if added else names


def _field_value(field: str, value: str) -> str:
    if field in ("email", "new_email"):
        return normalise_email(value)
    if field == "phone_country_code" and not value.startswith("+"):
        return f"+{value[2:] if value.startswith('00') else value}"  # 0040 -> +40
    return value


def _custom_value(spec: CustomFieldMap, value: str) -> Any:
    """Option ids (int; a tuple for checkbox); labels stay text when the template has none."""
    if spec.type == "checkbox":
        labels = split_values(value, spec.separator or ";")
        return tuple(resolve_options(labels, spec.options)[0] if spec.options else labels)
    if spec.type in ("drop_down", "radio_button"):
        return resolve_options([value], spec.options)[0][0] if spec.options else value
    return value
