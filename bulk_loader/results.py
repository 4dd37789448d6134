"""The results file: every input row with its outcome, as .xlsx or .csv.

Each row lands on the same row number as in the input sheet (skipped blank rows stay
blank), so "row 7" means the same line everywhere. Every cell is written as text:
in XLSX nothing is ever a formula, number or link; in CSV a value that a spreadsheet
would run as a formula is prefixed with `'` (OWASP), plain numbers excepted.
Results hold personal data, so the file is created readable by its owner only.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from bulk_loader.report import Problem

__all__ = ["RESULT_COLUMNS", "ResultsWriter", "escape_csv_cell", "problem_text"]

RESULT_COLUMNS = (
    "result_status",
    "result_lead_id",
    "result_error_type",
    "result_message",
    "result_attempts",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_BAD = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}  # Excel's own "Bad" cell style


def escape_csv_cell(value: str) -> str:
    """OWASP CSV-injection escaping that leaves plain numbers such as +14155550100 alone."""
    if value.startswith(_FORMULA_STARTS) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def problem_text(problem: Problem) -> str:
    """How one problem reads in result_message: the column first, when there is one."""
    return f"{problem.column}: {problem.message}" if problem.column else problem.message


def _create_private(path: Path) -> int:
    """Open `path` for writing with mode 0o600, even when it already exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)
    return fd


class ResultsWriter:
    """Writes result rows in row order, then a summary; .csv by suffix, else .xlsx."""

    def __init__(
        self, path: Path, headers: Sequence[str], *, attempts_column: bool = False
    ) -> None:
        self.path = Path(path)
        self.headers = list(headers)
        names = RESULT_COLUMNS if attempts_column else RESULT_COLUMNS[:4]
        self.columns = [*self.headers, *names]
        self.attempts_column = attempts_column
        self._position: dict[str, int] = {}
        for index, header in enumerate(self.headers):
            self._position.setdefault(header.strip().casefold(), index)
        self._sink: _CsvSink | _XlsxSink
        if self.path.suffix.lower() == ".csv":
            self._sink = _CsvSink(self.path)
        else:
            self._sink = _XlsxSink(self.path)
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
        if problems:
            error_type = error_type or ", ".join(dict.fromkeys(p.code for p in problems))
            message = message or "; ".join(problem_text(p) for p in problems)
        values = [*cells, status, lead_id, error_type, message]
        if self.attempts_column:
            values.append("" if attempts is None else str(attempts))
        notes: dict[int, list[str]] = {}
        for problem in problems:
            index = self._position.get(problem.column.strip().casefold())
            if problem.column and index is not None:
                notes.setdefault(index, []).append(f"{problem.code}: {problem.message}")
        if problems:
            notes.setdefault(len(self.headers), [])  # highlight result_status too
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
        fd = _create_private(path)
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
    def __init__(self, path: Path) -> None:
        import xlsxwriter

        os.close(_create_private(path))  # xlsxwriter then rewrites the file, mode kept
        self._book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,  # rows go to disk as written: flat memory
                "strings_to_formulas": False,  # "=HYPERLINK(...)" stays inert text
                "strings_to_numbers": False,
                "strings_to_urls": False,
            },
        )
        self._sheet = self._book.add_worksheet("Results")
        self._bold = self._book.add_format({"bold": True})
        self._bad = self._book.add_format(_BAD)

    def header(self, columns: Sequence[str]) -> None:
        self._sheet.set_column(0, len(columns) - 1, 18)
        self._sheet.freeze_panes(1, 0)
        for col, name in enumerate(columns):
            self._sheet.write_string(0, col, name, self._bold)

    def row(self, row: int, values: Sequence[str], notes: Mapping[int, list[str]]) -> None:
        write, r = self._sheet.write_string, row - 1
        for col, value in enumerate(values):
            if col in notes:
                write(r, col, value, self._bad)
                if notes[col]:
                    self._sheet.write_comment(r, col, "\n".join(notes[col])[:32767])
            elif value:
                write(r, col, value)

    def close(self, summary: Mapping[str, object]) -> None:
        sheet = self._book.add_worksheet("Summary")
        sheet.set_column(0, 0, 24)
        sheet.set_column(1, 4, 16)
        row = 0
        for key, value in summary.items():
            sheet.write_string(row, 0, str(key), self._bold)
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
        sheet.write_string(row, col, str(value))
