"""Presets: `template init` recognises the export of another tool by its headers.

A preset is a TOML file in bulk_loader/data/presets/ (`templates/presets/` in the
repository is a link to that folder, so the files ship inside the package and are found
from an installed one). Its `[preset]` table says how the export is recognised:

    [preset]
    name = "Mailchimp audience export"             # printed at the top
    signature = ["MEMBER_RATING", "OPTIN_TIME"]    # every one present: this preset
    first_column = "Email Address"                 # optional, see below
    region_from = "CC"                             # optional, see below
    [preset.notes]                                 # optional: header -> a note printed
    UNSUB_TIME = "..."                             # at the top when the sheet has it

Everything after it is the template printed, in the usual template syntax (one entry
a line; a comment may follow an entry), with two additions: a `column` (or a field's
header) may be a list of headers, the first one the sheet has being used; and
`off = "why"` prints an entry or a table commented out, after a line saying why (a
column with no Kartra lead field: a custom field to create first); `optional = true`
leaves an entry out when the sheet lacks its column (a field each account names
itself). Headers match whatever their case and spaces, and the template names them as
the sheet spells them.

What the sheet decides of the template (which entries are live, which are printed
commented out and why) is planned in preset_plan.py.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "TABLE_HEADER",
    "TEMPLATE_TABLES",
    "Preset",
    "PresetError",
    "header_key",
    "load_preset",
    "presets",
    "recognise",
    "table_name",
]

# Where the files are shown to people: the repository's path (a link to the package's).
SHOWN_FOLDER = "templates/presets"
# The tables a preset's template may hold, by their first dotted part.
TEMPLATE_TABLES = ("template", "fields", "split", "custom_fields", "actions")
_PRESET_KEYS = ("name", "signature", "first_column", "region_from", "notes")


class PresetError(ValueError):
    """A preset file that does not follow the rules above (a bug in the package)."""


def header_key(header: str) -> str:
    """How a preset's headers are compared with a sheet's: any case, no white space."""
    return "".join(header.split()).casefold()


@dataclass(frozen=True)
class Preset:
    """A preset file, read: how its export is recognised, and its template's lines."""

    key: str  # the file's name without .toml: "mailchimp"
    name: str
    signature: tuple[str, ...]
    first_column: str | None = None
    region_from: str | None = None
    notes: Mapping[str, str] = field(default_factory=dict)
    body: tuple[str, ...] = ()  # the lines from the first template table on

    @property
    def shown_path(self) -> str:
        return f"{SHOWN_FOLDER}/{self.key}.toml"


# -- reading the files -------------------------------------------------------------------


def _files() -> list[tuple[str, str]]:
    folder = resources.files("bulk_loader").joinpath("data/presets")
    found = [
        (entry.name.removesuffix(".toml"), entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    ]
    return sorted(found)


@lru_cache(maxsize=1)
def presets() -> tuple[Preset, ...]:
    """Every preset shipped with the package, by file name."""
    return tuple(load_preset(key, text) for key, text in _files())


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise PresetError(f"{where}: a list of headers")
    return tuple(value)


def load_preset(key: str, text: str) -> Preset:
    """A preset from its file's text; PresetError says what breaks the rules."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{key}: not valid TOML: {exc}") from exc
    meta = doc.get("preset")
    if not isinstance(meta, dict):
        raise PresetError(f"{key}: no [preset] table")
    unknown = set(meta) - set(_PRESET_KEYS)
    if unknown:
        raise PresetError(f"{key}: unknown [preset] keys {sorted(unknown)}")
    name = meta.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PresetError(f"{key}: preset.name is required")
    optional = {}
    for option in ("first_column", "region_from"):
        value = meta.get(option)
        if value is not None and not isinstance(value, str):
            raise PresetError(f"{key}: preset.{option} is a header")
        optional[option] = value
    notes = meta.get("notes", {})
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise PresetError(f"{key}: preset.notes maps headers to notes")
    unknown_tables = set(doc) - {"preset", *TEMPLATE_TABLES}
    if unknown_tables:
        raise PresetError(f"{key}: unknown tables {sorted(unknown_tables)}")
    return Preset(
        key=key,
        name=name.strip(),
        signature=_strings(meta.get("signature"), f"{key}: preset.signature"),
        first_column=optional["first_column"],
        region_from=optional["region_from"],
        notes=notes,
        body=tuple(_body(key, text.splitlines())),
    )


TABLE_HEADER = re.compile(r"\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?")


def table_name(header: str) -> str:
    match = TABLE_HEADER.fullmatch(header.strip())
    return match.group(1) if match else ""


def _body(key: str, lines: Sequence[str]) -> list[str]:
    """The lines from the first table that is not [preset...] on; none may follow it."""
    for index, line in enumerate(lines):
        match = TABLE_HEADER.fullmatch(line.strip())
        if match and not match.group(1).startswith("preset"):
            body = list(lines[index:])
            for later in body:
                found = TABLE_HEADER.fullmatch(later.strip())
                if found and found.group(1).startswith("preset"):
                    raise PresetError(f"{key}: [{found.group(1)}] after the template")
            return body
    raise PresetError(f"{key}: no template after [preset]")


def recognise(headers: Sequence[str]) -> Preset | None:
    """The preset whose signature the headers hold, all of it (any case and spacing);
    of several, the one with the longest signature, then the first by file name."""
    present = {header_key(h) for h in headers if h.strip()}
    matching = [p for p in presets() if all(header_key(h) in present for h in p.signature)]
    if not matching:
        return None
    return max(matching, key=lambda p: len(p.signature))  # max keeps the first on a tie
