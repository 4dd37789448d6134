"""A sheet as the text a person sees, streamed in chunks of rows: what CSV and XLSX share.

Every cell arrives as a string: what Excel would show, so that a phone stored as
14155550100.0 reads "14155550100" and a zip formatted `00000` keeps its leading zero.
Row numbers are the ones a person sees in Excel: the header is row 1, or the row that
`locate_header` found below a title or notes (the rows above it are skipped). Wholly
empty rows are skipped but still counted, so later rows keep their numbers.

Nothing here holds the whole sheet. The readers feed `Sheet` records as they read them:
csv_file.py (CSV) and xlsx_file.py (XLSX, through openpyxl's read-only mode); opening.py
picks one by the file's content. Foreign errors become SheetError in the readers.

Text no output can carry (`UNSAFE_TEXT`: a lone UTF-16 surrogate, which XLSX's `_xD800_`
escape can hold, or a control character other than TAB, LF and CR) never leaves the
reader as it is: the cell arrives cleaned (`clean_text`) and its row gets a problem
(`unrepresentable_text`, `control_character`), so it is not sent and every results file
can still be written. A header holding such text is a SheetError.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bulk_loader.errors import SheetError
from bulk_loader.outcomes import Problem, ProblemCode

__all__ = [
    "CHUNK_ROWS",
    "ERROR_TEXTS",
    "FORMULA_START",
    "HEADER_SEARCH_ROWS",
    "MAX_COLUMNS",
    "TEXT_PROBLEMS",
    "UNSAFE_TEXT",
    "Chunk",
    "HeaderAt",
    "HeaderSearch",
    "Records",
    "Sheet",
    "clean_headers",
    "clean_text",
    "column_letter",
    "find_column",
    "holds_headers",
    "locate_header",
]

CHUNK_ROWS = 2000
# Excel's last column is XFD. A CSV row wider than that is not a sheet a person made:
# usually a binary file read as text, or a runaway line of delimiters.
MAX_COLUMNS = 16_384

# What Excel shows in an error cell; such a cell keeps its text and becomes a problem.
ERROR_TEXTS = frozenset(
    {"#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA"}
)

# Characters no output can carry as they are. A lone surrogate is not text at all: UTF-8
# cannot encode it, so writing it fails. C0 control characters (but TAB, LF and CR) are
# refused by XML 1.0 and Excel, end strings in C code (NUL), and are what OWASP says to
# strip from cells. `clean_text` shows the first as U+FFFD and drops the others.
UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Problem codes for such cells: the row is invalid whichever column holds them, since
# the results and failed-rows files cannot show the cell as the sheet has it.
TEXT_PROBLEMS = frozenset({ProblemCode.UNREPRESENTABLE_TEXT, ProblemCode.CONTROL_CHARACTER})

# What a spreadsheet may run as a formula (OWASP CSV injection): a cell starting with
# TAB or CR, or with = + - @ or their fullwidth forms (Excel takes =1+1 typed in
# fullwidth as a formula), also behind whitespace, NBSP, a BOM or zero-width characters
# that a person does not see. results.escape_csv_cell and csv_file.unescape_csv_cell share it.
FORMULA_START = r"(?:[\t\r]|[\s\u180e\u200b-\u200d\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20])"

# (row number, cells as text) for every record after the header, blank ones included.
Records = Iterator[tuple[int, list[str]]]

# How far down a title, notes or an export's preamble may push the header row.
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class HeaderSearch:
    """What the header row holds, so that it is found below a title row or on another
    worksheet. The caller knows the column names (a template); the readers know rows."""

    test: Callable[[Sequence[str]], bool]  # a row's cells -> is this the header row?
    what: str  # for messages: "the template's columns", "an email column"


def holds_headers(names: Iterable[str], what: str) -> HeaderSearch:
    """A search for the row holding every one of `names` (trimmed, any case, as
    `find_column` matches them)."""
    wanted = frozenset(name.strip().casefold() for name in names if name.strip())

    def test(cells: Sequence[str]) -> bool:
        return bool(wanted) and wanted <= {cell.strip().casefold() for cell in cells}

    return HeaderSearch(test, what)


@dataclass(frozen=True)
class HeaderAt:
    """Where a sheet's header row is: its number and cells, and the records after it."""

    row: int
    cells: list[str]
    records: Records
    matched: bool  # the search's test passed (always, without a search)
    skipped: bool = False  # found by the search below other rows

    def notes(self) -> list[str]:
        """What the report says about rows skipped above the header."""
        if not self.skipped:
            return []
        above = "row 1" if self.row == 2 else f"rows 1-{self.row - 1}"
        return [f"headers found on row {self.row}; {above} skipped"]


