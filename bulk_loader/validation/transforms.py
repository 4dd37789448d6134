"""Value transforms a template asks for: a phone split into its calling code and number,
a country as its ISO code, a full name or a Mailchimp address split into lead fields.

Each transform either understands a value or leaves it alone. What it cannot read is
sent as the cell has it and the cell gets a warning: a Problem whose code is a warning,
which notes the cell and still sends the row. Nothing here raises on a cell's content.

- phone: read with phonenumbers (Google's libphonenumber rules). A number written with
  its code (`+1 (415) 555-0100`, `tel:+14155550105`, `0044 20 7946 0005`) is read as
  is; one without is read in the row's country (the country cell, a name or a code),
  else the template's `region`. Kartra gets `phone_country_code` "+1" and `phone`, the
  national significant number "4155550100" (an extension follows as " ext. 5"). When
  the template maps phone_country_code and the row fills it, that code stays and the
  phone is read in it.
- country: countries.country_code ("United States", "usa", "DEU" -> "US").
- name: "John Smith" -> first_name John, last_name Smith; "Smith, John Paul" -> John
  Paul / Smith; one word is a first_name.
- address, format "mailchimp": Mailchimp's one-cell address, parts separated by two
  spaces: `street  [line 2]  city  state  zip  country` -> address ("street, line 2"),
  city, state, zip, country (as its ISO code). Anything else is sent whole as address.
- date (`date = "%m/%d"` on a text custom field): the cell read as a date and sent in
  that format (dates.py; the validator's converter sends it); a cell that is no date is
  noted here (date_not_read). Any other mapped column whose XLSX cell the spreadsheet
  stores as a date (a `DateText`: `12/01` typed or imported became 2026-12-01) is noted
  too (cell_is_a_date): it is sent as the date's ISO text, which is seldom what was meant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bulk_loader.outcomes import Problem, ProblemCode
from bulk_loader.sheets.excel_text import DateText
from bulk_loader.template.fields import SPLITS, TEXT_TYPES
from bulk_loader.template.model import CustomFieldMap, Template, key_text
from bulk_loader.validation.checks import MAX_LENGTH, Check
from bulk_loader.validation.countries import country_code
from bulk_loader.validation.dates import send_date

if TYPE_CHECKING:
    import pandas as pd
    from phonenumbers import PhoneNumber

__all__ = [
    "Phone",
    "RowTransforms",
    "read_phone",
    "split_address",
    "split_checks",
    "split_name",
]

# What a phone cell may hold to be read: digits, the signs people write between them, a
# leading tel: and a trailing extension. Anything else (words, two numbers split by a
# comma, a vanity number's letters) is left as written; so is what libphonenumber then
# cannot read (two numbers split by a slash or a space).
_SEPARATORS = r"\s+()./\-\u2010-\u2015\u2212"
_PHONE_TEXT = re.compile(
    rf"(?:tel:)?[{_SEPARATORS}]*\d[\d{_SEPARATORS}]*"
    r"(?:(?:\s*(?:ext\.?|extension|x|#)\s*|;ext=)\d{1,10})?",
    re.IGNORECASE,
)
MAX_PHONE_TEXT = 100
# A calling code as the phone_country_code cell may hold it: +40, 40 or 0040.
_CALLING_CODE = re.compile(r"(?:\+|00)?([1-9][0-9]{0,3})")
# Mailchimp separates the parts of its address with two spaces.
MAILCHIMP_SEPARATOR = "  "


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone as Kartra gets it: `code` "+1" and `phone` "4155550100"; or, when the
    cell could not be read, `phone` as written, no `code` and a `warning` saying why."""

    phone: str
    code: str | None = None
    warning: str | None = None


def _as_written(value: str, why: str) -> Phone:
    return Phone(value, None, f"{value!r} {why}; sent as written")


def _calling_code(cell: str | None) -> int | None:
    match = _CALLING_CODE.fullmatch(cell.strip()) if cell else None
    return int(match.group(1)) if match else None


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    import phonenumbers

    try:
        return phonenumbers.parse(text, region)
    except Exception:  # any failure of the rules on a cell means "not read", never a crash
        return None


