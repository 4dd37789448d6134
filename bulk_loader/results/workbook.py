"""The results file: every input row with its outcome, as .xlsx or .csv; and the
failed-rows file: the rows to fix, in the input's columns, with why, to run again.

The result columns come first (status, lead id, error type, message, attempts), then
the sheet's columns, in XLSX and CSV alike: the outcome is where the eye lands, and the
XLSX freezes it with the header row. Each row lands on the same row number as in the
input sheet (skipped blank rows stay blank), so "row 7" means the same line everywhere.
The sheet's cells are written as text: in XLSX nothing of theirs is ever a formula,
number or link (only the lead id and attempts, which this tool writes, are numbers);
in CSV a value that a spreadsheet would run as a formula is prefixed with `'` (OWASP),
plain numbers excepted. Every string written, in both, is cleaned first
(sheets.clean_text): control characters but TAB, LF and CR are dropped, a lone
surrogate shows as U+FFFD.
Results hold personal data, so the file is created readable by its owner only.
XLSX is rendered in a child process while the run goes on: results.background.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from bulk_loader import scratch
from bulk_loader.errors import InputError
from bulk_loader.outcomes import (
    ATTENTION,
    GOOD,
    Problem,
    RowStatus,
    blocking,
    problem_text,
    without_value,
)
from bulk_loader.sheets.sheet import FORMULA_START, clean_text

__all__ = [
    "NOTE_COLUMNS",
    "RESULT_COLUMNS",
    "FailedRowsWriter",
    "ResultsWriter",
    "SummaryTable",
    "create_results_file",
    "escape_csv_cell",
    "is_note_column",
    "key_columns",
]

RESULT_COLUMNS = (
    "result_status",
    "result_lead_id",
    "result_error_type",
    "result_message",
    "result_attempts",
)

# The failed-rows file's last two columns: the row's number in the sheet it came from,
# and what to fix. Their headers start with the tool's own name and a colon, which no
# Kartra field, no export and no `template init` guess is spelled like; a run of the
# file leaves every column so marked alone (`is_note_column`): the built-in template
# maps only headers spelled exactly like Kartra's fields, and the next failed-rows
# file drops them before adding its own.
NOTE_MARK = "bulk-loader:"
NOTE_COLUMNS = ("bulk-loader: row", "bulk-loader: problem")

# Statuses a person must look at: their result_status cell is highlighted.
HIGHLIGHTED = ATTENTION | {RowStatus.WOULD_FAIL}
_GOOD_WORDS = GOOD | {RowStatus.VALID}
_FORMULA = re.compile(FORMULA_START)
_LOOKS_ESCAPED = re.compile("'+" + FORMULA_START)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# First characters after which no cleaning or escaping can apply: printable ASCII other
# than whitespace, the formula starts (= + - @) and the escape mark (').
_PLAIN_START = frozenset(chr(c) for c in range(0x21, 0x7F)) - set("=+-@'")
_BAD = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}  # Excel's own "Bad" cell style
_NOTE_HEAD = {"bold": True, "italic": True, "bg_color": "#D9D9D9"}  # a column a run ignores
# A whole number Excel keeps exactly (15 digits), as Kartra writes lead ids: no sign,
# no leading zero, no spaces; anything else stays text.
_WHOLE = re.compile(r"0|[1-9][0-9]{0,14}")
MAX_WIDTH = 50  # the widest a column is made, in characters; wider text wraps on demand


def is_note_column(header: str) -> bool:
    """A column the failed-rows file adds (NOTE_COLUMNS): never mapped, never sent."""
    return header.strip().casefold().startswith(NOTE_MARK)


@dataclass(frozen=True)
class SummaryTable:
    """A table on the Summary sheet: a bold title line, a header row (none when empty),
    rows below it; `chart`: a small bar chart of the first two columns (label, count)
    beside it."""

    header: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    chart: bool = False


def escape_csv_cell(value: str) -> str:
    """OWASP CSV-injection escaping that leaves plain numbers such as +14155550100 alone.

    The value is cleaned first (sheets.clean_text): `_x0000_=1+1` read from a workbook
    is escaped as the `=1+1` it became. A formula character counts behind whitespace,
    NBSP, a BOM or a zero-width space, and in its fullwidth form (sheets.FORMULA_START).
    A value that already looks escaped (`'=...`) gets one more `'`, so that reading
    strips exactly one (sheets.unescape_csv_cell) and a failed-rows CSV fed back into
    a run sends exactly what the original sheet held (cleaned).
    """
    if value.isascii() and value.isprintable() and value[:1] in _PLAIN_START:
        return value  # most cells: nothing to clean, and no formula can start there
    value = clean_text(value)
    if _FORMULA.match(value) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    if value.startswith("'") and _LOOKS_ESCAPED.match(value):
        return "'" + value
    return value


def key_columns(headers: Sequence[str], key_headers: Sequence[str]) -> list[int]:
    """Indexes of the headers that identify a lead (email, id, new_email), in sheet order."""
    wanted = {header.strip().casefold() for header in key_headers}
    return [i for i, header in enumerate(headers) if header.strip().casefold() in wanted]


def create_results_file(path: Path) -> int:
    """Open `path` for writing with mode 0o600, even when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise InputError(f"cannot write the results to {path}: {exc.strerror or exc}") from exc
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)
    return fd


