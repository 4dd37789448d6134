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

The worksheet is the one named (`--sheet Leads`), else the one at that position among
the visible ones (`--sheet 2`, when no worksheet is named "2"), else the first visible
one; but when a search is given and the first visible worksheet has no row holding
what it looks for, the only other visible worksheet that has one is read instead.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
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
from bulk_loader.sheets.sheet import (
    MAX_COLUMNS,
    HeaderAt,
    HeaderSearch,
    Sheet,
    clean_headers,
    column_letter,
    locate_header,
)

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


def open_workbook_sheet(
    path: Path,
    sheet: str | None,
    header_row: int | None = None,
    search: HeaderSearch | None = None,
) -> Sheet:
    """Open worksheet `sheet` (default: the first visible) read-only and read its header.

    `header_row` names the header row; else `search` finds it below a title (and, with
    no `sheet` named, on another worksheet: see the module docstring); else it is row 1.
    """
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
        worksheet, notes = _pick_worksheet(workbook, sheet, path)
        chosen = _Candidate.read(path, workbook, worksheet, header_row, search)
        if search is not None and sheet is None and not chosen.matched:
            chosen, notes = _search_worksheets(path, workbook, chosen, header_row, search)
        found = chosen.header
        if found is None:
            raise SheetError(f"no header row: worksheet {worksheet.title!r} is empty", path)
        unmatched = search if not found.matched else None
        headers = clean_headers(found.cells, path, found.row, unmatched)
        chosen.width.value = len(headers)  # later cells beyond it are packed
    except BaseException:
        close()
        raise
    return Sheet(
        path,
        headers,
        found.records,
        close,
        worksheet=chosen.worksheet.title,
        header_row=found.row,
        notes=[*notes, *found.notes()],
    )


def _pick_worksheet(
    workbook: Workbook, name: str | None, path: Path
) -> tuple[ReadOnlyWorksheet, list[str]]:
    """The worksheet called `name` (exact, else trimmed any-case), else the one at
    position `name` among the visible ones (1 = the first tab), or the first visible
    one; and a note when a position picked it.

    A hidden worksheet is read only when named: it is usually a lookup table, and by
    default a person means the sheet Excel shows them when the file opens.
    """
    sheets = [ws for ws in workbook.worksheets if isinstance(ws, ReadOnlyWorksheet)]
    if not sheets:
        raise SheetError("the workbook has no worksheet", path)
    visible = [ws for ws in sheets if ws.sheet_state == "visible"]
    if name is None:
        return (visible or sheets)[0], []
    wanted = name.strip().casefold()
    exact = [ws for ws in sheets if ws.title == name]
    loose = [ws for ws in sheets if ws.title.strip().casefold() == wanted]
    for found in (exact, loose):
        if len(found) == 1:
            return found[0], []
    position = int(wanted) if wanted.isdecimal() and wanted.isascii() else 0
    if 1 <= position <= len(visible):
        picked = visible[position - 1]
        note = (
            f"--sheet {position}: worksheet {picked.title!r} read, the visible one at that "
            f"position (no worksheet is named {name.strip()!r})"
        )
        return picked, [note]
    titles = ", ".join(
        repr(ws.title) + ("" if ws.sheet_state == "visible" else " (hidden)") for ws in sheets
    )
    by_position = f" or a position from 1 to {len(visible)}" if position else ""
    raise SheetError(f"no worksheet named {name!r}{by_position}; the workbook has: {titles}", path)


_Rows = Generator[tuple[int, list[str]], None, None]  # sheet.Records, closable


class _Width:
    """How many columns the header row spans, once it is known. Until then (while the
    header row is being looked for) rows are read whole."""

    value: int | None = None


@dataclass
class _Candidate:
    """A worksheet opened to find its header row."""

    worksheet: ReadOnlyWorksheet
    rows: _Rows  # closed if not chosen
    width: _Width
    header: HeaderAt | None

    @classmethod
    def read(
        cls,
        path: Path,
        workbook: Workbook,
        worksheet: ReadOnlyWorksheet,
        header_row: int | None,
        search: HeaderSearch | None,
    ) -> _Candidate:
        width = _Width()
        rows = _records(path, workbook, worksheet, width)
        where = f"worksheet {worksheet.title!r}"
        try:
            header = locate_header(rows, path, where, header_row, search)
        except BaseException:
            rows.close()
            raise
        return cls(worksheet, rows, width, header)

    @property
    def matched(self) -> bool:
        return self.header is not None and self.header.matched

    def close(self) -> None:
        self.rows.close()


def _search_worksheets(
    path: Path,
    workbook: Workbook,
    first: _Candidate,
    header_row: int | None,
    search: HeaderSearch,
) -> tuple[_Candidate, list[str]]:
    """The first visible worksheet does not hold what `search` looks for: the only other
    visible one that does, with a note; SheetError naming them when several do; `first`
    again when none does (the caller's error names what its header row holds)."""
    others = [
        ws
        for ws in workbook.worksheets
        if isinstance(ws, ReadOnlyWorksheet)
        and ws.sheet_state == "visible"
        and ws is not first.worksheet
    ]
    holding: list[_Candidate] = []
    try:
        for worksheet in others:
            try:
                candidate = _Candidate.read(path, workbook, worksheet, header_row, search)
            except SheetError:
                continue  # a damaged worksheet nobody asked for: not the one
            if candidate.matched:
                holding.append(candidate)
            else:
                candidate.close()
    except BaseException:
        for candidate in holding:
            candidate.close()
        raise
    if not holding:
        return first, []
    first.close()
    title = first.worksheet.title
    if len(holding) > 1:
        for candidate in holding:
            candidate.close()
        names = ", ".join(repr(c.worksheet.title) for c in holding)
        raise SheetError(
            f"worksheet {title!r} has no row holding {search.what}; worksheets {names} "
            f"do: add --sheet {_typed(holding[0].worksheet.title)} (or another of them)",
            path,
        )
    chosen = holding[0]
    note = (
        f"worksheet {chosen.worksheet.title!r} read: the first one, {title!r}, has no row "
        f"holding {search.what}, and {chosen.worksheet.title!r} is the only one that has "
        f"(--sheet {_typed(chosen.worksheet.title)} says so)"
    )
    return chosen, [note]


def _typed(title: str) -> str:
    """A worksheet title as typed after --sheet in a shell; one line whatever it holds."""
    return shlex.quote(title) if title.isprintable() else repr(title)


def _records(path: Path, workbook: Workbook, worksheet: ReadOnlyWorksheet, header: _Width) -> _Rows:
    """Every row that holds cells, with its number; row 1 first even when it is absent.

    openpyxl's own `iter_rows` pads each row out to its last cell and yields every
    missing row: a single cell in column XFD, or a row numbered in the billions, would
    cost time without end. Cells come here sparse, and only up to the last one that
    holds text is a row filled in; Excel's row and column limits are enforced. Rows
    are filled in up to the last header (`header.value`) once the caller has found
    the header row; cells beyond it are packed after it.
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
            for number, cells in _parsed_rows(parser, source):
                _check_row_number(path, number, previous)
                if previous == 0 and number != 1:
                    yield 1, []  # row 1 is missing: it is empty
                previous = number
                yield number, _row_text(path, number, cells, fmt, header.value)
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
