"""The checks one cell must pass, each with a stable problem code and a message.

Each check is a vectorised test over a column of trimmed text (True = fine) plus a
function that explains a failing value. Empty cells always pass (they are not sent);
the template's clear marker passes wherever clearing makes sense. bulk_loader.validation.validator
turns these into a pandera schema and the problems into `report.Problem` values.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from bulk_loader.outcomes import ProblemCode
from bulk_loader.template.fields import CHOICE_TYPES
from bulk_loader.template.model import CustomFieldMap
from bulk_loader.validation.time_zones import kartra_zones, map_time_zone

__all__ = [
    "MAX_LENGTH",
    "Check",
    "action_checks",
    "closest_time_zone",
    "custom_field_checks",
    "field_checks",
    "normalise_email",
    "resolve_options",
    "split_values",
    "time_zones",
]

MAX_LENGTH = 255  # Kartra keeps at most 255 characters per field

# Pragmatic, not RFC 5322: one @, no empty or doubled dots, a domain of labels and a TLD.
# Unicode letters are allowed (IDN domains); quoted local parts are not.
EMAIL_RE = (
    r"^(?!\.)(?!.*\.\.)[\w.!#$%&'*+/=?^`{|}~-]{1,64}(?<!\.)@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})$"
)
ID_RE = r"^[0-9]{1,20}$"
NUMBER_RE = r"^[0-9]{1,20}$"
# +40, 40, or 0040 (the international prefix); codes never start with 0.
COUNTRY_CODE_RE = r"^(?:\+|00)?[1-9][0-9]{0,3}$"
URL_RE = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#.][^\s]*$"
URL_FIELDS = ("website", "lead_picture", "facebook", "twitter", "linkedin")

Test = Callable[["pd.Series[str]"], "pd.Series[bool]"]


@dataclass(frozen=True)
class Check:
    """One rule for one column: `test` marks fine values True; `explain` words a failure."""

    code: ProblemCode
    test: Test
    explain: Callable[[str], str]


def time_zones() -> tuple[str, ...]:
    """The 76 values Kartra accepts for lead_preferred_time_zone, exactly as spelled."""
    return kartra_zones()


def closest_time_zone(value: str) -> str | None:
    """The Kartra time zone for `value`: the one it is sent as when it has one (Europe/Paris
    -> Europe/Brussels, the same UTC offsets), else the one its problem suggests
    (bulk_loader.validation.time_zones says how)."""
    match = map_time_zone(value)
    return match.kartra or match.suggestion


def normalise_email(value: str) -> str:
    """Trimmed, with the domain lower-cased (the local part is the owner's business)."""
    local, _, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def split_values(cell: str, separator: str) -> list[str]:
    """Names or labels in one cell: split, trimmed, empty ones and repeats dropped.

    Quotes are understood with any one-character separator: the cell is read as one CSV
    record, so `"Webinar 2026", "Customer"` (a Mailchimp export) holds two names and
    `"A, B", C` keeps `A, B` whole. A cell whose quotes do not pair up, or that breaks a
    line outside quotes, is split plainly with its quotes kept: never an error.
    """
    parts = _split_cell(cell, separator)
    return list(dict.fromkeys(part.strip() for part in parts if part.strip()))


def _split_cell(cell: str, separator: str) -> list[str]:
    if '"' not in cell or len(separator) != 1 or separator == '"' or separator.isspace():
        return cell.split(separator)
    if cell.count('"') % 2:  # unbalanced: csv would swallow the rest of the cell
        return cell.split(separator)
    try:
        reader = csv.reader([cell], delimiter=separator, skipinitialspace=True, strict=False)
        return next(reader, [])
    except csv.Error:  # a line break outside quotes; a field over csv's size limit
        return cell.split(separator)


def resolve_options(labels: list[str], options: Mapping[str, int]) -> tuple[list[int], list[str]]:
    """Option ids for labels (case-insensitive) or ids as digits; and the unknown ones."""
    ids = set(options.values())
    found: list[int] = []
    unknown: list[str] = []
    for label in labels:
        key = label.casefold()
        if key in options:
            found.append(options[key])
        elif label.isdigit() and int(label) in ids:
            found.append(int(label))
        else:
            unknown.append(label)
    return found, unknown


def _fine(series: pd.Series[str], clear: str | None) -> pd.Series[bool]:
    """Cells that no format check applies to: empty, or the clear marker."""
    empty = series.eq("")
    return empty | series.eq(clear) if clear else empty


def _matches(pattern: str, clear: str | None) -> Test:
    return lambda s: _fine(s, clear) | s.str.fullmatch(pattern).fillna(False).astype(bool)


def _each(ok: Callable[[str], bool], clear: str | None) -> Test:
    """An element-wise test, cached by value: sheets repeat the same labels a lot."""
    cached = lru_cache(4096)(ok)
    return lambda s: _fine(s, clear) | s.map(cached).astype(bool)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _too_long() -> Check:
    return Check(
        ProblemCode.TOO_LONG,
        lambda s: s.str.len().le(MAX_LENGTH).fillna(True).astype(bool),
        lambda v: f"{len(v.strip())} characters; Kartra keeps at most {MAX_LENGTH}",
    )


_SPELLED_AT = re.compile(r"\s*[\[(]?\s*\bat\b\s*[\])]?\s*", re.IGNORECASE)
_SPELLED_DOT = re.compile(r"\s*[\[(]\s*dot\s*[\])]\s*", re.IGNORECASE)


def _email_message(value: str) -> str:
    """Why the address is refused, with the address it was likely meant to be."""
    message = f"{value!r} is not a valid email address"
    text = value.strip()
    if "@" not in text:  # 'ana at example.com', 'ana [at] example [dot] com'
        guess = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", text, count=1))
        if guess != text and re.fullmatch(EMAIL_RE, guess):
            return f"{message} (did you mean '{guess}'?)"
    return message


def _time_zone_message(value: str) -> str:
    return f"{value!r} is not one of Kartra's 76 time zones; {map_time_zone(value).why}"


def _maps_to_a_kartra_zone(value: str) -> bool:
    return map_time_zone(value).kartra is not None


def field_checks(name: str, required: str | None, clear: str | None) -> list[Check]:
    """Checks for a standard lead field; `required` names the mode that needs it, if any."""
    checks: list[Check] = []
    if required:
        code = ProblemCode.MISSING_ID if name == "id" else ProblemCode.MISSING_EMAIL
        what = "a lead id" if name == "id" else "an email"
        checks.append(Check(code, lambda s: s.ne(""), lambda _v: f"{required} needs {what}"))
    if name in ("email", "new_email"):
        checks.append(
            Check(
                ProblemCode.INVALID_EMAIL,
                _matches(EMAIL_RE, None),
                _email_message,
            )
        )
    elif name == "id":
        checks.append(
            Check(
                ProblemCode.INVALID_ID,
                _matches(ID_RE, None),
                lambda v: "a lead id is a whole number",
            )
        )
    elif name == "lead_preferred_time_zone":
        # Any clock Kartra has an equal of is fine: it is sent as that zone (time_zones.py).
        known = _each(_maps_to_a_kartra_zone, clear)
        checks.append(Check(ProblemCode.UNKNOWN_TIME_ZONE, known, _time_zone_message))
    elif name == "ip":
        checks.append(
            Check(
                ProblemCode.INVALID_IP,
                _each(_is_ip, clear),
                lambda v: f"{v!r} is not an IPv4/IPv6 address",
            )
        )
    elif name in URL_FIELDS:
        checks.append(
            Check(
                ProblemCode.INVALID_URL,
                _matches(URL_RE, clear),
                lambda v: "a web address starting with https:// or http://",
            )
        )
    elif name == "phone_country_code":
        message = "a country calling code such as +40 or +1"
        checks.append(
            Check(
                ProblemCode.INVALID_PHONE_COUNTRY_CODE,
                _matches(COUNTRY_CODE_RE, clear),
                lambda v: message,
            )
        )
    elif name == "business_type":
        message = "business type is a number"
        checks.append(
            Check(ProblemCode.INVALID_BUSINESS_TYPE, _matches(NUMBER_RE, clear), lambda v: message)
        )
    checks.append(_too_long())
    return checks


# Points: a whole number, + (or no sign) gives, - takes away; 0 does nothing.
POINTS_RE = r"^[+-]?[0-9]{1,9}$"
STEP_RE = r"^0*[1-9][0-9]{0,5}$"


def action_checks(target: str) -> list[Check]:
    """Checks for the points column, and the sequence's name and step columns."""
    if target == "points":
        message = "points are a whole number: 10 (or +10) gives 10 points, -10 takes 10 away"
        return [Check(ProblemCode.INVALID_POINTS, _matches(POINTS_RE, None), lambda v: message)]
    if target == "sequence_step":
        message = "a sequence step is a whole number, 1 or more"
        return [Check(ProblemCode.INVALID_STEP, _matches(STEP_RE, None), lambda v: message)]
    return [_too_long()]


def custom_field_checks(spec: CustomFieldMap, clear: str | None) -> list[Check]:
    """Checks for a custom field: known options for choices, length for text."""
    if spec.type not in CHOICE_TYPES:
        return [_too_long()]
    if spec.options is None:
        return []  # labels are checked against the account before sending
    options = spec.options
    separator = spec.separator if spec.type == "checkbox" else None

    def known(value: str) -> bool:
        labels = split_values(value, separator) if separator else [value]
        return not resolve_options(labels, options)[1]

    def explain(value: str) -> str:
        labels = split_values(value, separator) if separator else [value.strip()]
        unknown = ", ".join(repr(v) for v in resolve_options(labels, options)[1])
        if separator is None and len(split_values(value, ";")) > 1:
            unknown = f"{value.strip()!r} (a {spec.type} takes one option)"
        return f"{unknown}: not an option of {spec.identifier} ({', '.join(options)})"

    return [Check(ProblemCode.UNKNOWN_OPTION, _each(known, clear), explain)]
