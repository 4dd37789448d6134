"""Read a CSV or XLSX sheet as the text a person sees, streamed in chunks of rows.

Every cell arrives as a string: what Excel would show, so that a phone stored as
14155550100.0 reads "14155550100" and a zip formatted `00000` keeps its leading zero.
Row numbers are the ones a person sees in Excel: the header is row 1. Wholly empty rows
are skipped but still counted, so later rows keep their numbers.

Nothing here holds the whole sheet: CSV is decoded as it is read (after one cheap binary
pass that picks the encoding), XLSX goes through openpyxl's read-only mode.
Foreign errors (UnicodeDecodeError, csv.Error, zipfile, openpyxl) become SheetError here.

Text no output can carry (`UNSAFE_TEXT`: a lone UTF-16 surrogate, which XLSX's `_xD800_`
escape can hold, or a control character other than TAB, LF and CR) never leaves the
reader as it is: the cell arrives cleaned (`clean_text`) and its row gets a problem
(`unrepresentable_text`, `control_character`), so it is not sent and every results file
can still be written. A header holding such text is a SheetError.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bulk_loader.errors import SheetError
from bulk_loader.outcomes import Problem

__all__ = [
    "CHUNK_ROWS",
    "ERROR_TEXTS",
    "FORMULA_START",
    "MAX_COLUMNS",
    "TEXT_PROBLEMS",
    "UNSAFE_TEXT",
    "Chunk",
    "Sheet",
    "clean_text",
    "find_column",
    "open_sheet",
    "unescape_csv_cell",
]

CHUNK_ROWS = 2000
# Excel's last column is XFD. A CSV row wider than that is not a sheet a person made:
# usually a binary file read as text, or a runaway line of delimiters.
MAX_COLUMNS = 16_384

# What Excel shows in an error cell; such a cell keeps its text and becomes a problem.
ERROR_TEXTS = frozenset(
    {"#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA"}
)

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024
_CHECK_BYTES = 256 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and password-protected .xlsx

# Characters no output can carry as they are. A lone surrogate is not text at all: UTF-8
# cannot encode it, so writing it fails. C0 control characters (but TAB, LF and CR) are
# refused by XML 1.0 and Excel, end strings in C code (NUL), and are what OWASP says to
# strip from cells. `clean_text` shows the first as U+FFFD and drops the others.
UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Problem codes for such cells: the row is invalid whichever column holds them, since
# the results and failed-rows files cannot show the cell as the sheet has it.
TEXT_PROBLEMS = frozenset({"unrepresentable_text", "control_character"})

# What a spreadsheet may run as a formula (OWASP CSV injection): a cell starting with
# TAB or CR, or with = + - @ or their fullwidth forms (Excel takes =1+1 typed in
# fullwidth as a formula), also behind whitespace, NBSP, a BOM or zero-width characters
# that a person does not see. results.escape_csv_cell and unescape_csv_cell share it.
FORMULA_START = r"(?:[\t\r]|[\s\u180e\u200b-\u200d\u2060\ufeff]*[=+\-@\uff1d\uff0b\uff0d\uff20])"

# (row number, cells as text) for every record after the header, blank ones included.
Records = Iterator[tuple[int, list[str]]]


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
    ) -> None:
        """`unsafe_text=False` promises that no cell holds `UNSAFE_TEXT` (a CSV whose
        every character was seen while picking its encoding), sparing the search."""
        self.path = path
        self.worksheet = worksheet  # the XLSX worksheet read ("" for CSV), however named
        self.headers = headers
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
            shown = ", ".join(f"{_column_letter(i)}: {cell[:40]!r}" for i, cell in extra[:3])
            more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
            problems.append(
                Problem(
                    row=number,
                    column="",
                    value=extra[0][1],
                    code="extra_cells",
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
                    code="excel_error",
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
        code = "unrepresentable_text"
        message = (
            f"holds a character that is not text (a lone UTF-16 surrogate, "
            f"U+{ord(surrogate.group()):04X}), shown as \ufffd in the results; the row is "
            "not sent: retype the cell in the sheet"
        )
    else:
        control = _CONTROL.search(cell)
        assert control is not None
        code = "control_character"
        message = (
            f"holds an invisible control character (U+{ord(control.group()):04X}) that "
            "Kartra would store as it is; it is left out of the results and the row is not "
            "sent: delete it in the sheet"
        )
    return Problem(row=number, column=header, value=cleaned, code=code, message=message)


def open_sheet(path: Path, sheet: str | None = None) -> Sheet:
    """Open a CSV or XLSX file and read its header row; SheetError if it can't be used.

    The content decides the format (a zip is a workbook), so a renamed file still opens;
    `sheet` names an XLSX worksheet (default: the first) and is ignored for CSV.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as exc:
        raise SheetError(f"cannot open the file: {exc.strerror or exc}", path) from exc
    if head.startswith(_OLE_MAGIC) or (path.suffix.lower() == ".xls" and head[:4] != _ZIP_MAGIC):
        raise SheetError(
            "this is an old-format .xls workbook or a password-protected one; "
            "save it (without a password) as .xlsx or .csv",
            path,
        )
    if head.startswith(_ZIP_MAGIC):
        from bulk_loader.sheets import (
            xlsx_file as sheets_xlsx,  # imports openpyxl: CSV runs don't pay for it
        )

        return sheets_xlsx.open_workbook_sheet(path, sheet)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        raise SheetError("this is not an XLSX workbook (not a zip file); is it corrupt?", path)
    return _open_csv(path)


