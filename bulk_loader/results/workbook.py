"""The results file: every input row with its outcome, as .xlsx or .csv.

Each row lands on the same row number as in the input sheet (skipped blank rows stay
blank), so "row 7" means the same line everywhere. Every cell is written as text:
in XLSX nothing is ever a formula, number or link; in CSV a value that a spreadsheet
would run as a formula is prefixed with `'` (OWASP), plain numbers excepted. Every
string written, in both, is cleaned first (sheets.clean_text): control characters but
TAB, LF and CR are dropped, a lone surrogate shows as U+FFFD.
Results hold personal data, so the file is created readable by its owner only.
XLSX is rendered in a child process while the run goes on: results.background.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from bulk_loader import scratch
from bulk_loader.errors import InputError
from bulk_loader.outcomes import ATTENTION, Problem, RowStatus, problem_text, without_value
from bulk_loader.sheets.sheet import FORMULA_START, clean_text

__all__ = [
    "RESULT_COLUMNS",
    "ResultsWriter",
    "create_results_file",
    "escape_csv_cell",
    "key_columns",
]

RESULT_COLUMNS = (
    "result_status",
    "result_lead_id",
    "result_error_type",
    "result_message",
    "result_attempts",
)

# Statuses a person must look at: their result_status cell is highlighted.
HIGHLIGHTED = ATTENTION | {RowStatus.WOULD_FAIL}
_FORMULA = re.compile(FORMULA_START)
_LOOKS_ESCAPED = re.compile("'+" + FORMULA_START)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# First characters after which no cleaning or escaping can apply: printable ASCII other
# than whitespace, the formula starts (= + - @) and the escape mark (').
_PLAIN_START = frozenset(chr(c) for c in range(0x21, 0x7F)) - set("=+-@'")
_BAD = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}  # Excel's own "Bad" cell style


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
    """Writes result rows in row order, then a summary; .csv by suffix, else .xlsx."""

    def __init__(
        self,
        path: Path,
        headers: Sequence[str],
        *,
        attempts_column: bool = False,
        result_columns: bool = True,
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
        # Without result columns the file is a sheet of input rows, fit to run again.
        self.columns = [*shown, *(names if result_columns else ())]
        self._inputs = len(shown)
        self.attempts_column = attempts_column
        self._position: dict[str, int] = {}
        for index, header in enumerate(shown):
            if self._keep is None or index > 0:
                self._position.setdefault(header.strip().casefold(), index)
        self._sink: _CsvSink | _XlsxSink
        if self.path.suffix.lower() == ".csv":
            self._sink = _CsvSink(self.path)
        else:  # a file of rows to run again gets no results sheet name and no Summary
            self._sink = _XlsxSink(self.path, "Results" if result_columns else "Rows")
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
        values = [*cells, status, lead_id, error_type, message]
        if self.attempts_column:
            values.append("" if attempts is None else str(attempts))
        values = values[: len(self.columns)]
        notes: dict[int, list[str]] = {}
        for problem in problems:
            index = self._position.get(problem.column.strip().casefold())
            if problem.column and index is not None:
                notes.setdefault(index, []).append(f"{problem.code}: {problem.message}")
        if (problems or status in HIGHLIGHTED) and len(self.columns) > self._inputs:
            notes.setdefault(self._inputs, [])  # highlight result_status too
        self._sink.row(row, values, notes)

    def close(self, summary: Mapping[str, object] | None = None) -> None:
        """Finish the file; `summary` becomes the Summary sheet (XLSX only)."""
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


class _XlsxSink:
    def __init__(self, path: Path, title: str = "Results") -> None:
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

    def header(self, columns: Sequence[str]) -> None:
        self._sheet.set_column(0, len(columns) - 1, 18)
        self._sheet.freeze_panes(1, 0)
        for col, name in enumerate(columns):
            self._sheet.write_string(0, col, clean_text(name), self._bold)

    def row(self, row: int, values: Sequence[str], notes: Mapping[int, list[str]]) -> None:
        write, r = self._sheet.write_string, row - 1
        for col, value in enumerate(values):
            value = clean_text(value)  # Excel can store neither NUL nor a lone surrogate
            if col in notes:
                write(r, col, value, self._bad)
                if notes[col]:
                    comment = clean_text("\n".join(notes[col]))[:32767]
                    self._sheet.write_comment(r, col, comment)
            elif value:
                write(r, col, value)

    def close(self, summary: Mapping[str, object]) -> None:
        if not summary:
            self._book.close()
            return
        sheet = self._book.add_worksheet("Summary")
        sheet.set_column(0, 0, 24)
        sheet.set_column(1, 4, 16)
        row = 0
        for key, value in summary.items():
            sheet.write_string(row, 0, clean_text(str(key)), self._bold)
            if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
                for line in value:
                    row += 1
                    for col, cell in enumerate(line):
                        _write_plain(sheet, row, col, cell)
            else:
                _write_plain(sheet, row, 1, value)
            row += 1
        self._book.close()


def _write_plain(sheet: Any, row: int, col: int, value: object) -> None:
    """Numbers as numbers (counts), anything else as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        sheet.write_number(row, col, value)
    else:
        sheet.write_string(row, col, clean_text(str(value)))