@lru_cache(maxsize=4096)
def read_phone(value: str, region: str | None = None, code: str | None = None) -> Phone:
    """`value` read as a phone number.

    `region`: the ISO country a number written without its code is read in. `code`: the
    row's phone_country_code cell, when filled: the number is read in that code, and
    one written with another code is left as written.
    """
    import phonenumbers

    text = value.strip()
    # libphonenumber reads 250 characters at most; the length also bounds the pattern.
    if len(text) > MAX_PHONE_TEXT or not _PHONE_TEXT.fullmatch(text):
        return _as_written(value, "is not written as a phone number")
    wanted = _calling_code(code)
    if wanted is not None:
        own = phonenumbers.region_code_for_country_code(wanted)
        region = own if own not in ("ZZ", "001") else None
        if region is None and not text.startswith(("+", "00", "tel:")):
            text = f"+{wanted} {text}"  # a code that is no one country's (+800)
    elif region is None and text.startswith("00"):
        text = "+" + text[2:]  # the international prefix of most of the world
    number = _parse(text, region)
    if number is not None and wanted is None:
        number = _plus_lost(text, number)
    if number is None:
        if region is None and not text.startswith(("+", "tel:+")):
            return _as_written(value, "has no country code (+...) and no country to read it in")
        return _as_written(value, "could not be read as a phone number")
    if wanted is not None and number.country_code != wanted:
        return _as_written(
            value, f"has the code +{number.country_code}, not the row's phone_country_code"
        )
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        result = phonenumbers.ValidationResult
        why = {
            result.TOO_SHORT: "is too short",
            result.TOO_LONG: "is too long",
            result.IS_POSSIBLE_LOCAL_ONLY: "lacks its area code",
        }.get(reason, "is not a possible length")
        return _as_written(value, f"{why} for a phone number of +{number.country_code}")
    national = phonenumbers.national_significant_number(number)
    if number.extension:
        national += f" ext. {number.extension}"
    return Phone(national, f"+{number.country_code}")


def _plus_lost(text: str, number: Any) -> Any:
    """The number a spreadsheet app stored as digits, its + lost (`+4915112345678` became
    4915112345678): when read in its country it is no valid number, but with a + before
    it, it is one of that very country. Anything else is left as it was read."""
    import phonenumbers

    digits = "".join(ch for ch in text if ch.isdigit())
    if text.lstrip().startswith(("+", "0")) or phonenumbers.is_valid_number(number):
        return number
    if not digits.startswith(str(number.country_code)):
        return number
    plus = _parse("+" + digits, None)
    if plus is None or plus.country_code != number.country_code:
        return number
    return plus if phonenumbers.is_valid_number(plus) else number


def split_name(value: str) -> dict[str, str]:
    """first_name and last_name from a full name: the first word and the rest, or with a
    comma ("Smith, John") the part after it and the part before. One word (or one side
    of a comma) is a first_name alone."""
    text = " ".join(value.split())
    if "," in text:
        last, _, first = (part.strip() for part in text.partition(","))
        if last and first:
            return {"first_name": first, "last_name": last}
        text = last or first
    first, _, rest = text.partition(" ")
    if not first:
        return {}
    return {"first_name": first, "last_name": rest} if rest else {"first_name": first}


def split_address(value: str) -> dict[str, str] | None:
    """address, city, state, zip and country from a Mailchimp address; None when the
    cell is not one: 5 or 6 parts separated by two spaces (the second street line is
    optional), a street first and a country (name or code) last."""
    parts = [part.strip() for part in value.strip().split(MAILCHIMP_SEPARATOR)]
    if len(parts) not in (5, 6) or not parts[0]:
        return None
    country = country_code(parts[-1])
    if country is None:
        return None
    city, state, zip_code = parts[-4:-1]
    fields = {
        "address": ", ".join(part for part in parts[:-4] if part),
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": country,
    }
    return {name: text for name, text in fields.items() if text}


def _not_an_address(value: str) -> str:
    return (
        f"{value!r} is not a Mailchimp address (street  [line 2]  city  state  zip  country, "
        "two spaces between the parts); sent whole as address"
    )


def _split(kind: str, value: str) -> tuple[dict[str, str], str | None]:
    """The fields one cell of a split column fills, and the warning if it did not fit."""
    if kind == "name":
        return split_name(value), None
    parts = split_address(value)
    if parts is None:
        return {"address": value.strip()}, _not_an_address(value)
    return parts, None


def split_checks(kind: str) -> list[Check]:
    """The checks of a split column: no field it fills over Kartra's 255 characters."""

    def fits(value: str) -> bool:
        return all(len(text) <= MAX_LENGTH for text in _split(kind, value)[0].values())

    def explain(value: str) -> str:
        fields = _split(kind, value)[0]
        long = [f"{name} {len(text)}" for name, text in fields.items() if len(text) > MAX_LENGTH]
        return f"{', '.join(long)} characters; Kartra keeps at most {MAX_LENGTH}"

    cached = lru_cache(4096)(fits)

    def test(column: pd.Series[str]) -> pd.Series[bool]:
        return column.map(cached).astype(bool)

    return [Check(ProblemCode.TOO_LONG, test, explain)]


@dataclass(frozen=True, slots=True)
class _Cell:
    index: int
    header: str


# What a date cell in a column without a date format is told to do.
_AS_TEXT = (
    "if it is text (such as 12/01), format the column as Text in the spreadsheet and "
    "type it again, or load the original CSV export, which holds the text"
)


def _date_key_hint(spec: CustomFieldMap) -> str:
    where = f"[custom_fields.{key_text(spec.identifier)}]"
    return (
        f'if the column holds dates, name the format to send them in: date = "%m/%d" in '
        f"{where} (strftime codes); if it is text, format the column as Text in the "
        "spreadsheet and type it again"
    )