class ResultsWriter:
    """Writes result rows in row order, then a summary; .csv by suffix, else .xlsx.

    The result columns come first, then the sheet's (see the module docstring).
    """

    def __init__(
        self,
        path: Path,
        headers: Sequence[str],
        *,
        attempts_column: bool = False,
        keep: Sequence[int] | None = None,
    ) -> None:
        """`keep`: write only these input columns (by index), after a `row` column,
        for teams that must not copy whole rows around (`--results-columns keys`)."""
        self.path = Path(path)
        self.headers = list(headers)
        self._keep = None if keep is None else list(keep)
        self._key_headers = {self.headers[i] for i in self._keep or ()}
        shown = (
            self.headers if self._keep is None else ["row", *(self.headers[i] for i in self._keep)]
        )
        names = RESULT_COLUMNS if attempts_column else RESULT_COLUMNS[:4]
        self.columns = [*names, *shown]
        self.attempts_column = attempts_column
        self._position: dict[str, int] = {}
        for index, header in enumerate(shown):
            if self._keep is None or index > 0:
                self._position.setdefault(header.strip().casefold(), len(names) + index)
        self._sink: _CsvSink | _XlsxSink
        if self.path.suffix.lower() == ".csv":
            self._sink = _CsvSink(self.path)
        else:
            row_column = (len(names),) if keep is not None else ()  # keys only: `row`
            numbers = {1, *((4,) if attempts_column else ()), *row_column}  # lead id, attempts
            self._sink = _XlsxSink(self.path, "Results", frozen=len(names), numbers=numbers)
        self._sink.header(self.columns)
        self._closed = False

    def add(
        self,
        row: int,
        cells: Sequence[str],
        status: str,
        lead_id: str = "",
        error_type: str = "",
        message: str = "",
        problems: Sequence[Problem] = (),
        attempts: int | None = None,
    ) -> None:
        """One input row and its outcome; rows must come in increasing row order."""
        if self._keep is not None:  # keys only: no other cell's value, in messages either
            problems = [p if p.column in self._key_headers else without_value(p) for p in problems]
        if problems:
            error_type = error_type or ", ".join(dict.fromkeys(p.code for p in problems))
            message = message or "; ".join(problem_text(p) for p in problems)
        if self._keep is not None:
            cells = [str(row), *(cells[i] if i < len(cells) else "" for i in self._keep)]
        values = [status, lead_id, error_type, message]
        if self.attempts_column:
            values.append("" if attempts is None else str(attempts))
        values += cells
        values = values[: len(self.columns)]
        notes: dict[int, list[str]] = {}
        for problem in problems:
            index = self._position.get(problem.column.strip().casefold())
            if problem.column and index is not None:
                notes.setdefault(index, []).append(f"{problem.code}: {problem.message}")
        if problems or status in HIGHLIGHTED:
            notes.setdefault(0, [])  # highlight result_status too
        self._sink.row(row, values, notes)

    def close(self, summary: Mapping[str, object] | None = None) -> None:
        """Finish the file; `summary` becomes the Summary sheet (XLSX only): each key a
        bold label with its value beside it, or above a SummaryTable."""
        if not self._closed:
            self._closed = True
            self._sink.close(summary or {})

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _CsvSink:
    def __init__(self, path: Path) -> None:
        # Closed in close(): the sink lives as long as the writer.
        fd = create_results_file(path)
        self._file: IO[str] = open(fd, "w", newline="", encoding="utf-8-sig")  # noqa: SIM115
        self._writer = csv.writer(self._file)
        self._next_row = 1

    def header(self, columns: Sequence[str]) -> None:
        self.row(1, columns, {})

    def row(self, row: int, values: Sequence[str], notes: Mapping[int, list[str]]) -> None:
        while self._next_row < row:  # keep row numbers aligned with the input
            self._writer.writerow([])
            self._next_row += 1
        self._writer.writerow([escape_csv_cell(v) for v in values])
        self._next_row = row + 1

    def close(self, summary: Mapping[str, object]) -> None:
        self._file.close()


