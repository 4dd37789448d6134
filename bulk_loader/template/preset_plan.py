"""A preset applied to a sheet: each line of its template planned (presets.py says how
a preset file is written and how its export is recognised).

What the sheet decides, so that the template loads on the export as it is:
- an entry whose column the sheet lacks is printed commented out, saying so (an `off`
  or `optional` one is left out);
- an entry whose field an earlier entry already fills, or whose column an earlier
  entry already reads, is printed commented out, saying which: entries are written in
  order of preference (`[split.address]` before `[fields]`: the address wins);
- `first_column`: the header written in the preset for a column whose label varies
  (Mailchimp's email merge field is named by each audience, and translated, but always
  comes first): when the sheet has no such header, its first column is used;
- `region_from`: a column holding countries; the phone transform's `region` (the
  country a number written without its code is read in, when the row names no country)
  is the one most of the sampled rows name there.

`plan_preset` returns the template as blocks of lines for starter.py to write out; the
headers no entry reads are left to starter.py's guesses, like any sheet's.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from bulk_loader.template.fields import ACTIONS, SPLITS
from bulk_loader.template.presets import (
    TABLE_HEADER,
    TEMPLATE_TABLES,
    Preset,
    PresetError,
    header_key,
    table_name,
)

__all__ = ["Block", "Line", "Plan", "plan_preset"]


@dataclass(frozen=True)
class Line:
    """One line of the template: a comment or blank line (`text`), or an entry.

    An entry is `key = value` with the sheet's own headers in `value`; `comment` is the
    comment written after it in the preset. `off`: why it is printed commented out
    (None: it is live). `note`: a comment printed above it.
    """

    text: str | None = None
    key: str = ""
    value: Any = None
    comment: str = ""
    off: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Block:
    """A table of the template: its name ("fields", "split.address"), its header line as
    the preset writes it, the comment lines above it, and its lines. `off`: why the whole
    table is commented out."""

    table: str
    header: str
    lead: tuple[Line, ...] = ()
    lines: tuple[Line, ...] = ()
    off: str | None = None


@dataclass(frozen=True)
class Plan:
    """A preset applied to a sheet: the template's blocks, the notes to print at the
    top, the headers no entry names, what the live entries fill (field -> key), and the
    fields the preset leaves out on purpose (`off`: not to be placed by a guess)."""

    preset: Preset
    blocks: tuple[Block, ...]
    notes: tuple[str, ...]
    unclaimed: tuple[str, ...]
    filled: Mapping[str, str]
    declined: frozenset[str]


def _entry(raw: str, where: str) -> tuple[str, Any, str]:
    """`key = value  # comment` -> key, value, comment (the comment without its #)."""
    text = raw.strip()
    for match in [*re.finditer("#", text), None]:
        head = text if match is None else text[: match.start()]
        try:
            parsed = tomllib.loads(head)
        except tomllib.TOMLDecodeError:
            continue
        if len(parsed) == 1:
            (key, value), comment = next(iter(parsed.items())), ""
            if match is not None:
                comment = text[match.end() :].strip()
            return key, value, comment
    raise PresetError(f"{where}: not one `key = value` entry: {raw!r}")


@dataclass
class _Sheet:
    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    by_key: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for index, header in enumerate(self.headers):
            if header.strip():
                self.by_key.setdefault(header_key(header), index)

    def find(self, wanted: str | list[str], first_column: str | None) -> tuple[str | None, str]:
        """The sheet's header for a preset's column (or the first present of a list), and
        the label to name when it is absent."""
        labels = [wanted] if isinstance(wanted, str) else list(wanted)
        for label in labels:
            index = self.by_key.get(header_key(label))
            if index is not None:
                return self.headers[index], label
        if first_column is not None and any(
            header_key(label) == header_key(first_column) for label in labels
        ):
            first = next((h for h in self.headers if h.strip()), None)
            return first, labels[0]
        return None, labels[0]

    def cells(self, header: str) -> Iterable[str]:
        index = self.headers.index(header)
        return (row[index] for row in self.rows if index < len(row))


def _columns_of(value: Any) -> Any:
    """The column(s) an entry names: its header (or list of them), or its table's column."""
    if isinstance(value, dict):
        return value.get("column")
    return value


def _fills(table: str, key: str) -> tuple[str, ...]:
    """The lead fields (or actions) an entry of `table` fills."""
    if table == "fields":
        return (key,)
    if table.startswith("split."):
        return SPLITS.get(table.removeprefix("split."), ())
    if table == "actions":
        return (f"actions.{key}",)
    return (table,)  # a custom field: its own identifier


def _dominant_country(cells: Iterable[str]) -> str | None:
    """The ISO code (with a telephone numbering plan) most of these cells name."""
    import phonenumbers
    import pycountry

    @lru_cache(maxsize=256)
    def code(text: str) -> str | None:
        found: Any = None
        if re.fullmatch(r"[A-Za-z]{2}", text):
            found = pycountry.countries.get(alpha_2=text.upper())
        else:
            try:
                found = pycountry.countries.lookup(text)
            except LookupError:
                found = None
        alpha_2 = getattr(found, "alpha_2", None) if found is not None else None
        return alpha_2 if alpha_2 in phonenumbers.SUPPORTED_REGIONS else None

    counts = Counter(c for cell in cells if cell.strip() and (c := code(cell.strip())))
    return counts.most_common(1)[0][0] if counts else None


class _Planner:
    def __init__(self, preset: Preset, sheet: _Sheet) -> None:
        self.preset = preset
        self.sheet = sheet
        self.filled: dict[str, str] = {}  # lead field (or actions.tags) -> the key filling it
        self.used: dict[str, str] = {}  # header_key -> the key reading that column
        self.claimed: set[str] = set()  # header_key of every column an entry names
        self.declined: set[str] = set()  # fields an `off` entry shown leaves out

    def verdict(self, where: str, fills: Sequence[str], value: Any) -> tuple[Any, str | None, bool]:
        """The entry's value with the sheet's header in it, why it is off (None: live),
        and whether it is shown at all."""
        wanted = _columns_of(value)
        off = value.pop("off", None) if isinstance(value, dict) else None
        optional = value.pop("optional", False) if isinstance(value, dict) else False
        if wanted is None:  # an action with names to add only, a [template] setting
            header: str | None = None
        else:
            if not isinstance(wanted, str | list) or not wanted:
                raise PresetError(f"{self.preset.key}: {where}: a column is a header or a list")
            header, label = self.sheet.find(wanted, self.preset.first_column)
            if header is None:  # printed with the first header the preset names
                value = {**value, "column": label} if isinstance(value, dict) else label
                shown = off is None and optional is not True
                return value, f"Left out: this sheet has no column {label!r}.", shown
            self.claimed.add(header_key(header))
            value = {**value, "column": header} if isinstance(value, dict) else header
        if off is not None:  # a suggestion; none for a column a live entry reads
            shown = header is None or header_key(header) not in self.used
            if shown:
                self.declined.update(fills)
            return value, str(off), shown
        # A field a split fills may be mapped too, as its fallback (CC when the Address
        # is empty): taken only when something else than a split fills it.
        taken = [
            name
            for name in fills
            if name in self.filled
            and not (where.startswith("fields.") and self.filled[name].startswith("split."))
        ]
        if taken:
            return value, f"Left out: {self.filled[taken[0]]} already fills {taken[0]}.", True
        if header is not None and header_key(header) in self.used:
            reader = self.used[header_key(header)]
            return value, f"Left out: {reader} already reads this column.", True
        for name in fills:
            self.filled[name] = where
        if header is not None:
            self.used[header_key(header)] = where
        return value, None, True

    def block(self, header: str, raw: Sequence[str], lead: Sequence[Line]) -> Block | None:
        """One table of the template, its entries decided; None when it is left out."""
        table = table_name(header)
        kind = table.split(".")[0]
        if kind not in TEMPLATE_TABLES or (kind in ("split", "custom_fields")) == (table == kind):
            raise PresetError(f"{self.preset.key}: [{table}] is not a template table")
        where = f"{self.preset.key}: [{table}]"
        # Each line: a comment or blank line, or an entry (key, value, comment).
        parsed: list[Line | tuple[str, Any, str]] = [
            Line(text=text.rstrip())
            if not text.strip() or text.strip().startswith("#")
            else _entry(text, where)
            for text in raw
        ]
        if kind in ("template", "fields", "actions"):
            out: list[Line] = []
            for item in parsed:
                line = item if isinstance(item, Line) else self.entry(table, *item)
                if line is not None:
                    out.append(line)
            return Block(table, header.strip(), tuple(lead), tuple(out))
        # [split.x] and [custom_fields.x]: one column for the whole table.
        spec = {item[0]: item[1] for item in parsed if not isinstance(item, Line)}
        value, off, shown = self.verdict(table, _fills(table, ""), spec)
        if not shown:
            return None
        lines = [
            item
            if isinstance(item, Line)
            else Line(key=item[0], value=value[item[0]], comment=item[2])
            for item in parsed
            if isinstance(item, Line) or item[0] in value  # `off` is no template key
        ]
        return Block(table, header.strip(), tuple(lead), tuple(lines), off)

    def entry(self, table: str, key: str, value: Any, comment: str) -> Line | None:
        if table == "template":
            return Line(key=key, value=value, comment=comment)
        if table == "actions" and key not in ACTIONS:
            raise PresetError(f"{self.preset.key}: actions.{key} is not an action")
        where = f"{table}.{key}"
        value = dict(value) if isinstance(value, dict) else value
        value, off, shown = self.verdict(where, _fills(table, key), value)
        if not shown:
            return None
        line = Line(key=key, value=value, comment=comment, off=off)
        return self.region(line) if table == "fields" and off is None else line

    def region(self, line: Line) -> Line:
        """A live phone transform without a region gets the sheet's most common country."""
        value, source = line.value, self.preset.region_from
        if not (isinstance(value, dict) and value.get("transform") == "phone") or source is None:
            return line
        if "region" in value:
            return line
        header, _ = self.sheet.find(source, None)
        code = _dominant_country(self.sheet.cells(header)) if header is not None else None
        if code is None:
            return line
        note = (
            f"A number written without its code is read in the row's country, else in "
            f"{code}: the country {header} names most often."
        )
        return replace(line, value={**value, "region": code}, note=note)


def _split_blocks(body: Sequence[str]) -> list[tuple[str, list[str], list[str]]]:
    """(header line, comment lines above it, its lines) for each table of the body;
    the comments and blank lines that end a table belong to the next one's header."""
    blocks: list[tuple[str, list[str], list[str]]] = []
    for text in body:
        if TABLE_HEADER.fullmatch(text.strip()):
            lead: list[str] = []
            if blocks:
                lines = blocks[-1][2]
                while lines and (not lines[-1].strip() or lines[-1].strip().startswith("#")):
                    lead.insert(0, lines.pop())
            blocks.append((text, lead, []))
        else:
            blocks[-1][2].append(text)
    return blocks


def plan_preset(preset: Preset, headers: Sequence[str], rows: Sequence[Sequence[str]] = ()) -> Plan:
    """The preset's template for a sheet with these headers (and these of its rows)."""
    sheet = _Sheet(headers, rows)
    planner = _Planner(preset, sheet)
    blocks: list[Block] = []
    for header, lead, lines in _split_blocks(preset.body):
        made = planner.block(header, lines, [Line(text=t.rstrip()) for t in lead])
        if made is not None:
            blocks.append(made)
    notes = tuple(
        note for header, note in preset.notes.items() if header_key(header) in sheet.by_key
    )
    unclaimed = tuple(h for h in headers if h.strip() and header_key(h) not in planner.claimed)
    return Plan(
        preset=preset,
        blocks=tuple(blocks),
        notes=notes,
        unclaimed=unclaimed,
        filled=dict(planner.filled),
        declined=frozenset(planner.declined),
    )