def find_column(sheet_headers: Sequence[str], name: str, path: Path) -> int | None:
    """Index of the header matching `name` (trimmed, any case), or None if absent.

    A name that matches two headers, or a blank name, is a SheetError: guessing which
    column the template meant would load the wrong data silently.
    """
    wanted = name.strip().casefold()
    if not wanted:
        raise SheetError("a blank column name cannot be matched to a header", path)
    found = [i for i, header in enumerate(sheet_headers) if header.strip().casefold() == wanted]
    if len(found) > 1:
        columns = ", ".join(_column_letter(i) for i in found)
        raise SheetError(
            f"the header {name.strip()!r} occurs {len(found)} times (columns {columns}); "
            "rename one of them",
            path,
            row=1,
            column=name.strip(),
        )
    return found[0] if found else None


def clean_headers(cells: Sequence[str], path: Path) -> list[str]:
    """Trim headers and drop trailing blank ones; SheetError when there is no header,
    or when a header holds text no output can carry (it names a results column)."""
    headers = [cell.strip() for cell in cells]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise SheetError("no header row: row 1 is empty", path, row=1)
    for index, header in enumerate(headers):
        bad = UNSAFE_TEXT.search(header)
        if bad:
            what = "a lone surrogate" if _SURROGATE.match(bad.group()) else "a control character"
            raise SheetError(
                f"the header {clean_text(header)!r} holds {what} "
                f"(U+{ord(bad.group()):04X}), which no results file can show; retype it",
                path,
                row=1,
                column=_column_letter(index),
            )
    return headers


def _column_letter(index: int) -> str:
    """Excel's letter for a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


# ---------------------------------------------------------------------------- CSV


def _open_csv(path: Path) -> Sheet:
    encoding, unsafe_text = _csv_encoding(path)
    delimiter = _sniff_delimiter(path, encoding)
    file = path.open(encoding=encoding, errors="strict", newline="")
    try:
        records = _csv_records(path, file, delimiter)
        first = next(records, None)
        if first is None:
            raise SheetError("no header row: the file is empty", path)
        headers = clean_headers(first[1], path)
    except BaseException:
        file.close()
        raise
    return Sheet(path, headers, records, file.close, unsafe_text=unsafe_text)


def _csv_records(path: Path, file: io.TextIOWrapper, delimiter: str) -> Records:
    """Records numbered from 1 (the header); quoted newlines stay inside one record."""
    reader = csv.reader(file, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if len(cells) > MAX_COLUMNS:
                raise SheetError(
                    f"this row has {len(cells):,} cells, more than Excel's {MAX_COLUMNS:,} "
                    "columns; is it really a CSV, and is the delimiter right?",
                    path,
                    row=number,
                )
            if any(cell[:1] == "'" for cell in cells):
                cells = [unescape_csv_cell(cell) for cell in cells]
            yield number, cells
    except (csv.Error, UnicodeDecodeError) as exc:
        message = f"cannot read this row as CSV: {exc}"
        if "field larger than field limit" in str(exc):
            message = (
                f"a cell is longer than {csv.field_size_limit():,} characters: probably a "
                'quote (") that is never closed'
            )
        raise SheetError(message, path, row=number + 1) from exc


_ESCAPED = re.compile("'+" + FORMULA_START)


def unescape_csv_cell(cell: str) -> str:
    """Undo the OWASP escaping our own CSV files carry (results.escape_csv_cell).

    `'=SUM(A1)` reads as `=SUM(A1)` and `' ＝1` as ` ＝1`: the quote only kept a
    spreadsheet from running it. Cells already as they should be are left alone.
    """
    return cell[1:] if _ESCAPED.match(cell) else cell


def _csv_encoding(path: Path) -> tuple[str, bool]:
    """A BOM decides; else strict UTF-8 if every byte allows it; else Windows-1252.
    Also whether the text holds any `UNSAFE_TEXT` (so rows need searching for it).

    One binary pass in 256 KB blocks (constant memory, far faster than parsing) is the
    price of never switching encodings after rows have been handed out.
    """
    with path.open("rb") as file:
        head = file.read(4)
    bom_encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), None)
    candidates = [bom_encoding] if bom_encoding else ["utf-8", "cp1252"]
    for encoding in candidates:
        try:
            unsafe_text = _check_text(path, encoding)
        except UnicodeDecodeError as exc:
            if encoding != candidates[-1]:
                continue
            what = (
                f"{encoding.upper()} text (as its byte-order mark says)"
                if bom_encoding
                else ("UTF-8 nor Windows-1252 text")
            )
            raise SheetError(
                f"undecodable bytes: the file is not {what}; is it really a CSV?",
                path,
                row=_row_at(path, encoding, exc.start),
            ) from exc
        return encoding, unsafe_text
    raise AssertionError("unreachable")  # pragma: no cover


def _check_text(path: Path, encoding: str) -> bool:
    """Decode the whole file; UnicodeDecodeError (with a file-wide `start`) if it can't be.
    Returns whether the text holds any `UNSAFE_TEXT` (a control character).

    A NUL character is a SheetError: text files don't hold one, binary files and UTF-16
    without a BOM do, and the csv module would pass it on silently.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    chars = 0
    unsafe = False
    with path.open("rb") as file:
        while True:
            block = file.read(_CHECK_BYTES)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                exc.start = chars + len(block[: exc.start].decode(encoding, "replace"))
                raise
            if "\0" in text:
                raise SheetError(
                    "the file contains NUL bytes: it is binary, or UTF-16 text without a "
                    "byte-order mark; save it as CSV UTF-8",
                    path,
                    row=_row_at(path, encoding, chars + text.index("\0")),
                )
            if not unsafe:
                unsafe = _holds_unsafe_text(block, text, encoding)
            chars += len(text)
            if not block:
                return unsafe


