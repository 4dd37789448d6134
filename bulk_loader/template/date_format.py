"""The date key of a template's custom field: its format's codes and the order of day,
month and year; what the template check asks of it, and what reading a cell needs.
The template stage's own vocabulary: validation/dates.py reads and writes dates by it."""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "CODE",
    "DATE_ORDERS",
    "MAX_DATE_FORMAT",
    "YEAR_CODES",
    "DateOrder",
    "date_format_problem",
    "default_order",
]

DateOrder = Literal["MDY", "DMY", "YMD"]
DATE_ORDERS: tuple[DateOrder, ...] = ("MDY", "DMY", "YMD")
# A format's longest output is 4.5 times its length (%A: "Wednesday"): 50 stays under
# Kartra's 255 characters.
MAX_DATE_FORMAT = 50
# Codes a date format may use (the `-` flag: no leading zero), and those that need a year.
_DATE_CODES = ("d", "-d", "m", "-m", "b", "B", "y", "Y", "a", "A", "j", "-j", "%")
_PART_CODES = frozenset({"d", "-d", "m", "-m", "b", "B", "y", "Y", "j", "-j"})
YEAR_CODES = frozenset({"y", "Y", "a", "A", "j", "-j"})
_TIME_CODES = frozenset("HIMSpfzZcX")
CODE = re.compile(r"%(-?.)?", re.DOTALL)


def date_format_problem(fmt: str) -> str | None:
    """What is wrong with a template's date format, or None."""
    if len(fmt) > MAX_DATE_FORMAT:
        return f"at most {MAX_DATE_FORMAT} characters, not {len(fmt)}"
    codes = []
    for match in CODE.finditer(fmt):
        code = match.group(1)
        if code is None:
            return "ends with a lone %: write %% for a percent sign"
        if code.lstrip("-") in _TIME_CODES:
            return f"%{code} is not a date code (a date is sent without a time): {_CODES_TEXT}"
        if code not in _DATE_CODES:
            return f"%{code} is not a date code: {_CODES_TEXT}"
        codes.append(code)
    if not _PART_CODES.intersection(codes):
        return "names no part of a date: give a day, month or year, e.g. %m/%d"
    return None


_CODES_TEXT = "use " + " ".join(f"%{code}" for code in _DATE_CODES)


def default_order(fmt: str) -> DateOrder:
    """The date order a format writes: day before month is DMY, a year first is YMD,
    else MDY (also when the format has no day or no month)."""
    positions: dict[str, int] = {}
    for match in CODE.finditer(fmt):
        code = (match.group(1) or "").lstrip("-")
        part = {"d": "D", "m": "M", "b": "M", "B": "M", "y": "Y", "Y": "Y"}.get(code)
        if part is not None:
            positions.setdefault(part, match.start())
    if "D" in positions and "M" in positions and positions["D"] < positions["M"]:
        return "DMY"
    if "Y" in positions and positions["Y"] == min(positions.values()) and len(positions) > 1:
        return "YMD"
    return "MDY"