class RowTransforms:
    """The transforms and splits of a template, bound to a sheet's columns.

    `bound` maps each dotted template key the sheet has ("fields.phone",
    "split.name.column") to its column's index and header.
    """

    def __init__(self, template: Template, bound: Mapping[str, tuple[int, str]]) -> None:
        def cell(key: str) -> _Cell | None:
            found = bound.get(key)
            return _Cell(*found) if found else None

        self.clear = template.clear
        kinds = {name: spec.kind for name, spec in template.transforms.items()}
        phone = template.transforms.get("phone")
        self.phone = cell("fields.phone") if kinds.get("phone") == "phone" else None
        self.region = phone.region if phone else None
        self.code = cell("fields.phone_country_code")
        self.country = cell("fields.country")
        self.country_transform = kinds.get("country") == "country"
        self.splits = [
            (split.kind, found)
            for split in template.splits
            if (found := cell(f"split.{split.kind}.column")) is not None
        ]
        self.active = bool(self.phone or self.splits or (self.country and self.country_transform))
        self.dates: list[tuple[_Cell, CustomFieldMap]] = []
        dated: set[int] = set()  # columns some key reads as dates: never noted as one
        for spec in template.custom_fields:
            found = cell(f"custom_fields.{key_text(spec.identifier)}.column")
            if found is not None and spec.date is not None:
                self.dates.append((found, spec))
                dated.add(found.index)
        # Every other mapped column, and the advice its date cells get (one per column).
        advice: dict[int, tuple[_Cell, str]] = {}
        customs = {
            f"custom_fields.{key_text(c.identifier)}.column": c for c in template.custom_fields
        }
        for key, (index, header) in bound.items():
            if index in dated:
                continue
            text = customs.get(key)
            if text is not None and text.type in TEXT_TYPES:
                hint = _date_key_hint(text)
            elif index in advice:
                continue
            else:
                hint = _AS_TEXT
            advice[index] = (_Cell(index, header), hint)
        self.date_cells = list(advice.values())

    def _value(self, cells: Sequence[str], cell: _Cell | None) -> str:
        """The trimmed cell; the clear marker counts as empty."""
        value = cells[cell.index].strip() if cell is not None else ""
        return "" if value == self.clear else value

    def _date_notes(self, row: int, cells: Sequence[str]) -> list[Problem]:
        """Warnings on dates: a date field's cell that is no date; another mapped cell
        that the spreadsheet stores as a date."""
        noted: list[Problem] = []
        for cell, spec in self.dates:
            value = self._value(cells, cell)
            if value and spec.date is not None:
                warning = send_date(value, spec.date, spec.date_order or "MDY").warning
                if warning is not None:
                    written = str(cells[cell.index])
                    code = ProblemCode.DATE_NOT_READ
                    noted.append(Problem(row, cell.header, written, code, warning))
        if self.date_cells and DateText in map(type, cells):  # XLSX date cells only
            for cell, hint in self.date_cells:
                found = cells[cell.index]
                if type(found) is DateText:
                    message = (
                        f"the spreadsheet stores this cell as a date, so it is sent as "
                        f"{str(found)!r}; {hint}"
                    )
                    noted.append(
                        Problem(row, cell.header, str(found), ProblemCode.CELL_IS_A_DATE, message)
                    )
        return noted

    def apply(self, row: int, cells: Sequence[str]) -> tuple[dict[str, str], list[Problem]]:
        """The payload fields the transforms set for one row, and the row's warnings."""
        noted = self._date_notes(row, cells) if self.dates or self.date_cells else []
        if not self.active:
            return {}, noted
        out: dict[str, str] = {}

        def note(cell: _Cell, code: ProblemCode, message: str) -> None:
            noted.append(Problem(row, cell.header, cells[cell.index], code, message))

        for kind, cell in self.splits:
            value = cells[cell.index].strip()
            if not value:
                continue
            if value == self.clear:
                out.update(dict.fromkeys(SPLITS[kind], ""))  # the marker clears them all
                continue
            fields, warning = _split(kind, value)
            out.update(fields)
            if warning:
                note(cell, ProblemCode.ADDRESS_NOT_SPLIT, warning)
        country = self._value(cells, self.country)
        if "country" in out:  # the split's country wins; the mapped column is its fallback
            country = ""
        if country and self.country is not None and self.country_transform:
            code = country_code(country)
            if code is not None:
                out["country"] = code
            else:
                message = f"{country!r} is not a country name or ISO code; sent as written"
                note(self.country, ProblemCode.COUNTRY_NOT_RECOGNISED, message)
        phone = self._value(cells, self.phone)
        if phone and self.phone is not None:
            written = out.get("country") or country  # the country the lead is sent with
            region = (country_code(written) if written else None) or self.region
            # A filled phone_country_code stays (the clear marker too: it is meant).
            code_filled = bool(self.code is not None and cells[self.code.index].strip())
            read = read_phone(phone, region, self._value(cells, self.code) or None)
            out["phone"] = read.phone
            if read.code and not code_filled:
                out["phone_country_code"] = read.code
            if read.warning:
                note(self.phone, ProblemCode.PHONE_NOT_PARSED, read.warning)
        return out, noted