# Every byte but the control characters UNSAFE_TEXT names: what bytes.translate deletes.
_NOT_CONTROL_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in b"\t\n\r")


def _holds_unsafe_text(block: bytes, text: str, encoding: str) -> bool:
    """Whether `text`, decoded from `block`, holds UNSAFE_TEXT. In UTF-8 and cp1252 a byte
    below 0x20 is always that character (strict decoding leaves no surrogates), and
    looking at bytes is about ten times faster than a regular expression over the text."""
    if encoding in ("utf-8", "utf-8-sig", "cp1252"):
        return bool(block.translate(None, _NOT_CONTROL_BYTES))
    return UNSAFE_TEXT.search(text) is not None


def _row_at(path: Path, encoding: str, char_offset: int) -> int:
    """The record number (header = 1) holding the character at `char_offset`.

    Only used to word an error, so it re-reads the file rather than burden the fast path.
    """
    delimiter = _sniff_delimiter(path, encoding, errors="replace")

    def lines_up_to_offset(file: io.TextIOWrapper) -> Iterator[str]:
        seen = 0
        for line in file:
            yield line
            seen += len(line)
            if seen > char_offset:
                return

    records = 0
    with path.open(encoding=encoding, errors="replace", newline="") as file:
        reader = csv.reader(lines_up_to_offset(file), delimiter=delimiter)
        try:
            for _ in reader:
                records += 1
        except csv.Error:  # e.g. an unclosed quote before the bad byte: it is in this record
            records += 1
    return max(1, records)


def _sniff_delimiter(path: Path, encoding: str, errors: str = "strict") -> str:
    """Pick the delimiter among `, ; TAB |` from the start of the file; comma by default.

    csv.Sniffer judges consistency across lines but gives up on one-column files and on
    samples cut inside a quoted field, and may pick a character the header lacks; then
    the header line decides: the candidate that splits it into the most fields.
    """
    with path.open(encoding=encoding, errors=errors, newline="") as file:
        sample = file.read(_SNIFF_CHARS)
        complete = len(sample) < _SNIFF_CHARS
    if not complete and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    sample = sample.replace("\0", "")
    by_header = _delimiter_from_header(sample)
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return by_header
    # Sniffer can settle on a character that is consistent in the data (tags "a;b")
    # but absent from the header line; the header line is then the better judge.
    header = sample.splitlines()[0] if sample else ""
    return sniffed if sniffed in header else by_header


def _delimiter_from_header(sample: str) -> str:
    """The candidate that splits the first line into the most fields; comma on a tie."""
    header = sample.splitlines()[0] if sample else ""
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals
    return best if counts[best] > 1 else ","
