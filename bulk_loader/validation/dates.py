"""Dates a template names a format for: a cell read as a date and sent in that format.

`[custom_fields.birthday] date = "%m/%d"`: Mailchimp's birthday is `MM/DD` text, and a
spreadsheet that opened the CSV turns `12/01` into a date; the XLSX reader gives a date
cell as ISO text (`2026-12-01`, excel_text.py), so every cell arrives as text and is read
here. What is read:

- a year first: `2026-12-01`, `2026/12/1`, `2026.12.01`, with a time after it or not
  (`2026-12-01 14:30:00`, `2026-12-01T14:30`; the time is dropped);
- numbers split by `/`, `-` or `.`: two are month and day (`12/01`), three hold a year
  last (`12/1/2026`, `12/1/26`); which comes first follows the date order: `MDY`
  month/day/year, `DMY` day/month/year, `YMD` a two-digit year first (`26/12/01`) and
  otherwise month before day. The order is strict: with `MDY`, `13/04` is not a date;
- an English month name, in full or its first three letters (`Sept` too), with the day
  before or after it and a year or not: `1-Dec`, `1 Dec 2026`, `Dec 1`, `December 1st,
  2026`, `2026-Dec-01`; a weekday before it (`Tuesday, December 1, 2026`) must be the
  date's own;
- a two-digit year is 2000-2029 for 00-29 and 1930-1999 for 30-99, as Excel reads them.

A cell read otherwise, a day the month does not have, or a date without a year for a
format that needs one (`%Y`, `%y`, `%a`, `%A`, `%j`) is not a date: it is sent as
written, and the caller notes the cell. Nothing here raises on a cell's content.

The format uses strftime's codes, written out here rather than by the C library so
that names are English whatever the locale and `%-d` works everywhere: `%d` `%-d`
day, `%m` `%-m` month, `%b` `%B` month name, `%y` `%Y` year, `%a` `%A` weekday, `%j`
`%-j` day of the year, `%%` a percent sign; any other character is sent as it is.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from bulk_loader.template.date_format import (
    CODE,
    DATE_ORDERS,
    MAX_DATE_FORMAT,
    YEAR_CODES,
    DateOrder,
    date_format_problem,
    default_order,
)

__all__ = [
    "DATE_ORDERS",
    "MAX_DATE_FORMAT",
    "DateOrder",
    "Reading",
    "SentDate",
    "date_format_problem",
    "default_order",
    "format_date",
    "read_date",
    "send_date",
]

# Longer text is no date this module reads; it also bounds the work per cell.
MAX_DATE_TEXT = 60

_ENGLISH_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_ENGLISH_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = {name.casefold(): number for number, name in enumerate(_ENGLISH_MONTHS, start=1)}
_MONTHS.update({name[:3]: number for name, number in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_WEEKDAYS = {name.casefold(): day for day, name in enumerate(_ENGLISH_WEEKDAYS)}
_WEEKDAYS.update({name[:3]: day for name, day in list(_WEEKDAYS.items())})
_WEEKDAYS.update({"tues": 1, "thur": 3, "thurs": 3})

_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:\s*[ap]\.?m\.?)?(?:z|[+-]\d{2}(?::?\d{2})?)?"
_NUMERIC = re.compile(
    rf"(\d{{1,4}})([/.-])(\d{{1,2}})(?:\2(\d{{1,4}}))?(?:(?:t|\s+)({_TIME}))?", re.ASCII
)
_TIME_PARTS = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([ap])?", re.ASCII)
_WORD = re.compile(r"[a-z]+|\d{1,4}(?:st|nd|rd|th)?", re.ASCII)
_BETWEEN_WORDS = re.compile(r"[\s,./-]+")
_ORDINAL = re.compile(r"(\d{1,2})(st|nd|rd|th)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class Reading:
    """A date read from a cell: `year` None when the cell gave none (`12/01`)."""

    year: int | None
    month: int
    day: int


@dataclass(frozen=True, slots=True)
class SentDate:
    """What a date cell sends: `text` in the format, or the cell as written and a
    `warning` saying why."""

    text: str
    warning: str | None = None


def _year(text: str) -> int | None:
    """A year written with 4 digits, or 2 (as Excel reads them: 00-29 is 20xx)."""
    if len(text) == 4:
        year = int(text)
        return year if year >= 1 else None
    if len(text) == 2:
        two = int(text)
        return 2000 + two if two < 30 else 1900 + two
    return None


def _checked(year: int | None, month: int, day: int) -> Reading | None:
    """The reading, when the month has that day (year-less: a leap year's months)."""
    if not 1 <= month <= 12 or day < 1:
        return None
    if day > calendar.monthrange(year if year is not None else 2000, month)[1]:
        return None
    return Reading(year, month, day)


def _clock(text: str | None) -> bool:
    """A time after a date is dropped, but it must be one: 14:30, 2:30 pm, 14:30:00Z."""
    if text is None:
        return True
    match = _TIME_PARTS.match(text)
    if match is None:
        return False
    hour, minute, second, half = match.groups()
    top = 12 if half else 23
    return int(hour) <= top and int(minute) <= 59 and int(second or 0) <= 59


def _numeric(text: str, order: DateOrder) -> Reading | None:
    match = _NUMERIC.fullmatch(text)
    if match is None:
        return None
    first, _, second, third, clock = match.groups()
    if third is None:  # month and day, or day and month
        if len(first) > 2 or clock is not None:
            return None
        a, b = int(first), int(second)
        return _checked(None, *((b, a) if order == "DMY" else (a, b)))
    if not _clock(clock):
        return None
    if len(first) == 4:  # a year first is always year, month, day
        year = _year(first)
        return _checked(year, int(second), int(third)) if year and len(third) <= 2 else None
    if len(first) > 2:
        return None
    if order == "YMD" and len(first) == 2 and len(third) <= 2:  # 26/12/01
        return _checked(_year(first), int(second), int(third))
    year = _year(third)  # 4 or 2 digits
    if year is None:
        return None
    a, b = int(first), int(second)
    return _checked(year, *((b, a) if order == "DMY" else (a, b)))


def _named(text: str) -> Reading | None:
    """A date with a month name: 1-Dec, Dec 1, December 1st, 2026, 2026-Dec-01."""
    if not (text[0].isalnum() and text.rstrip(".")[-1:].isalnum()):
        return None
    words = [word for word in _BETWEEN_WORDS.split(text) if word]
    if not all(_WORD.fullmatch(word) for word in words):
        return None
    weekday = _WEEKDAYS.get(words[0])
    if weekday is not None:
        words = words[1:]
    months = [at for at, word in enumerate(words) if word in _MONTHS]
    if len(words) not in (2, 3) or len(months) != 1:
        return None
    at = months[0]
    month = _MONTHS[words[at]]
    rest = words[:at] + words[at + 1 :]
    if not all(word[0].isdigit() for word in rest):
        return None
    year_text: str | None = None
    if len(rest) == 1:  # Dec 1, 1-Dec
        day_text = rest[0]
    elif at == 1 and len(rest[0]) == 4:  # 2026-Dec-01
        year_text, day_text = rest
    elif at in (0, 1):  # Dec 1, 2026 and 1-Dec-2026
        day_text, year_text = rest
    else:
        return None
    day = _ORDINAL.fullmatch(day_text)
    year = _year(year_text) if year_text is not None and year_text.isdigit() else None
    if day is None or (year_text is not None and year is None):
        return None
    reading = _checked(year, month, int(day.group(1)))
    if reading is None or weekday is None:
        return reading
    if reading.year is None or date(reading.year, reading.month, reading.day).weekday() != weekday:
        return None  # a weekday that is not the date's: which of them is meant?
    return reading


def read_date(value: str, order: DateOrder = "MDY") -> Reading | None:
    """The date `value` holds (see the module docstring), or None."""
    text = value.strip().casefold()
    if not text or len(text) > MAX_DATE_TEXT:
        return None
    if text[0].isdigit():
        numeric = _numeric(text, order)
        if numeric is not None:
            return numeric
    return _named(text)


def _needs_year(fmt: str) -> bool:
    return any((m.group(1) or "") in YEAR_CODES for m in CODE.finditer(fmt))


def format_date(reading: Reading, fmt: str) -> str:
    """`reading` written in `fmt` (a format `date_format_problem` accepts). A code that
    needs the year, for a reading without one, is left as written."""

    def code(match: re.Match[str]) -> str:
        found = match.group(1) or ""
        year, month, day = reading.year, reading.month, reading.day
        if found in ("d", "-d"):
            return f"{day:02d}" if found == "d" else str(day)
        if found in ("m", "-m"):
            return f"{month:02d}" if found == "m" else str(month)
        if found in ("b", "B"):
            name = _ENGLISH_MONTHS[month - 1]
            return name[:3] if found == "b" else name
        if found == "%":
            return "%"
        if year is None:
            return match.group(0)
        moment = date(year, month, day)
        if found == "Y":
            return f"{year:04d}"
        if found == "y":
            return f"{year % 100:02d}"
        if found in ("a", "A"):
            name = _ENGLISH_WEEKDAYS[moment.weekday()]
            return name[:3] if found == "a" else name
        if found in ("j", "-j"):
            day_of_year = moment.timetuple().tm_yday
            return f"{day_of_year:03d}" if found == "j" else str(day_of_year)
        return match.group(0)

    return CODE.sub(code, fmt)


_ORDER_WORDS = {"MDY": "month/day/year", "DMY": "day/month/year", "YMD": "year/month/day"}


@lru_cache(maxsize=4096)
def send_date(value: str, fmt: str, order: DateOrder = "MDY") -> SentDate:
    """What a cell of a column with date format `fmt` sends: the date it holds in that
    format, or the cell as written with a warning saying why."""
    reading = read_date(value, order)
    if reading is None:
        shaped = _NUMERIC.fullmatch(value.strip().casefold()) is not None
        why = f"is not a {_ORDER_WORDS[order]} date (date_order {order})" if shaped else ""
        return SentDate(value, f"{value!r} {why or 'is not a date'}; sent as written")
    if reading.year is None and _needs_year(fmt):
        why = f"has no year, and the date format {fmt!r} needs one"
        return SentDate(value, f"{value!r} {why}; sent as written")
    return SentDate(format_date(reading, fmt))
