"""Validation: every row of a sheet checked against the template, chunk by chunk.

Cell checks (bulk_loader.validation.checks) run as one lazy pandera schema per chunk, so every
problem of every row is found at once. Checks across rows (the same lead twice, a
new_email that is another row's email) keep their state in a private temporary SQLite
file, so memory stays flat however long the sheet. A new_email can clash with an email
that only appears further down: those late problems come from `finish()`.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bulk_loader import scratch
from bulk_loader.errors import TemplateError, TemplateProblem
from bulk_loader.outcomes import Problem, ProblemCode
from bulk_loader.sheets.sheet import TEXT_PROBLEMS, Chunk, Sheet, find_column
from bulk_loader.template.model import (
    ActionColumn,
    CustomFieldMap,
    Mode,
    Template,
    key_text,
    normalise_header,
)
from bulk_loader.validation.checks import (
    Check,
    custom_field_checks,
    field_checks,
    normalise_email,
    resolve_options,
    split_values,
)
from bulk_loader.validation.dates import send_date
from bulk_loader.validation.time_zones import kartra_time_zone, map_time_zone
from bulk_loader.validation.transforms import RowTransforms, split_checks

if TYPE_CHECKING:
    from pandera.pandas import DataFrameSchema

__all__ = ["LeadRow", "Validator"]


@dataclass(frozen=True, slots=True)
class LeadRow:
    """A valid row, ready to send: the Kartra `lead` payload and its actions."""

    row: int
    cells: tuple[str, ...]
    lead: dict[str, Any]
    tags: tuple[str, ...]
    lists: tuple[str, ...]
    key: str  # what identifies the lead: the lower-cased email, or the id


@dataclass(frozen=True)
class _Column:
    """A template mapping bound to a sheet column; `name` is the dataframe column."""

    name: str  # dotted template key, e.g. "fields.email"
    header: str  # the sheet's header text
    index: int
    target: str  # Kartra field, custom field identifier, or "tags"/"lists"
    checks: tuple[Check, ...]
    custom: CustomFieldMap | None = None
    separator: str | None = None


@dataclass(frozen=True, slots=True)
class _Key:
    """An email, id or new_email of one row, as a 64-bit hash."""

    row: int
    column: _Column
    kind: str
    hash: int
    value: str  # the cell as read

    def problem(self, code: ProblemCode, message: str) -> Problem:
        return Problem(self.row, self.column.header, self.value, code, message)


def _clash(row: int) -> str:
    return f"row {row} has this email: renaming onto it would clash"


_ZONE_NOTES = 20  # time zone notes shown one by one; the rest are counted together


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


def _hash(kind: str, key: str) -> int:
    digest = hashlib.blake2b(f"{kind}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class _SeenKeys:
    """Emails, ids and new emails met so far, as 64-bit hashes in a temporary SQLite file."""

    def __init__(self) -> None:
        # In the private temporary folder (emails are personal data), removed on close.
        self._path = Path(tempfile.mkdtemp(dir=scratch.folder())) / "seen.sqlite"
        self.db = sqlite3.connect(self._path)
        self.db.execute("PRAGMA journal_mode=OFF")  # scratch: nothing to recover
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("CREATE TABLE seen (h INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
        self.db.execute(
            "CREATE TABLE renames (h INTEGER PRIMARY KEY, row INTEGER NOT NULL, value TEXT)"
        )

    def lookup(self, table: str, hashes: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for start in range(0, len(hashes), 500):
            part = hashes[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = (
                f"SELECT h, row FROM {table} WHERE h IN ({marks})"  # table: one of two fixed names
            )
            found.update(self.db.execute(sql, part).fetchall())
        return found

    def add(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        marks = "?, ?, ?" if table == "renames" else "?, ?"
        self.db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)

    def later_emails(self) -> list[tuple[int, str, int]]:
        """(row, new_email, later row whose email it is), for renames onto later rows."""
        sql = (
            "SELECT r.row, r.value, s.row FROM renames r JOIN seen s ON r.h = s.h "
            "WHERE s.row > r.row ORDER BY r.row"
        )
        return [(int(a), str(b), int(c)) for a, b, c in self.db.execute(sql)]

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self._path.parent, ignore_errors=True)


class Validator:
    """Checks chunks of one sheet against a template; keeps the cross-row state."""

    def __init__(self, template: Template, sheet: Sheet, mode: Mode) -> None:
        self.template = template
        self.mode = mode
        self.headers = list(sheet.headers)
        self.columns = self._bind(sheet)
        self.by_target = {c.target: c for c in self.columns if c.name.startswith("fields.")}
        self.notes = self._notes()
        # A split column feeds several fields: its transform sets them, not a converter.
        self._converters = [
            _converter(c, template.clear) for c in self.columns if not c.name.startswith("split.")
        ]
        self._transforms = RowTransforms(
            template, {c.name: (c.index, c.header) for c in self.columns}
        )
        self._added = {name: _added(getattr(template, name)) for name in ("tags", "lists")}
        self._schema: DataFrameSchema | None = None
        self._seen = _SeenKeys()
        self._zones: dict[str, int] = {}  # time zone cell -> rows, when sent as another value

    # -- binding the template to the sheet ------------------------------------------

    def _required(self) -> dict[str, str]:
        """Fields every row must fill in this mode, with the reason."""
        if self.mode == "edit":
            return {self.template.match: f"edit mode (match = {self.template.match})"}
        return {"email": f"{self.mode} mode"}

    def _bind(self, sheet: Sheet) -> list[_Column]:
        template, clear = self.template, self.template.clear
        required = self._required()
        problems: list[TemplateProblem] = []
        columns: list[_Column] = []
        # Keyed as template.columns() names them: an identifier TOML must quote
        # ("birth.day") is quoted there, and is never cut at its dot.
        customs = {
            f"custom_fields.{key_text(c.identifier)}.column": c for c in template.custom_fields
        }
        for key, header in template.columns():
            index = find_column(sheet.headers, header, sheet.path)
            if index is None:
                if template.require_columns:
                    missing = f"no column {header!r} in the sheet{_nearest(header, sheet)}"
                    problems.append(TemplateProblem(key, missing))
                continue
            custom = customs.get(key)
            target = custom.identifier if custom is not None else key.split(".")[1]
            if custom is not None:
                checks = custom_field_checks(custom, clear)
                separator = custom.separator
            elif key.startswith("actions."):
                checks, separator = [], getattr(template, target).separator
            elif key.startswith("split."):
                checks, separator = split_checks(target), None
            else:
                checks, separator = field_checks(target, required.get(target), clear), None
            columns.append(_Column(key, header, index, target, tuple(checks), custom, separator))
        bound = {c.target for c in columns if c.name.startswith("fields.")}
        for field, why in required.items():
            if field not in bound:
                hint = "" if template.path else f": name a column {field!r}, or pass --template"
                message = f"{why} needs an {field} column{hint}"
                problems.append(TemplateProblem(f"fields.{field}", message))
        if problems:
            shown = ", ".join(repr(h) for h in sheet.headers if h)
            hint = f"{sheet.path.name} row 1 holds the headers: {shown}"
            # The built-in template has no file: name the sheet it was matched against.
            raise TemplateError(template.path or sheet.path, problems, hint=hint)
        return columns

    def _notes(self) -> list[str]:
        """What the template does that a person might not expect (shown, not a problem)."""
        email = self.by_target.get("email")
        if self.template.match == "id" and self.mode != "create" and email is not None:
            return [
                f'match = "id": a row with a lead id is edited by that id and its '
                f"{email.header!r} column is not sent (Kartra goes by the id); to change "
                "leads' addresses, map that column as new_email"
            ]
        return []

    def _schema_for(self) -> DataFrameSchema:
        import pandera.pandas as pa

        if self._schema is None:
            self._schema = pa.DataFrameSchema(
                {
                    c.name: pa.Column(
                        checks=[pa.Check(ch.test, name=ch.code, error=ch.code) for ch in c.checks]
                    )
                    for c in self.columns
                },
                strict=False,
            )
        return self._schema

    # -- per chunk -------------------------------------------------------------------

    def validate(self, chunk: Chunk) -> tuple[list[LeadRow], list[Problem]]:
        """Valid rows as LeadRows; problems of the invalid ones, and the warnings of the
        transforms (which send their row all the same), in row order."""
        self._count_time_zones(chunk)
        found = self._reader_problems(chunk)
        found += self._cell_problems(chunk)
        found += self._cross_row_problems(chunk, {(p.row, p.column) for p in found})
        bad = {p.row for p in found}
        failed = {(p.row, p.column) for p in found}
        leads = []
        for row, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            changes, warnings = self._transforms.apply(row, cells)
            found += (w for w in warnings if (w.row, w.column) not in failed)
            if row not in bad:
                leads.append(self._lead(row, cells, changes))
        order = {c.header: c.index for c in self.columns}
        found.sort(key=lambda p: (p.row, order.get(p.column, -1)))
        return leads, found

    def finish(self) -> list[Problem]:
        """Problems only visible at the end: a new_email that a later row uses as email."""
        column = self.by_target.get("new_email")
        if column is None:
            return []
        return [
            Problem(row, column.header, value, ProblemCode.NEW_EMAIL_CONFLICT, _clash(later))
            for row, value, later in self._seen.later_emails()
        ]

    def time_zone_notes(self) -> list[str]:
        """One note per time zone sent as another Kartra value, with the rows holding it
        (known once the last chunk is validated): "time zone Europe/Paris ->
        Europe/Brussels (same UTC offsets): 7 rows"; the 20 commonest, then a count."""
        by_text: dict[str, tuple[int, str]] = {}  # any case and spacing: rows, shown as
        for value, rows in sorted(self._zones.items(), key=lambda item: -item[1]):
            folded = " ".join(value.split()).casefold()
            total, shown = by_text.get(folded, (0, value))
            by_text[folded] = (total + rows, shown)
        ranked = sorted(by_text.values(), key=lambda item: (-item[0], item[1]))
        notes = []
        for total, shown in ranked[:_ZONE_NOTES]:
            match = map_time_zone(shown)
            notes.append(f"time zone {shown} -> {match.kartra} ({match.why}): {_rows(total)}")
        if len(ranked) > _ZONE_NOTES:
            rest = sum(total for total, _ in ranked[_ZONE_NOTES:])
            more = len(ranked) - _ZONE_NOTES
            notes.append(f"time zone: {more} more sent as another Kartra zone: {_rows(rest)}")
        return notes

    def _count_time_zones(self, chunk: Chunk) -> None:
        column = self.by_target.get("lead_preferred_time_zone")
        if column is None:
            return
        for cells in chunk.rows:
            value = cells[column.index].strip()
            if value and value != self.template.clear:
                match = map_time_zone(value)
                if match.kartra is not None and not match.exact:
                    self._zones[value] = self._zones.get(value, 0) + 1

    def close(self) -> None:
        self._seen.close()

    def _frame(self, chunk: Chunk) -> pd.DataFrame:
        data = {c.name: [r[c.index].strip() for r in chunk.rows] for c in self.columns}
        return pd.DataFrame(data, index=chunk.row_numbers, dtype="str")

    def _cell_problems(self, chunk: Chunk) -> list[Problem]:
        from pandera.errors import SchemaErrors

        if not self.columns or not chunk.rows:
            return []
        try:
            self._schema_for().validate(self._frame(chunk), lazy=True)
        except SchemaErrors as exc:
            return self._to_problems(exc.failure_cases, chunk)
        return []

    def _to_problems(self, cases: pd.DataFrame, chunk: Chunk) -> list[Problem]:
        columns = {c.name: c for c in self.columns}
        position = {row: i for i, row in enumerate(chunk.row_numbers)}
        problems = []
        for name, code, row in cases[["column", "check", "index"]].itertuples(index=False):
            column = columns[str(name)]
            value = chunk.rows[position[int(row)]][column.index]
            by_code: dict[str, Check] = {ch.code: ch for ch in column.checks}
            check = by_code[str(code)]
            problems.append(
                Problem(int(row), column.header, value, check.code, check.explain(value))
            )
        return problems

    def _reader_problems(self, chunk: Chunk) -> list[Problem]:
        """Reader problems in mapped columns, or about the whole row, make the row invalid;
        so does text no output can carry (sheets.TEXT_PROBLEMS), in any column."""
        mapped = {normalise_header(c.header) for c in self.columns}
        return [
            p
            for p in chunk.problems
            if not p.column or p.code in TEXT_PROBLEMS or normalise_header(p.column) in mapped
        ]

    def _keys(self, chunk: Chunk, failed: set[tuple[int, str]]) -> list[_Key]:
        """Emails, ids and new emails of a chunk, in row order; malformed cells left out."""
        keys = []
        for row, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            for kind in ("email", "id", "new_email"):
                column = self.by_target.get(kind)
                value = cells[column.index].strip() if column else ""
                if column is None or not value or (row, column.header) in failed:
                    continue
                key = _hash("i", value) if kind == "id" else _hash("e", value.casefold())
                keys.append(_Key(row, column, kind, key, cells[column.index]))
        return keys

    def _cross_row_problems(self, chunk: Chunk, failed: set[tuple[int, str]]) -> list[Problem]:
        """The same lead twice; a new_email onto an earlier row's email or new_email."""
        keys = self._keys(chunk, failed)
        seen = self._seen.lookup("seen", [k.hash for k in keys])
        renamed = self._seen.lookup("renames", [k.hash for k in keys if k.kind == "new_email"])
        new_seen: dict[int, int] = {}
        new_renames: dict[int, tuple[int, str]] = {}
        problems = []
        for key in keys:
            earlier = seen.get(key.hash)
            if key.kind != "new_email":
                if earlier is None:
                    seen[key.hash] = new_seen[key.hash] = key.row
                elif earlier != key.row:
                    what = "email" if key.kind == "email" else "lead id"
                    problems.append(
                        key.problem(ProblemCode.DUPLICATE_LEAD, f"the same {what} as row {earlier}")
                    )
            elif earlier is not None and earlier != key.row:
                problems.append(key.problem(ProblemCode.NEW_EMAIL_CONFLICT, _clash(earlier)))
            elif key.hash in renamed:
                message = f"row {renamed[key.hash]} already changes an email to this one"
                problems.append(key.problem(ProblemCode.NEW_EMAIL_CONFLICT, message))
            else:
                renamed[key.hash] = key.row
                new_renames[key.hash] = (key.row, key.value.strip())
        self._seen.add("seen", new_seen.items())
        self._seen.add("renames", ((h, r, v) for h, (r, v) in new_renames.items()))
        return problems

    # -- payload ---------------------------------------------------------------------

    def _lead(self, row: int, cells: Sequence[str], changes: dict[str, str]) -> LeadRow:
        """The row's payload; `changes`: the fields its transforms set (transforms.py)."""
        lead: dict[str, Any] = {}
        custom: list[dict[str, Any]] = []
        actions: dict[str, tuple[str, ...]] = {"tags": (), "lists": ()}
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
        tags, lists = (_with(actions[name], self._added[name]) for name in ("tags", "lists"))
        return LeadRow(row, tuple(cells), lead, tags, lists, str(key))


