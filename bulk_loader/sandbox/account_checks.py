"""Checking an account file's values: the keys each table may hold, what a string, a
whole number, a switch or a list of names must be, and each problem in words that quote
the key and value as the file writes them. A Checker collects every problem, never
stopping at the first; bulk_loader.sandbox.account checks each table with it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from bulk_loader.sandbox.account_model import LEAD_FIELDS

__all__ = [
    "ACCOUNT_KEYS",
    "CREDENTIAL_KEYS",
    "FIELD_KEYS",
    "LEAD_KEYS",
    "TOP_KEYS",
    "AccountProblem",
    "Checker",
    "close_match",
    "key_text",
    "kind_of",
    "shown",
]

TOP_KEYS = ("credentials", "custom_fields", "account", "leads")
CREDENTIAL_KEYS = ("app_id", "api_key", "api_password")
ACCOUNT_KEYS = ("tags", "lists", "sequences", "sequence_steps", "api_active", "app_active",
                "allowed_ips", "forbidden_cmds")  # fmt: skip
FIELD_KEYS = ("type", "options", "field_id")
LEAD_KEYS = (*LEAD_FIELDS, "date_joined", "deleted")
# The table a key belongs in, to say so when it was written in another one.
_HOME = {
    **dict.fromkeys(CREDENTIAL_KEYS, "credentials"),
    **dict.fromkeys(ACCOUNT_KEYS, "account"),
}


@dataclass(frozen=True)
class AccountProblem:
    """One thing wrong in an account file: the key it concerns (dotted, as TOML writes
    it; "" for the whole file) and what is wrong."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def key_text(key: Any) -> str:
    """A key as TOML writes it: bare when it can be, else quoted with escapes (one line)."""
    text = str(key)
    if re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return text
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}")
    out.append('"')
    return "".join(out)


def kind_of(value: Any) -> str:
    """What a TOML value is, in TOML's words: "a string", "an array"..."""
    for types, name in (
        (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
        (Mapping, "a table"), ((list, tuple), "an array"), (datetime, "a date-time"),
        (date, "a date"), (time, "a time"),
    ):  # fmt: skip
        if isinstance(value, types):
            return name
    return type(value).__name__


def shown(value: Any) -> str:
    """A value as a problem quotes it: strings quoted, tables and arrays by their kind."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        return kind_of(value)
    return str(value)


def close_match(word: Any, choices: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Checker:
    """Walks a parsed account file, collecting every problem rather than stopping."""

    def __init__(self) -> None:
        self.problems: list[AccountProblem] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(AccountProblem(key, message))

    def table(self, value: Any, key: str, shape: str = "") -> Mapping[str, Any]:
        if isinstance(value, Mapping):
            return value
        self.problem(key, f"must be a table{shape}, not {kind_of(value)}")
        return {}

    def unknown_keys(
        self, table: Mapping[str, Any], allowed: Sequence[str], where: str, name: str
    ) -> None:
        """Every key of `table` that is not `allowed`, with the likeliest key meant."""
        for key in table:
            if key in allowed:
                continue
            dotted = f"{where}.{key_text(key)}" if where else key_text(key)
            self.problem(dotted, f"not a key of {name}{self.hint(key, allowed, where)}")

    @staticmethod
    def hint(key: Any, allowed: Sequence[str], where: str) -> str:
        """The key meant: a key of another table written here, else a near spelling."""
        misplaced = where in ("", "credentials", "account")
        elsewhere = [k for k, home in _HOME.items() if home != where] if misplaced else []
        if key in elsewhere:
            return f" ({key!r} goes under [{_HOME[key]}])"
        close = close_match(key, allowed)
        if close is not None:
            return f" (did you mean {close!r}?)"
        close = close_match(key, elsewhere)
        if close is not None:
            return f" (did you mean {close!r} under [{_HOME[close]}]?)"
        if where.startswith("leads["):
            return " (a lead takes Kartra's plain lead fields, date_joined and deleted)"
        return f" (its keys: {', '.join(allowed)})"

    def text(self, value: Any, key: str, *, line: bool = True) -> str | None:
        """A non-empty string; `line`: on one line, without control characters."""
        if not isinstance(value, str):
            self.problem(key, f"must be a string, not {kind_of(value)}")
            return None
        if not value.strip():
            self.problem(key, "must not be empty")
            return None
        if line and not value.isprintable():
            self.problem(key, "must not hold control characters (a new line, a tab...)")
            return None
        return value

    def whole(self, value: Any, key: str, what: str) -> int | None:
        """An integer of 1 or more."""
        if not _is_whole(value) or value < 1:
            self.problem(key, f"must be {what}, a whole number from 1, not {shown(value)}")
            return None
        return int(value)

    def flag(self, table: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{where}.{key}", f"must be true or false, not {shown(value)}")
            return default
        return value

    def names(self, table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
        """An array of distinct non-empty names; None when absent."""
        if key not in table:
            return None
        value, dotted = table[key], f"{where}.{key}"
        if not isinstance(value, list | tuple):
            self.problem(dotted, f'must be an array of strings, ["...", ...], not {kind_of(value)}')
            return ()
        names: list[str] = []
        first: dict[str, int] = {}
        for number, item in enumerate(value, start=1):
            name = self.text(item, f"{dotted}[{number}]")
            if name is None:
                continue
            if name in first:
                self.problem(f"{dotted}[{number}]", f"{name!r} is also {dotted}[{first[name]}]")
                continue
            first[name] = number
            names.append(name)
        return tuple(names)