class FailedRowsWriter:
    """The failed-rows file: the rows to fix, in the input's own columns, fit to run
    again; then NOTE_COLUMNS: each row's number in the sheet and what to fix.

    Columns an earlier failed-rows file added (a run of that file) are left out, so
    the notes are always this run's, once.
    """

    def __init__(self, path: Path, headers: Sequence[str]) -> None:
        self.path = Path(path)
        self._kept = [i for i, header in enumerate(headers) if not is_note_column(header)]
        columns = [*(headers[i] for i in self._kept), *NOTE_COLUMNS]
        self._sink: _CsvSink | _XlsxSink
        if self.path.suffix.lower() == ".csv":
            self._sink = _CsvSink(self.path)
        else:  # a sheet of rows to run again: no results sheet name, no Summary
            notes = range(len(columns) - len(NOTE_COLUMNS), len(columns))
            self._sink = _XlsxSink(self.path, "Rows", quiet=set(notes))
        self._sink.header(columns)
        self._next = 2  # the file's own row numbers: header, then 2, 3, ...
        self._closed = False

    def add(
        self,
        row: int,
        cells: Sequence[str],
        status: str,
        error_type: str = "",
        message: str = "",
        problems: Sequence[Problem] = (),
    ) -> None:
        """One row to fix, `row` being its number in the sheet it came from."""
        values = [cells[i] if i < len(cells) else "" for i in self._kept]
        values += [str(row), why(status, error_type, message, problems)]
        self._sink.row(self._next, values, {})
        self._next += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sink.close({})

    def __enter__(self) -> FailedRowsWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def why(status: str, error_type: str, message: str, problems: Sequence[Problem]) -> str:
    """What to fix in one row, in one cell: an invalid row's problems (code, column and
    cause each), else its status with Kartra's error type and message."""
    found = blocking(problems)
    if status == RowStatus.INVALID and found:
        return "; ".join(f"{p.code}: {problem_text(p)}" for p in found)
    head = status.replace("_", " ") + (f" {error_type}" if error_type else "")
    if status == RowStatus.NOT_SENT and not message:
        message = "the run stopped before this row; run again to send it"
    return f"{head}: {message}" if message else head


