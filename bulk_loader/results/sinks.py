"""How result rows land in a file: a CSV sink and an XLSX sink, each written row by
row, and the rules for a cell on the way.

In CSV a value that a spreadsheet would run as a formula is prefixed with `'` (OWASP),
plain numbers excepted (escape_csv_cell). In XLSX every cell is written as text, only
the columns a writer names as numbers holding whole numbers (the lead id, attempts);
the Summary sheet is drawn from a mapping of labels to values and SummaryTables.
Every string written, in both, is cleaned first (sheets.clean_text). The file is
created readable by its owner only (create_results_file).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bulk_loader import scratch
from bulk_loader.errors import InputError
from bulk_loader.outcomes import ATTENTION, GOOD, RowStatus
from bulk_loader.sheets.sheet import FORMULA_START, clean_text

__all__ = [
    "ACCOUNT_PROPERTY",
    "HIGHLIGHTED",
    "MAX_WIDTH",
    "RUN_PROPERTY",
    "CsvSink",
    "SummaryTable",
    "XlsxSink",
    "create_results_file",
    "csv_summary_path",
    "escape_csv_cell",
    "write_csv_summary",
]

# The document property naming the account of the results (results/files.py reads it
# without parsing the workbook's cells).
ACCOUNT_PROPERTY = "bulk-loader account"
RUN_PROPERTY = "bulk-loader run"  # "import", "dry run (nothing sent)", ...

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


def create_results_file(path: Path) -> int:
    """Open `path` for writing with mode 0o600, even when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise InputError(f"cannot write the results to {path}: {exc.strerror or exc}") from exc
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o600)
    return fd


class CsvSink:
    def __init__(self, path: Path) -> None:
        # Closed in close(): the sink lives as long as the writer.
        fd = create_results_file(path)
        self._path = path
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
        if summary:
            write_csv_summary(csv_summary_path(self._path), summary)


def csv_summary_path(results: Path) -> Path:
    """Where CSV results keep their run summary: `leads.results.summary.csv` beside
    `leads.results.csv` (a CSV has no second sheet; its rows stay the input's rows)."""
    return results.with_name(f"{results.stem}.summary.csv")


def write_csv_summary(path: Path, summary: Mapping[str, object]) -> None:
    """The Summary sheet's lines as CSV: `item,value`, a table as its title line, then
    its header and rows shifted one column right; owner-only like the results."""
    with open(create_results_file(path), "w", newline="", encoding="utf-8-sig") as file:
        writer = csv.writer(file)
        for key, value in summary.items():
            if isinstance(value, SummaryTable):
                writer.writerow([escape_csv_cell(str(key))])
                lines = [value.header, *value.rows] if value.header else list(value.rows)
                for line in lines:
                    writer.writerow(["", *(escape_csv_cell(str(cell)) for cell in line)])
            else:
                writer.writerow([escape_csv_cell(str(key)), escape_csv_cell(str(value))])


class XlsxSink:
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
            # Whose results these are, and of which run, read back cheaply (files.py).
            for name, key in ((ACCOUNT_PROPERTY, "Account"), (RUN_PROPERTY, "Run")):
                if key in summary:
                    self._book.set_custom_property(name, clean_text(str(summary[key])))
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
