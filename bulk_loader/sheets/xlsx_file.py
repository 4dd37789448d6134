"""XLSX worksheets for `sheets`: openpyxl read-only rows, each cell as the text Excel shows.

Kept apart from sheets.py so CSV runs never import openpyxl, and because turning a
cell into its visible text (number formats, dates) is a subject of its own.

What a cell becomes:
- text as is; empty cells and formulas without a cached value (a workbook saved by a
  tool that doesn't calculate) -> "";
- numbers through their number format: General shows whole numbers without ".0" or
  exponent and others with at most 15 significant digits; integer masks such as
  `00000`, `000-00-0000` or `(###) ###-####` keep zeros and literals; `0.00` fixes the
  decimals and `0.0%` shows a percent. Grouping and currency symbols are left out
  (downstream wants numbers), scientific and fraction formats read as General;
- dates and times in ISO form (`2024-03-05`, `2024-03-05 14:30:00`, `14:30:00`);
- booleans as TRUE / FALSE; error cells as their text (#N/A), which `Sheet` reports.

Before openpyxl sees a workbook, workbook_guard.check_workbook_zip refuses zip bombs,
giant parts and DOCTYPEs. openpyxl itself parses through defusedxml (entities refused),
and the worksheet's rows are parsed here through defusedxml with no DTD allowed at all.
While rows stream, rows and columns beyond Excel's own limits and cells longer than
Excel allows are refused (`MAX_ROWS`, `MAX_COLUMNS`, `MAX_CELL_CHARS`). `_xD800_` and
`_x0000_` decode to what they say; `Sheet` turns such cells into problems.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
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
from bulk_loader.sheets.guard import check_workbook_zip, unreadable
from bulk_loader.sheets.sheet import MAX_COLUMNS, Records, Sheet, _column_letter, clean_headers

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "cell_text",
    "number_text",
    "open_workbook_sheet",
]

_MB = 1024 * 1024
# Excel's own limits (and MAX_COLUMNS, column XFD): no workbook Excel wrote goes beyond them.
MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
# openpyxl warns on stderr about features it drops (data validation, default styles)
# that don't matter to reading values; an ops person would only be confused by them.
warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl\.")

NumberText = Callable[[int | float], str]


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
        text = _text_of(cell["value"], cell["style_id"], fmt)
        if not text:
            continue
        if len(text) > MAX_CELL_CHARS:
            raise SheetError(
                f"a cell holds {len(text):,} characters, more than Excel's "
                f"{MAX_CELL_CHARS:,}; the worksheet is damaged",
                path,
                row=number,
                column=_column_letter(column - 1),
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


def _text_of(value: Any, style_id: int, number_format: Callable[[int], str]) -> str:
    """The visible text of a cell's value; text, the common case, goes first."""
    if type(value) is str:
        return _unescape_ooxml(value) if "_x" in value else value
    if value is None:
        return ""
    if type(value) is int or type(value) is float:
        fmt = number_format(style_id)
        converter = _CONVERTERS.get(fmt)
        if converter is None:
            converter = _CONVERTERS[fmt] = number_converter(fmt)
        try:
            return converter(value)
        except (ArithmeticError, ValueError):  # inf/NaN from a foreign writer: no format fits
            return number_text(value)
    return cell_text(value)


_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape_ooxml(text: str) -> str:
    """Decode `_xHHHH_`, how XLSX stores characters XML cannot hold (a CR is _x000D_).

    Excel shows the character; openpyxl hands over the escape. `_x005F_` escapes an
    underscore, so a literal "_x000D_" typed in Excel comes back as itself. Escapes are
    UTF-16 code units, so `_xD83D__xDE00_` is one emoji; a surrogate without its pair
    stays a lone surrogate, for `Sheet` to report.
    """
    decoded = _OOXML_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text)
    if _SURROGATE_PAIR.search(decoded):
        utf16 = decoded.encode("utf-16-le", "surrogatepass")
        decoded = utf16.decode("utf-16-le", "surrogatepass")
    return decoded


_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def cell_text(value: object) -> str:
    """Text for a cell value that isn't a formatted number: bool, date, time, duration."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, datetime):
        value = _round_to_second(value)
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, timedelta):
        return _duration_text(value)
    return str(value)


def _round_to_second(moment: datetime) -> datetime:
    """Excel stores times as fractions of a day; 14:30 can read back as 14:29:59.999999."""
    if not moment.microsecond:
        return moment
    rounded = moment + timedelta(microseconds=500_000)
    return rounded.replace(microsecond=0)


def _duration_text(duration: timedelta) -> str:
    """A duration as Excel's [h]:mm:ss."""
    seconds = round(abs(duration.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    sign = "-" if duration < timedelta(0) else ""
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def number_text(value: int | float) -> str:
    """A number as Excel's General format shows it in the formula bar.

    Whole numbers in full (14155550100.0 -> "14155550100"); others with at most 15
    significant digits (0.1 + 0.2 -> "0.3"), without an exponent unless the number is
    tiny or huge.
    """
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return "#NUM!"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.15g}"
    if "e" in text and 1e-10 <= abs(value) < 1e21:
        return format(Decimal(text), "f")
    return text.upper()


_CONVERTERS: dict[str, NumberText] = {}


def number_converter(fmt: str) -> NumberText:
    """Build the function that shows numbers in format `fmt`; General when unsure."""
    if fmt in ("General", "@"):
        return number_text
    section = re.sub(r"\[[^\]]*\]", "", _first_section(fmt))  # [Red], [$€-407], [<=99]
    unquoted = re.sub(r'"[^"]*"|\\.|_.|\*.', "", section)
    if re.search(r"[EeDdMmYyHhSs/@]", unquoted):  # scientific, date, fraction, text
        return number_text
    core = re.sub(r"[^0#?.%]", "", unquoted)
    if not re.search(r"[0#?]", core):
        return number_text
    decimals = len(re.findall(r"[0#?]", core.split(".", 1)[1])) if "." in core else 0
    if "%" in core:
        return _percent(decimals)
    if "." in core:
        return _fixed(decimals)
    return _mask(section)


def _first_section(fmt: str) -> str:
    """The section for positive numbers: formats hold up to four, split by `;`."""
    match = re.match(r'(?:"[^"]*"|\\.|[^;"\\])*', fmt)
    return match.group(0) if match else fmt


def _round_half_up(value: int | float | Decimal, decimals: int) -> Decimal:
    """Round as Excel does (half away from zero) on the 15-digit value Excel shows."""
    exact = Decimal(f"{value:.15g}") if type(value) is float else Decimal(value)
    return exact.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP, _WIDE)


_WIDE = Context(prec=400)  # room for any double's digits plus the decimals shown


def _fixed(decimals: int) -> NumberText:
    def show(value: int | float) -> str:
        return _plain(_round_half_up(value, decimals))

    return show


def _percent(decimals: int) -> NumberText:
    def show(value: int | float) -> str:
        exact = Decimal(f"{value:.15g}") if type(value) is float else Decimal(value)
        return _plain(_round_half_up(exact * 100, decimals)) + "%"

    return show


def _plain(number: Decimal) -> str:
    """Fixed-point text; a value that rounds to zero loses its minus sign, as in Excel."""
    return format(abs(number) if number.is_zero() else number, "f")


def _mask(section: str) -> NumberText:
    """An integer mask: digits fill the placeholders from the right, literals stay put.

    `0` shows a digit or 0, `#` a digit or nothing, `?` a digit or a space; the leftmost
    placeholder takes any digits left over. So 2134 in `00000` reads "02134".
    """
    tokens = _mask_tokens(section)

    def show(value: int | float) -> str:
        number = _round_half_up(value, 0)
        digits = list(str(abs(int(number))).lstrip("0"))
        out: list[str] = []
        placeholders = sum(1 for kind, _ in tokens if kind != "lit")
        for kind, char in reversed(tokens):
            if kind == "lit":
                out.append(char)
                continue
            placeholders -= 1
            if placeholders == 0 and digits:
                out.append("".join(digits))
                digits = []
            elif digits:
                out.append(digits.pop())
            else:
                out.append({"0": "0", "#": "", "?": " "}[kind])
        sign = "-" if number < 0 else ""
        return sign + "".join(reversed(out)).strip()

    return show


# Grouping commas and currency symbols are left out of masks: downstream wants numbers.
_NOT_SHOWN = frozenset(",$€£¥")


def _mask_tokens(section: str) -> Sequence[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for match in re.finditer(r'"([^"]*)"|\\(.)|_.|\*.|(.)', section):
        quoted, escaped, char = match.groups()
        if quoted is not None or escaped is not None:
            literal = quoted if quoted is not None else escaped
            tokens.append(("lit", "".join(c for c in literal if c not in _NOT_SHOWN)))
        elif char in ("0", "#", "?"):
            tokens.append((char, char))
        elif char is not None and char not in _NOT_SHOWN:
            tokens.append(("lit", char))
    return tokens