class _XlsxSink:
    """One worksheet streamed row by row (xlsxwriter's constant_memory: flat memory).

    `frozen`: columns frozen with the header row. `numbers`: columns whose whole
    numbers are written as numbers. `quiet`: columns whose header is marked as notes a
    run ignores. Column widths follow the longest value seen as rows stream (bounded
    by MAX_WIDTH), and an autofilter covers every column; both are set at close, since
    xlsxwriter writes them before the rows only when it assembles the file.
    """

    def __init__(
        self,
        path: Path,
        title: str = "Results",
        *,
        frozen: int = 0,
        numbers: set[int] | None = None,
        quiet: set[int] | None = None,
    ) -> None:
        import xlsxwriter

        os.close(create_results_file(path))  # xlsxwriter then rewrites the file, mode kept
        self._book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,  # rows go to disk as written: flat memory
                "tmpdir": str(scratch.folder()),  # whole rows spill there: private, removed
                "strings_to_formulas": False,  # "=HYPERLINK(...)" stays inert text
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._sheet = self._book.add_worksheet(title)
        self._bold = self._book.add_format({"bold": True})
        self._bad = self._book.add_format(_BAD)
        self._whole = self._book.add_format({"num_format": "0"})
        self._frozen = frozen
        self._numbers = frozenset(numbers or ())
        self._quiet = frozenset(quiet or ())
        self._widths: list[int] = []
        self._last_row = 0

    def header(self, columns: Sequence[str]) -> None:
        self._sheet.freeze_panes(1, self._frozen)
        note = self._book.add_format(_NOTE_HEAD)
        for col, name in enumerate(columns):
            name = clean_text(name)
            self._sheet.write_string(0, col, name, note if col in self._quiet else self._bold)
        # A header's width, and room for the autofilter's button.
        self._widths = [len(name) + 3 for name in columns]

    def row(self, row: int, values: Sequence[str], notes: Mapping[int, list[str]]) -> None:
        write, r, widths, numbers = self._sheet.write_string, row - 1, self._widths, self._numbers
        for col, value in enumerate(values):
            value = clean_text(value)  # Excel can store neither NUL nor a lone surrogate
            if col in notes:
                write(r, col, value, self._bad)
                if notes[col]:
                    comment = clean_text("\n".join(notes[col]))[:32767]
                    self._sheet.write_comment(r, col, comment)
            elif not value:
                continue
            elif col in numbers and _WHOLE.fullmatch(value):
                self._sheet.write_number(r, col, int(value), self._whole)
            else:
                write(r, col, value)
            if len(value) > widths[col]:
                widths[col] = len(value)
        self._last_row = r

    def close(self, summary: Mapping[str, object]) -> None:
        for col, width in enumerate(self._widths):
            self._sheet.set_column(col, col, min(width + 1, MAX_WIDTH))
        if self._widths:
            self._sheet.autofilter(0, 0, self._last_row, len(self._widths) - 1)
        if summary:
            self._summary(summary)
        self._book.close()

    def _summary(self, summary: Mapping[str, object]) -> None:
        """The Summary sheet: `key  value` lines, and tables under a bold title with a
        blank line around each."""
        sheet = self._book.add_worksheet("Summary")
        sheet.set_column(0, 0, 32)
        sheet.set_column(1, 2, 14)
        sheet.set_column(3, 3, 60)
        row, spaced = 0, True  # the next row to write; a blank line is above it
        for key, value in summary.items():
            if isinstance(value, SummaryTable):
                row += not spaced
                sheet.write_string(row, 0, clean_text(str(key)), self._bold)
                for col, name in enumerate(value.header):
                    sheet.write_string(row + 1, col, clean_text(name), self._bold)
                first = row + 1 + bool(value.header)
                for offset, line in enumerate(value.rows):
                    for col, cell in enumerate(line):
                        _write_plain(sheet, first + offset, col, cell)
                last = first + len(value.rows) - 1
                if value.chart and value.rows:
                    self._chart(sheet, row, first, last, [str(line[0]) for line in value.rows])
                row, spaced = last + 2, True
            elif isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
                sheet.write_string(row, 0, clean_text(str(key)), self._bold)
                for line in value:
                    row += 1
                    for col, cell in enumerate(line):
                        _write_plain(sheet, row, col, cell)
                row, spaced = row + 1, False
            else:
                sheet.write_string(row, 0, clean_text(str(key)), self._bold)
                _write_plain(sheet, row, 1, value)
                row, spaced = row + 1, False

    def _chart(self, sheet: Any, title: int, first: int, last: int, labels: list[str]) -> None:
        """A small bar chart of a table's counts, beside it: attention red, done green.

        In constant_memory mode xlsxwriter cannot cache the chart's values (it keeps no
        cells); the chart refers to the table's cells and Excel and LibreOffice draw it
        from them when the file opens.
        """
        chart = self._book.add_chart({"type": "bar"})
        colours = [
            "#F8696B" if label in HIGHLIGHTED else "#63BE7B" if label in _GOOD_WORDS else "#A6A6A6"
            for label in labels
        ]
        chart.add_series(
            {
                "name": "rows",
                "categories": ["Summary", first, 0, last, 0],
                "values": ["Summary", first, 1, last, 1],
                "points": [{"fill": {"color": colour}} for colour in colours],
                "data_labels": {"value": True},
            }
        )
        chart.set_title({"name": "Rows by status", "name_font": {"size": 11}})
        chart.set_legend({"none": True})
        chart.set_x_axis({"reverse": True})  # the categories: the table's order, downwards
        chart.set_y_axis({"visible": False, "major_gridlines": {"visible": False}})
        chart.set_size({"width": 400, "height": 90 + 26 * len(labels)})
        sheet.insert_chart(title, 5, chart, {"x_offset": 8, "y_offset": 4})


def _write_plain(sheet: Any, row: int, col: int, value: object) -> None:
    """Numbers as numbers (counts), anything else as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, clean_text(str(value)))
