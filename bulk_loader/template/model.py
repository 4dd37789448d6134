"""The mapping template's model: what a checked template holds.

A Template says which sheet column feeds which Kartra lead field, custom field, tag or
list, and how. mapping.py reads one from a TOML file (checking.py finds its problems)
or builds the default for a sheet; `key_text` writes a key as the file spells it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from bulk_loader.template.date_format import DateOrder
from bulk_loader.template.fields import DEFAULT_SEPARATOR, NAME_ACTIONS

__all__ = [
    "MATCHES",
    "MODES",
    "ActionColumn",
    "CustomFieldMap",
    "FieldTransform",
    "Match",
    "Mode",
    "PointsColumn",
    "SequenceColumn",
    "SplitMap",
    "Template",
    "key_text",
    "normalise_header",
]

Mode = Literal["create", "edit", "upsert"]
Match = Literal["email", "id"]
MODES: tuple[Mode, ...] = ("create", "edit", "upsert")
MATCHES: tuple[Match, ...] = ("email", "id")


@dataclass(frozen=True)
class CustomFieldMap:
    """A sheet column that feeds one Kartra custom field."""

    identifier: str
    column: str
    type: str
    separator: str | None = None
    options: Mapping[str, int] | None = None  # label -> option id; None: ask the account
    # A text field's values read as dates and sent in this strftime format ("%m/%d"),
    # day and month of ambiguous text in `date_order` (validation/dates.py).
    date: str | None = None
    date_order: DateOrder | None = None


@dataclass(frozen=True)
class FieldTransform:
    """A transform of one lead field's values (`kind`: a fields.TRANSFORMS name).

    `region`: for phone, the ISO country (alpha-2) a number written without its calling
    code is read in when the row names no country.
    """

    kind: str
    region: str | None = None


@dataclass(frozen=True)
class SplitMap:
    """A sheet column split into several lead fields (`kind`: a fields.SPLITS name)."""

    kind: str
    column: str
    format: str | None = None  # address: how the parts are laid out (ADDRESS_FORMATS)


@dataclass(frozen=True)
class ActionColumn:
    """The tags (or lists) of each row: names read from `column`, several per cell split
    by `separator` (quotes understood), and the names in `add`, the same for every row."""

    column: str | None
    separator: str = DEFAULT_SEPARATOR
    add: tuple[str, ...] = ()


@dataclass(frozen=True)
class PointsColumn:
    """Points for each row: a whole number from `column` (+n gives, -n takes away);
    given points expire after `expiration_days` when set."""

    column: str
    expiration_days: int | None = None


@dataclass(frozen=True)
class SequenceColumn:
    """The sequence each row's lead is subscribed to: its name from `column`, at the step
    in `step_column` (a cell left empty there: `step`, the first by default)."""

    column: str
    step_column: str | None = None
    step: int = 1


@dataclass(frozen=True)
class Template:
    """A checked mapping template. `require_columns=False` lets absent headers pass."""

    mode: Mode = "upsert"
    match: Match = "email"
    clear: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    custom_fields: tuple[CustomFieldMap, ...] = ()
    tags: ActionColumn | None = None
    lists: ActionColumn | None = None
    remove_tags: ActionColumn | None = None
    remove_lists: ActionColumn | None = None
    points: PointsColumn | None = None
    sequence: SequenceColumn | None = None
    path: Path | None = None
    require_columns: bool = True
    # Lead field -> how its values are transformed (only fields that ask for one).
    transforms: Mapping[str, FieldTransform] = field(default_factory=dict)
    splits: tuple[SplitMap, ...] = ()
    # The account this template is for (a profile name or an App id): a run with other
    # credentials stops before any call. None: any account.
    account: str | None = None

    def columns(self) -> list[tuple[str, str]]:
        """Every (dotted key, sheet header) the template uses, in file order."""
        out = [(f"fields.{key_text(name)}", header) for name, header in self.fields.items()]
        out += [(f"split.{key_text(s.kind)}.column", s.column) for s in self.splits]
        out += [
            (f"custom_fields.{key_text(c.identifier)}.column", c.column) for c in self.custom_fields
        ]
        for name in NAME_ACTIONS:
            action = cast(ActionColumn | None, getattr(self, name))
            if action is not None and action.column is not None:
                out.append((f"actions.{name}.column", action.column))
        if self.points is not None:
            out.append(("actions.points.column", self.points.column))
        if self.sequence is not None:
            out.append(("actions.sequence.column", self.sequence.column))
            if self.sequence.step_column is not None:
                out.append(("actions.sequence.step_column", self.sequence.step_column))
        return out

    def name_action(self, name: str) -> ActionColumn | None:
        """The tags, remove_tags, lists or remove_lists action (fields.NAME_ACTIONS)."""
        return cast(ActionColumn | None, getattr(self, name))


def normalise_header(header: str) -> str:
    """How headers are compared: trimmed, case-insensitive."""
    return header.strip().casefold()


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def key_text(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted with escapes.

    Problems are printed one per line, so a quoted key holding a newline (legal TOML)
    must not print as one.
    """
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return key
    out = ['"']
    for char in key:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
    out.append('"')
    return "".join(out)