def locate_header(
    records: Records,
    path: Path,
    where: str,
    header_row: int | None = None,
    search: HeaderSearch | None = None,
) -> HeaderAt | None:
    """The header row among `records` (numbered as Excel shows them); None if there are
    no records at all.

    `header_row` names it. Else row 1 is the header, unless `search` is given and row 1
    fails its test: then the first row up to HEADER_SEARCH_ROWS that passes it is, and
    the rows above are skipped. When none passes, row 1 is kept (`matched` False) and
    the records come back whole, so the caller's error names what row 1 holds.
    `where` names the sheet in errors ("the file", "worksheet 'Leads'").
    """
    if header_row is not None:
        last = 0
        for number, cells in records:
            if number == header_row:
                return HeaderAt(number, cells, records, search is None or search.test(cells))
            if number > header_row:  # the named row is empty (XLSX leaves it out)
                rest = itertools.chain([(number, cells)], records)
                return HeaderAt(header_row, [], rest, search is None)
            last = number
        if last == 0:
            return None
        raise SheetError(f"no header row {header_row}: {where} ends at row {last}", path)
    first = next(records, None)
    if first is None:
        return None
    if search is None or search.test(first[1]):
        return HeaderAt(first[0], first[1], records, True)
    looked = [first]
    for number, cells in records:
        looked.append((number, cells))
        if number > HEADER_SEARCH_ROWS:
            break
        if search.test(cells):
            return HeaderAt(number, cells, records, True, skipped=True)
    return HeaderAt(first[0], first[1], itertools.chain(looked[1:], records), False)


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive non-empty rows of a sheet and the cell problems found reading them."""

    row_numbers: list[int]
    rows: list[list[str]]
    problems: list[Problem]


class Sheet:
    """An open sheet: its headers now, its rows streamed once through `chunks()`."""

    def __init__(
        self,
        path: Path,
        headers: list[str],
        records: Records,
        close: Callable[[], None],
        worksheet: str = "",
        unsafe_text: bool = True,
        header_row: int = 1,
        notes: Sequence[str] = (),
    ) -> None:
        """`unsafe_text=False` promises that no cell holds `UNSAFE_TEXT` (a CSV whose
        every character was seen while picking its encoding), sparing the search."""
        self.path = path
        self.worksheet = worksheet  # the XLSX worksheet read ("" for CSV), however named
        self.headers = headers
        self.header_row = header_row  # as Excel numbers it; the rows above were skipped
        # What the report should say about how the rows were found (a header below a
        # title, a worksheet picked because it holds the columns).
        self.notes = list(notes)
        self._records = records
        self._close = close
        self._streamed = False
        self._unsafe_text = unsafe_text

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Chunk]:
        """Yield the rows in chunks of at most `size`, in one pass over the file."""
        if size < 1:
            raise ValueError(f"chunk size must be at least 1, not {size}")
        if self._streamed:
            raise RuntimeError("a sheet's rows stream once; open the sheet again to re-read")
        self._streamed = True
        return self._chunks(size)

    def _chunks(self, size: int) -> Iterator[Chunk]:
        width = len(self.headers)
        numbers: list[int] = []
        rows: list[list[str]] = []
        problems: list[Problem] = []
        scan = self._unsafe_text
        for number, cells in self._records:
            if not any(cells):
                continue
            if scan and UNSAFE_TEXT.search("".join(cells)):
                cells = self._clean(number, cells, problems)
            if len(cells) != width:
                cells = self._fit(number, cells, problems)
            if not ERROR_TEXTS.isdisjoint(cells):
                problems.extend(self._error_cells(number, cells))
            numbers.append(number)
            rows.append(cells)
            if len(rows) >= size:
                yield Chunk(numbers, rows, problems)
                numbers, rows, problems = [], [], []
        if rows:
            yield Chunk(numbers, rows, problems)

    def _fit(self, number: int, cells: list[str], problems: list[Problem]) -> list[str]:
        """Pad a short row with ""; cut a long one, reporting extra cells that hold text."""
        width = len(self.headers)
        if len(cells) < width:
            return cells + [""] * (width - len(cells))
        extra = [(i, cell) for i, cell in enumerate(cells[width:], start=width) if cell]
        if extra:
            # Name the cells: the results keep only the headed columns, so this message
            # is the one place their values still show.
            shown = ", ".join(f"{column_letter(i)}: {cell[:40]!r}" for i, cell in extra[:3])
            more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
            problems.append(
                Problem(
                    row=number,
                    column="",
                    value=extra[0][1],
                    code=ProblemCode.EXTRA_CELLS,
                    message=f"values beyond the last header ({shown}{more}) would be lost; "
                    "give those columns a header or clear them",
                )
            )
        return cells[:width]

    def _clean(self, number: int, cells: list[str], problems: list[Problem]) -> list[str]:
        """Cells fit for every output, and a problem for each headed cell that changed."""
        cleaned = []
        for index, cell in enumerate(cells):
            if UNSAFE_TEXT.search(cell):
                text = clean_text(cell)
                if index < len(self.headers):  # beyond them, extra_cells tells the row
                    problems.append(_unsafe_problem(number, self.headers[index], cell, text))
                cell = text
            cleaned.append(cell)
        return cleaned

    def _error_cells(self, number: int, cells: list[str]) -> Iterator[Problem]:
        for header, cell in zip(self.headers, cells, strict=True):
            if cell in ERROR_TEXTS:
                yield Problem(
                    row=number,
                    column=header,
                    value=cell,
                    code=ProblemCode.EXCEL_ERROR,
                    message=f"Excel shows the error {cell} in this cell; fix the formula "
                    "or the value in the sheet",
                )

    def close(self) -> None:
        """Release the file; safe to call twice."""
        self._close()

    def __enter__(self) -> Sheet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def clean_text(text: str) -> str:
    """`text` fit for any output: a lone surrogate shows as U+FFFD, control characters
    other than TAB, LF and CR are dropped. Text without them comes back as it is."""
    if not UNSAFE_TEXT.search(text):
        return text
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))


def _unsafe_problem(number: int, header: str, cell: str, cleaned: str) -> Problem:
    surrogate = _SURROGATE.search(cell)
    if surrogate:
        code = ProblemCode.UNREPRESENTABLE_TEXT
        message = (
            f"holds a character that is not text (a lone UTF-16 surrogate, "
            f"U+{ord(surrogate.group()):04X}), shown as \ufffd in the results; the row is "
            "not sent: retype the cell in the sheet"
        )
    else:
        control = _CONTROL.search(cell)
        assert control is not None
        code = ProblemCode.CONTROL_CHARACTER
        message = (
            f"holds an invisible control character (U+{ord(control.group()):04X}) that "
            "Kartra would store as it is; it is left out of the results and the row is not "
            "sent: delete it in the sheet"
        )
    return Problem(row=number, column=header, value=cleaned, code=code, message=message)


def find_column(sheet_headers: Sequence[str], name: str, path: Path, row: int = 1) -> int | None:
    """Index of the header matching `name` (trimmed, any case), or None if absent.

    A name that matches two headers, or a blank name, is a SheetError: guessing which
    column the template meant would load the wrong data silently. `row`: the header
    row's number, for that error (`Sheet.header_row`).
    """
    wanted = name.strip().casefold()
    if not wanted:
        raise SheetError("a blank column name cannot be matched to a header", path)
    found = [i for i, header in enumerate(sheet_headers) if header.strip().casefold() == wanted]
    if len(found) > 1:
        columns = ", ".join(column_letter(i) for i in found)
        raise SheetError(
            f"the header {name.strip()!r} occurs {len(found)} times (columns {columns}); "
            "rename one of them",
            path,
            row=row,
            column=name.strip(),
        )
    return found[0] if found else None


def clean_headers(
    cells: Sequence[str], path: Path, row: int = 1, search: HeaderSearch | None = None
) -> list[str]:
    """Trim headers and drop trailing blank ones; SheetError when there is no header,
    or when a header holds text no output can carry (it names a results column).

    `row`: the header row's number. `search`: what was searched for and not found, for
    the hint when the row is empty."""
    headers = [cell.strip() for cell in cells]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        hint = ""
        if search is not None:
            hint = (
                f", and no row up to row {HEADER_SEARCH_ROWS} holds {search.what}; if the "
                "headers are further down, give their row number (--header-row N)"
            )
        raise SheetError(f"no header row: row {row} is empty{hint}", path, row=row)
    for index, header in enumerate(headers):
        bad = UNSAFE_TEXT.search(header)
        if bad:
            what = "a lone surrogate" if _SURROGATE.match(bad.group()) else "a control character"
            raise SheetError(
                f"the header {clean_text(header)!r} holds {what} "
                f"(U+{ord(bad.group()):04X}), which no results file can show; retype it",
                path,
                row=row,
                column=column_letter(index),
            )
    return headers


def column_letter(index: int) -> str:
    """Excel's letter for a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters
