"""The text Excel shows for a cell value: number formats, dates, booleans.

Pure text work, apart from openpyxl (xlsx_file.py hands each cell's value and style
over). What a cell becomes:
- text as is, with `_xHHHH_` escapes decoded; empty cells and formulas without a cached
  value (a workbook saved by a tool that doesn't calculate) -> "";
- numbers through their number format: General shows whole numbers without ".0" or
  exponent and others with at most 15 significant digits; integer masks such as
  `00000`, `000-00-0000` or `(###) ###-####` keep zeros and literals; `0.00` fixes the
  decimals and `0.0%` shows a percent. Grouping and currency symbols are left out
  (downstream wants numbers), scientific and fraction formats read as General;
- dates and times in ISO form (`2024-03-05`, `2024-03-05 14:30:00`, `14:30:00`); a
  cell stored as a date (or a date and time) comes back as a `DateText`, the same text
  that also keeps the date, so that validation can tell a date cell from text that
  reads like one (a spreadsheet turns typed or imported `12/01` into a date);
- booleans as TRUE / FALSE; error cells as their text (#N/A), which `Sheet` reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

__all__ = [
    "DateText",
    "NumberText",
    "cell_text",
    "number_converter",
    "number_text",
    "visible_text",
]

NumberText = Callable[[int | float], str]


class DateText(str):
    """The text of a cell the workbook stores as a date, `moment` the date (a datetime
    when the cell holds one). It is the text in every other way: a plain str compares
    equal to it, and `.strip()` and the like give a plain str back."""

    __slots__ = ("moment",)
    moment: date

    def __new__(cls, text: str, moment: date) -> DateText:
        made = super().__new__(cls, text)
        made.moment = moment
        return made

    def __reduce__(self) -> tuple[type[DateText], tuple[str, date]]:
        return DateText, (str(self), self.moment)  # pickled to the results process


def visible_text(value: Any, style_id: int, number_format: Callable[[int], str]) -> str:
    """The text Excel shows for a cell's value in style `style_id`; text, the common case,
    goes first. `number_format` gives a style's number format."""
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
    if isinstance(value, date):  # a date number format, or a t="d" cell; datetime too
        return DateText(cell_text(value), value)
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