def _nearest(header: str, sheet: Sheet) -> str:
    """' (did you mean ...?)' naming the sheet's header closest to a missing one."""
    near = difflib.get_close_matches(
        normalise_header(header), [normalise_header(h) for h in sheet.headers], n=1, cutoff=0.6
    )
    if not near:
        return ""
    found = next(h for h in sheet.headers if normalise_header(h) == near[0])
    return f" (did you mean {found!r}?)"


_FIELD, _CUSTOM, _ACTION = range(3)
Converter = tuple[int, int, str, Callable[[str], Any]]


def _converter(column: _Column, clear: str | None) -> Converter:
    """(cell index, kind, target, cell text -> payload value).

    Choices and names are cached by text: a sheet repeats the same few labels a lot;
    so are dates (send_date).
    """
    target, spec = column.target, column.custom
    if spec is None and column.name.startswith("actions."):
        separator = column.separator or ";"
        split = lru_cache(4096)(lambda value: tuple(split_values(value, separator)))
        return column.index, _ACTION, target, split
    if spec is None:
        if target in ("email", "new_email"):
            # never cleared: there the marker fails the email check
            return column.index, _FIELD, target, lambda value: _field_value(target, value)
        if target == "phone_country_code":  # the marker clears it; it is not a code to "+"
            return (
                column.index,
                _FIELD,
                target,
                lambda value: "" if value == clear else _field_value(target, value),
            )
        if target == "lead_preferred_time_zone":  # sent as Kartra's zone of the same clock
            return (
                column.index,
                _FIELD,
                target,
                lambda value: "" if value == clear else kartra_time_zone(value),
            )
        if clear is None:
            return column.index, _FIELD, target, str  # as is: str() of a str is itself
        return column.index, _FIELD, target, lambda value: "" if value == clear else value
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
    return column.index, _CUSTOM, target, lambda value: "" if value == clear else final(value)


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
