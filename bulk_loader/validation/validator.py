"""Validation: every row of a sheet checked against the template, chunk by chunk.

Cell checks (bulk_loader.validation.checks) run as one lazy pandera schema per chunk, so every
problem of every row is found at once. Checks across rows (the same lead twice, a
new_email that is another row's email) keep their state in a private temporary SQLite
file, so memory stays flat however long the sheet (duplicates.py). A new_email can clash
with an email that only appears further down: those late problems come from `finish()`.
Binding the template to the sheet is in binding.py, each valid row's payload in payload.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from bulk_loader.outcomes import Problem, ProblemCode
from bulk_loader.sheets.sheet import TEXT_PROBLEMS, Chunk, Sheet
from bulk_loader.template.model import Mode, Template, normalise_header
from bulk_loader.validation.binding import bind_columns
from bulk_loader.validation.checks import Check
from bulk_loader.validation.duplicates import DuplicateCheck
from bulk_loader.validation.payload import LeadRow, Payloads
from bulk_loader.validation.time_zones import map_time_zone
from bulk_loader.validation.transforms import RowTransforms

if TYPE_CHECKING:
    from pandera.pandas import DataFrameSchema

__all__ = ["LeadRow", "Validator"]

_ZONE_NOTES = 20  # time zone notes shown one by one; the rest are counted together


def _rows(count: int) -> str:
    return "1 row" if count == 1 else f"{count:,} rows"


class Validator:
    """Checks chunks of one sheet against a template; keeps the cross-row state."""

    def __init__(self, template: Template, sheet: Sheet, mode: Mode) -> None:
        self.template = template
        self.mode = mode
        self.headers = list(sheet.headers)
        self.columns = bind_columns(template, sheet, mode)
        self.by_target = {c.target: c for c in self.columns if c.name.startswith("fields.")}
        self.notes = self._notes()
        self._payloads = Payloads(template, self.columns)
        self._transforms = RowTransforms(
            template, {c.name: (c.index, c.header) for c in self.columns}
        )
        self._schema: DataFrameSchema | None = None
        self._duplicates = DuplicateCheck(self.by_target)
        # Columns no mapping uses (the failed-rows file's notes aside), and how many rows
        # hold a value there: named in the summary, never dropped without a word.
        bound = {c.index for c in self.columns}
        self._unmapped = {
            index: header
            for index, header in enumerate(self.headers)
            if index not in bound
            and header.strip()
            and not header.strip().casefold().startswith("bulk-loader:")
        }
        self._unmapped_rows: dict[int, int] = dict.fromkeys(self._unmapped, 0)
        self._zones: dict[str, int] = {}  # time zone cell -> rows, when sent as another value

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
        self._count_unmapped(chunk)
        found = self._reader_problems(chunk)
        found += self._cell_problems(chunk)
        found += self._duplicates.problems(chunk, {(p.row, p.column) for p in found})
        found += self._steps_without_sequence(chunk)
        bad = {p.row for p in found}
        failed = {(p.row, p.column) for p in found}
        leads = []
        for row, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            changes, warnings = self._transforms.apply(row, cells)
            found += (w for w in warnings if (w.row, w.column) not in failed)
            if row not in bad:
                leads.append(self._payloads.lead_row(row, cells, changes))
        order = {c.header: c.index for c in self.columns}
        found.sort(key=lambda p: (p.row, order.get(p.column, -1)))
        return leads, found

    def _steps_without_sequence(self, chunk: Chunk) -> list[Problem]:
        """A step in a row that names no sequence: the step would be dropped unsaid."""
        named = {c.target: c for c in self.columns if c.target in ("sequence", "sequence_step")}
        step, sequence = named.get("sequence_step"), named.get("sequence")
        if step is None:
            return []
        problems = []
        for row, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            value = cells[step.index].strip() if step.index < len(cells) else ""
            name = ""
            if sequence is not None and sequence.index < len(cells):
                name = cells[sequence.index].strip()
            if value and not name:
                where = f"column {sequence.header!r}" if sequence else "the sheet"
                message = f"a step, but no sequence named in {where} on this row"
                problems.append(
                    Problem(row, step.header, value, ProblemCode.STEP_WITHOUT_SEQUENCE, message)
                )
        return problems

    def _count_unmapped(self, chunk: Chunk) -> None:
        for index in self._unmapped:
            self._unmapped_rows[index] += sum(
                1 for cells in chunk.rows if index < len(cells) and cells[index].strip()
            )

    def unmapped(self) -> list[tuple[str, int]]:
        """The columns no mapping uses that hold a value, with the rows holding one (known
        once the last chunk is validated), in sheet order."""
        return [(self._unmapped[i], n) for i, n in self._unmapped_rows.items() if n]

    def finish(self) -> list[Problem]:
        """Problems only visible at the end: a new_email that a later row uses as email."""
        return self._duplicates.late_problems()

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
        self._duplicates.close()

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
