"""CSV sheets for `sheets`: the encoding and delimiter picked up front, then rows streamed.

The encoding is decided once, before any row is handed out: a byte-order mark, else
strict UTF-8 if every byte allows it, else Windows-1252. That one binary pass in 256 KB
blocks also learns whether any cell holds `UNSAFE_TEXT`, so clean files skip the search.
The delimiter (`, ; TAB |`) comes from the start of the file; when a title row stands
above the headers, from the line that holds them. csv.Error and UnicodeDecodeError
become SheetError here, naming the row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from bulk_loader.errors import SheetError
from bulk_loader.sheets.sheet import (
    FORMULA_START,
    HEADER_SEARCH_ROWS,
    MAX_COLUMNS,
    UNSAFE_TEXT,
    HeaderSearch,
    Records,
    Sheet,
    clean_headers,
    locate_header,
)

__all__ = ["open_csv", "unescape_csv_cell"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 64 * 1024
_CHECK_BYTES = 256 * 1024


def open_csv(
    path: Path, header_row: int | None = None, search: HeaderSearch | None = None
) -> Sheet:
    """Open a CSV file and read its header row; SheetError if it can't be used.

    `header_row` names the header row (1 = the first line); else `search` finds it
    below a title or notes (sheet.locate_header), else it is row 1.
    """
    encoding, unsafe_text = _csv_encoding(path)
    delimiter = _sniff_delimiter(path, encoding, header_row=header_row, search=search)
    file = path.open(encoding=encoding, errors="strict", newline="")
    try:
        records = _csv_records(path, file, delimiter)
        found = locate_header(records, path, "the file", header_row, search)
        if found is None:
            raise SheetError("no header row: the file is empty", path)
        unmatched = search if not found.matched else None
        headers = clean_headers(found.cells, path, found.row, unmatched)
    except BaseException:
        file.close()
        raise
    return Sheet(
        path,
        headers,
        found.records,
        file.close,
        unsafe_text=unsafe_text,
        header_row=found.row,
        notes=found.notes(),
    )


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


def _sniff_delimiter(
    path: Path,
    encoding: str,
    errors: str = "strict",
    *,
    header_row: int | None = None,
    search: HeaderSearch | None = None,
) -> str:
    """Pick the delimiter among `, ; TAB |` from the start of the file; comma by default.

    csv.Sniffer judges consistency across lines but gives up on one-column files and on
    samples cut inside a quoted field, and may pick a character the header lacks; then
    the header line decides: the candidate that splits it into the most fields. The
    header line is line `header_row`, else the first. With a `search` (a title row may
    stand above the headers), a delimiter under which no early row holds what is
    searched for gives way to one under which a row does.
    """
    with path.open(encoding=encoding, errors=errors, newline="") as file:
        sample = file.read(_SNIFF_CHARS)
        complete = len(sample) < _SNIFF_CHARS
    if not complete and "\n" in sample:
        sample = sample[: sample.rindex("\n") + 1]
    sample = sample.replace("\0", "")
    lines = sample.splitlines()
    index = (header_row or 1) - 1
    header = lines[index] if index < len(lines) else ""
    chosen = _by_sniffer(sample, header)
    if search is None or _finds_header(sample, chosen, header_row, search):
        return chosen
    others = (d for d in _DELIMITERS if d != chosen)
    return next((d for d in others if _finds_header(sample, d, header_row, search)), chosen)


def _by_sniffer(sample: str, header: str) -> str:
    by_header = _delimiter_from_header(header)
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return by_header
    # Sniffer can settle on a character that is consistent in the data (tags "a;b")
    # but absent from the header line; the header line is then the better judge.
    return sniffed if sniffed in header else by_header


def _finds_header(
    sample: str, delimiter: str, header_row: int | None, search: HeaderSearch
) -> bool:
    """Whether, split on `delimiter`, the sample's header row (or one of its first
    rows) holds what `search` looks for."""
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
    last = header_row or HEADER_SEARCH_ROWS
    try:
        for number, cells in enumerate(reader, start=1):
            if number > last:
                return False
            if (header_row is None or number == header_row) and search.test(cells):
                return True
    except csv.Error:
        return False
    return False


def _delimiter_from_header(header: str) -> str:
    """The candidate that splits the header line into the most fields; comma on a tie."""
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals
    return best if counts[best] > 1 else ","
