"""XLSX worksheets for `sheets`: openpyxl read-only rows, each cell as the text Excel shows.

Kept apart from csv_file.py so CSV runs never import openpyxl; turning a cell's value
into the text Excel shows (number formats, dates) is excel_text.py's subject.

Before openpyxl sees a workbook, guard.check_workbook_zip refuses zip bombs, giant
parts and DOCTYPEs. openpyxl itself parses through defusedxml (entities refused) when
it chooses to (guard.py says when it does not), and the worksheet's rows are always
parsed here through defusedxml with no DTD allowed at all.
While rows stream, rows and columns beyond Excel's own limits and cells longer than
Excel allows are refused (`MAX_ROWS`, `MAX_COLUMNS`, `MAX_CELL_CHARS`). `_xD800_` and
`_x0000_` decode to what they say; `Sheet` turns such cells into problems.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

# defusedxml ships no type hints (and types-defusedxml is not a dev dependency).
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import iterparse  # type: ignore[import-untyped]
from openpyxl import load_workbook
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, ROW_TAG, WorkSheetParser

from bulk_loader.errors import SheetError
from bulk_loader.sheets.excel_text import visible_text
from bulk_loader.sheets.guard import check_workbook_zip, unreadable
from bulk_loader.sheets.sheet import MAX_COLUMNS, Records, Sheet, clean_headers, column_letter

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "open_workbook_sheet",
]

# Excel's own limits (and MAX_COLUMNS, column XFD): no workbook Excel wrote goes beyond them.
MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
# openpyxl warns on stderr about features it drops (data validation, default styles)
# that don't matter to reading values; an ops person would only be confused by them.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")


def open_workbook_sheet(path: Path, sheet: str | None) -> Sheet:
    """Open worksheet `sheet` (default: the first visible) read-only and read its header."""
    check_workbook_zip(path)
    # A file object, not the path: openpyxl refuses names not ending in .xlsx and the
    # content already told us this is a zip.
    file = path.open("rb")
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # the seam: zipfile, XML and openpyxl errors of all kinds
        file.close()
        raise SheetError(unreadable(exc), path) from exc

    def close() -> None:
        workbook.close()
        file.close()

    try:
        worksheet = _pick_worksheet(workbook, sheet, path)
        records = _records(path, workbook, worksheet)
        first = next(records, None)
        if first is None:
            raise SheetError(f"no header row: worksheet {worksheet.title!r} is empty", path)
        headers = clean_headers(first[1], path)
    except BaseException:
        close()
        raise
    return Sheet(path, headers, records, close, worksheet=worksheet.title)


def _pick_worksheet(workbook: Workbook, name: str | None, path: Path) -> ReadOnlyWorksheet:
    """The worksheet called `name` (exact, else trimmed any-case), or the first visible one.

    A hidden worksheet is read only when named: it is usually a lookup table, and by
    default a person means the sheet Excel shows them when the file opens.
    """
    sheets = [ws for ws in workbook.worksheets if isinstance(ws, ReadOnlyWorksheet)]
    if not sheets:
        raise SheetError("the workbook has no worksheet", path)
    if name is None:
        visible = [ws for ws in sheets if ws.sheet_state == "visible"]
        return (visible or sheets)[0]
    wanted = name.strip().casefold()
    exact = [ws for ws in sheets if ws.title == name]
    loose = [ws for ws in sheets if ws.title.strip().casefold() == wanted]
    for found in (exact, loose):
        if len(found) == 1:
            return found[0]
    titles = ", ".join(
        repr(ws.title) + ("" if ws.sheet_state == "visible" else " (hidden)") for ws in sheets
    )
    raise SheetError(f"no worksheet named {name!r}; the workbook has: {titles}", path)


def _records(path: Path, workbook: Workbook, worksheet: ReadOnlyWorksheet) -> Records:
    """Every row that holds cells, with its number; row 1 first even when it is absent.

    openpyxl's own `iter_rows` pads each row out to its last cell and yields every
    missing row: a single cell in column XFD, or a row numbered in the billions, would
    cost time without end. Cells come here sparse, and only up to the last one that
    holds text is a row filled in; Excel's row and column limits are enforced.
    """
    number = 0
    fmt = _format_lookup(workbook)
    book: Any = workbook
    ws: Any = worksheet
    try:
        with ws._get_source() as source:
            parser = WorkSheetParser(
                source,
                ws._shared_strings,
                data_only=True,
                epoch=book.epoch,
                date_formats=book._date_formats,
                timedelta_formats=book._timedelta_formats,
            )
            previous = 0
            width: int | None = None
            for number, cells in _parsed_rows(parser, source):
                _check_row_number(path, number, previous)
                if previous == 0 and number != 1:
                    yield 1, []  # row 1 is missing: the header row is empty
                    width = 0
                previous = number
                texts = _row_text(path, number, cells, fmt, width)
                if width is None:
                    width = _header_width(texts)
                yield number, texts
    except SheetError:
        raise
    except DefusedXmlException as exc:  # a DOCTYPE: about the part, not a row
        raise SheetError(unreadable(exc), path) from exc
    except Exception as exc:  # a damaged sheet part shows only while parsing it
        raise SheetError(unreadable(exc), path, row=number + 1) from exc


def _parsed_rows(parser: WorkSheetParser, source: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """`parser.parse()` for rows alone, through defusedxml with no DTD allowed.

    openpyxl's own loop uses whichever iterparse openpyxl picked at import (the stdlib's
    if OPENPYXL_DEFUSEDXML=False) and also builds the sheet's properties, which reading
    values never needs. A DOCTYPE anywhere raises DTDForbidden, whatever the encoding.
    Rows are emptied once read; past the sheet data, everything is, as it ends.
    """
    past_data = False
    for _, element in iterparse(source, forbid_dtd=True):
        if element.tag == ROW_TAG:
            yield parser.parse_row(element)
            element.clear()
        elif past_data or element.tag == DATA_TAG:
            past_data = True
            element.clear()


def _check_row_number(path: Path, number: int, previous: int) -> None:
    if not 1 <= number <= MAX_ROWS:
        raise SheetError(
            f"row number {number:,} is outside Excel's 1 to {MAX_ROWS:,}; the worksheet "
            "is damaged: open it in Excel and save it again",
            path,
            row=previous + 1,
        )
    if number <= previous:
        raise SheetError(
            f"row {number:,} comes after row {previous:,} in the file: the rows are out "
            "of order and the worksheet is damaged; open it in Excel and save it again",
            path,
            row=number,
        )


def _header_width(texts: list[str]) -> int:
    """Columns up to the last non-blank header, as `clean_headers` counts them."""
    width = len(texts)
    while width and not texts[width - 1].strip():
        width -= 1
    return width


def _row_text(
    path: Path,
    number: int,
    cells: list[dict[str, Any]],
    fmt: Callable[[int], str],
    width: int | None,
) -> list[str]:
    """A row's texts, filled in up to `width` (None: to its last cell holding text).

    Cells beyond `width` that hold text come after it, packed together: `Sheet` only
    counts them, and a value in column XFD should not cost 16,384 cells in every row.
    """
    texts: list[str] = []
    extra: list[str] = []
    for cell in cells:
        column: int = cell["column"]
        if column > MAX_COLUMNS:
            raise SheetError(
                f"a cell lies in column {column:,}, beyond Excel's last column XFD "
                f"({MAX_COLUMNS:,}); the worksheet is damaged",
                path,
                row=number,
            )
        text = visible_text(cell["value"], cell["style_id"], fmt)
        if not text:
            continue
        if len(text) > MAX_CELL_CHARS:
            raise SheetError(
                f"a cell holds {len(text):,} characters, more than Excel's "
                f"{MAX_CELL_CHARS:,}; the worksheet is damaged",
                path,
                row=number,
                column=column_letter(column - 1),
            )
        if width is not None and column > width:
            extra.append(text)
            continue
        if column > len(texts):
            texts.extend([""] * (column - len(texts)))
        texts[column - 1] = text
    if extra:
        texts.extend([""] * (cast(int, width) - len(texts)))
        texts.extend(extra)
    return texts


def _format_lookup(workbook: Workbook) -> Callable[[int], str]:
    """style id -> number format, as openpyxl's ReadOnlyCell finds it; General if unknown."""
    book: Any = workbook
    styles, custom = book._cell_styles, book._number_formats
    cache: dict[int, str] = {}

    def number_format(style_id: int) -> str:
        found = cache.get(style_id)
        if found is None:
            try:
                format_id = styles[style_id].numFmtId
                if format_id < BUILTIN_FORMATS_MAX_SIZE:
                    found = BUILTIN_FORMATS.get(format_id, "General")
                else:
                    found = custom[format_id - BUILTIN_FORMATS_MAX_SIZE]
            except (IndexError, TypeError):  # a damaged style reference: show it plainly
                found = "General"
            cache[style_id] = found = str(found)
        return found

    return number_format
