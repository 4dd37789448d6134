"""What the Kartra account has, fetched once before the first write, and row checks against it.

Kartra silently drops an unknown custom field and fails a tag or list it does not know
(after saving the lead). Checking every row against the account first turns both into
clear problems before anything is sent, and maps option labels to the account's ids
when the template leaves `options` out.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from bulk_loader.errors import (
    ConfigError,
    KartraFatalError,
    KartraUnavailable,
    TemplateError,
    TemplateProblem,
)
from bulk_loader.kartra.client import CallResult, Outcome, answer_field
from bulk_loader.outcomes import Problem, ProblemCode
from bulk_loader.template.model import Template
from bulk_loader.validation.checks import split_values
from bulk_loader.validation.validator import LeadRow

__all__ = ["AccountSnapshot", "CustomFieldInfo", "fetch_account"]

CHOICE_TYPES = frozenset({"drop_down", "radio_button", "checkbox"})


@dataclass(frozen=True)
class CustomFieldInfo:
    identifier: str
    type: str
    options: Mapping[str, int]  # lower-cased label -> option id


@dataclass(frozen=True)
class AccountSnapshot:
    """Custom fields, tags, lists and sequences of the account, as Kartra listed them."""

    custom_fields: Mapping[str, CustomFieldInfo]
    tags: frozenset[str]
    lists: frozenset[str]
    sequences: frozenset[str] = field(default_factory=frozenset)

    def check(self, row: LeadRow, template: Template) -> tuple[LeadRow, list[Problem]]:
        """The row with option labels mapped to ids, and what the account lacks for it.

        TemplateError if the account lacks a name the template adds to every row: said
        once for the run, before anything is sent, rather than on every row.
        """
        missing = self.template_problems(template)
        if missing:
            raise TemplateError(template.path, missing)
        problems: list[Problem] = []
        columns = {cf.identifier: cf for cf in template.custom_fields}
        fields = []
        for entry in row.lead.get("custom_fields", []):
            identifier = entry["field_identifier"]
            mapped = columns.get(identifier)
            column = mapped.column if mapped else identifier
            value, problem = self._custom_value(row.row, column, identifier, entry["field_value"])
            info = self.custom_fields.get(identifier)
            if mapped and info and info.type != mapped.type:
                message = (
                    f"the template's type for {identifier!r} is not the account's "
                    "(see the note in the summary)"
                )
                problem.append(
                    Problem(row.row, column, _text(value), ProblemCode.CUSTOM_FIELD_TYPE, message)
                )
            problems += problem
            fields.append({"field_identifier": identifier, "field_value": value})
        for name, kind in _NAME_KINDS.items():
            action = template.name_action(name)
            column = action.column if action and action.column else name
            added = action.add if action else ()
            names = tuple(n for n in getattr(row, name) if n not in added)  # checked above
            problems += self.missing_names(row.row, column, kind, names)
        if row.sequence is not None and template.sequence is not None:
            column, name = template.sequence.column, row.sequence[0]
            problems += self.missing_names(row.row, column, "sequence", [name])
        if not fields:
            return row, problems
        return replace(row, lead={**row.lead, "custom_fields": fields}), problems

    def missing_names(
        self, row: int, column: str, kind: str, names: Iterable[str]
    ) -> list[Problem]:
        """A problem for each tag, list or sequence (`kind`) the account does not have."""
        known = {"tag": self.tags, "list": self.lists, "sequence": self.sequences}[kind]
        return [_missing(row, column, kind, name, known) for name in names if name not in known]

    def mapping_notes(self, template: Template) -> list[str]:
        """What the template maps that the account does not have, said once for the run
        (each row holding such a value is invalid and points here), with what the
        account does have and what to do."""
        notes = []
        have = ", ".join(sorted(self.custom_fields)) or "none"
        for mapped in template.custom_fields:
            info = self.custom_fields.get(mapped.identifier)
            key = f"custom_fields.{mapped.identifier}"
            if info is None:
                notes.append(
                    f"{key}: the account has no custom field {mapped.identifier!r} (column "
                    f"{mapped.column!r}); Kartra would drop its values silently, so rows "
                    f"holding one are not sent. The account's custom fields: {have}. "
                    "Map the column to one of them, remove it from the template, or create "
                    "the field in Kartra"
                )
            elif info.type != mapped.type:
                notes.append(
                    f"{key}: the template says type {mapped.type}, the account says "
                    f"{info.type}; rows holding a value are not sent: set "
                    f'type = "{info.type}" in the template'
                )
        return notes

    def template_problems(self, template: Template) -> list[TemplateProblem]:
        """The names the template adds to every row (`add`) that the account lacks."""
        problems = []
        for action_name, kind in _NAME_KINDS.items():
            action = template.name_action(action_name)
            known = self.tags if kind == "tag" else self.lists
            for name in action.add if action else ():
                if name not in known:
                    key = f"actions.{action_name}.add"
                    problems.append(TemplateProblem(key, _unknown_name(kind, name, known)))
        return problems

    def check_cells(self, row: int, cells: Sequence[str], columns: Iterable[Any]) -> list[Problem]:
        """What the account lacks for a row that failed validation, read from its cells.

        Such a row has no payload, yet its person should learn every problem at once:
        the names of tags and lists, and custom fields the account does not have.
        """
        problems: list[Problem] = []
        for column in columns:
            value = cells[column.index].strip() if column.index < len(cells) else ""
            if not value:
                continue
            if column.target in _NAME_KINDS:
                names = split_values(value, column.separator or ";")
                problems += self.missing_names(
                    row, column.header, _NAME_KINDS[column.target], names
                )
            elif column.target == "sequence":
                problems += self.missing_names(row, column.header, "sequence", [value])
            elif column.custom is not None and column.target not in self.custom_fields:
                problems += self._custom_value(row, column.header, column.target, value)[1]
        return problems

    def _custom_value(
        self, row: int, column: str, identifier: str, value: Any
    ) -> tuple[Any, list[Problem]]:
        info = self.custom_fields.get(identifier)
        if info is None:
            message = (
                f"the account has no custom field {identifier!r} (see the note in the summary)"
            )
            return value, [
                Problem(row, column, _text(value), ProblemCode.UNKNOWN_CUSTOM_FIELD, message)
            ]
        if info.type not in CHOICE_TYPES or value == "":
            return value, []
        labels = value if isinstance(value, list) else [value]
        ids: list[Any] = []
        problems = []
        for label in labels:
            option = self._option_id(info, label)
            if option is None:
                known = ", ".join(sorted(info.options)) or "none"
                message = f"{label!r} is not an option of {identifier!r} (options: {known})"
                problems.append(
                    Problem(row, column, str(label), ProblemCode.UNKNOWN_OPTION, message)
                )
            ids.append(option)
        return (ids if isinstance(value, list) else ids[0]), problems

    @staticmethod
    def _option_id(info: CustomFieldInfo, label: Any) -> int | None:
        """An id the template already mapped stays an id; a cell's text is a label first
        (labels may be numbers, such as shoe sizes), then an option id."""
        if not isinstance(label, int):
            by_label = info.options.get(str(label).strip().lower())
            if by_label is not None or not str(label).strip().isdigit():
                return by_label
        return int(label) if int(label) in info.options.values() else None


# The problem for a tag or list (`kind`) the account does not have.
_UNKNOWN_NAME = {
    "tag": ProblemCode.UNKNOWN_TAG,
    "list": ProblemCode.UNKNOWN_LIST,
    "sequence": ProblemCode.UNKNOWN_SEQUENCE,
}
# The actions naming tags or lists (template.fields.NAME_ACTIONS), and what they name.
_NAME_KINDS = {"tags": "tag", "remove_tags": "tag", "lists": "list", "remove_lists": "list"}


def _missing(row: int, column: str, kind: str, name: str, known: frozenset[str]) -> Problem:
    return Problem(row, column, name, _UNKNOWN_NAME[kind], _unknown_name(kind, name, known))


def _unknown_name(kind: str, name: str, known: frozenset[str]) -> str:
    return f"the account has no {kind} {name!r}{_hint(name, known)}; Kartra creates none by API"


# Around a name, these are typing slips, not part of it: "VIP", 'VIP', “VIP”, ` VIP `.
_QUOTES = "\"'\u201c\u201d\u2018\u2019"
_SEPARATORS = (";", ",", "|")


def _loose(name: str) -> str:
    """A name as a slip would leave it: any case, no surrounding quotes or spaces."""
    before = None
    while before != name:
        before, name = name, name.strip().strip(_QUOTES)
    return name.casefold()


@lru_cache(maxsize=8)
def _loosely(known: frozenset[str]) -> dict[str, str]:
    """The account's names by their loose form; the first in sort order where two share it."""
    by_loose: dict[str, str] = {}
    for name in sorted(known):
        by_loose.setdefault(_loose(name), name)
    return by_loose


@lru_cache(maxsize=4096)
def _hint(name: str, known: frozenset[str]) -> str:
    """What the account name probably is: the same but for case, quotes or spaces; the
    names the cell holds when split by another separator; else the closest spelling."""
    by_loose = _loosely(known)
    if _loose(name) in by_loose:
        return f" (did you mean {by_loose[_loose(name)]!r}?)"
    for separator in _SEPARATORS:
        parts = split_values(name, separator)
        if len(parts) > 1 and all(_loose(part) in by_loose for part in parts):
            names = " and ".join(repr(by_loose[_loose(part)]) for part in parts)
            tip = f'for names separated by {separator!r}, set separator = "{separator}"'
            return f" (did you mean {names}? {tip})"
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
    return f" (closest: {close[0]!r})" if close else ""


def _text(value: Any) -> str:
    return ";".join(map(str, value)) if isinstance(value, list) else str(value)


def fetch_account(
    call: Callable[[Callable[[], CallResult]], CallResult],
    client: Any,
    *,
    sequences: bool = False,
) -> AccountSnapshot:
    """Ask Kartra for the account's custom fields, tags and lists (one call each).

    `call` runs a look-up through the run's limiter and retries. A fatal answer stops
    the run before the first row; any other failure is a configuration error.
    """
    host = str(getattr(client, "api_host", ""))
    fields = _listing(call(client.retrieve_custom_fields), "custom_fields", host)
    tags = _listing(call(client.retrieve_account_tags), "account_tags", host)
    lists = _listing(call(client.retrieve_account_lists), "account_lists", host)
    seqs = (
        _listing(call(client.retrieve_account_sequences), "account_sequences", host)
        if sequences
        else []
    )
    return AccountSnapshot(
        custom_fields={info.identifier: info for info in map(_field_info, fields)},
        tags=frozenset(_names(tags, "tag_name")),
        lists=frozenset(_names(lists, "list_name")),
        sequences=frozenset(_names(seqs, "sequence_name")),
    )


# Kartra's own API host: a connection error there is the network's; elsewhere, the
# server the person named (a sandbox, a proxy) is not running.
KARTRA_HOST = "app.kartra.com"
# What to check when Kartra refuses the App's credentials (API-FACTS: fatal types).
_FIXES = {
    "202": "check KARTRA_API_KEY",
    "203": "check KARTRA_API_KEY",
    "233": "check KARTRA_API_PASSWORD",
    "238": "check KARTRA_APP_ID",
    "239": "check KARTRA_APP_ID",
    "242": "Kartra accepts this App's calls only from its allowed IP addresses",
}


def _listing(result: CallResult, key: str, host: str = KARTRA_HOST) -> list[Any]:
    """The list a look-up answered with; a fatal answer stops the run before any write."""
    if result.outcome is Outcome.FATAL:
        fix = _FIXES.get(result.kartra_type or "", "")
        raise KartraFatalError(
            f"Kartra refused the account look-up: {result.message} (type {result.kartra_type})"
            + (f"; {fix}" if fix else ""),
            result.kartra_type,
        )
    value = answer_field(result, key) if result.outcome is Outcome.OK else None
    if not isinstance(value, list):
        hint = ""
        if result.message.startswith("could not connect"):  # nothing reached Kartra
            hint = (
                "; check the network and any proxy (HTTPS_PROXY, --proxy), "
                "or set KARTRA_API_URL for a sandbox"
                if host in (KARTRA_HOST, "")
                else _elsewhere(host)
            )
        passing = result.outcome in (Outcome.TRANSIENT, Outcome.RATE_LIMITED, Outcome.UNKNOWN)
        if passing and not result.message.startswith("could not connect"):
            raise KartraUnavailable(  # a server error: a later run may well get through
                f"could not read the account's {key.replace('_', ' ')}: {result.message}; "
                "nothing was sent: run again later"
            )
        raise ConfigError(
            f"could not read the account's {key.replace('_', ' ')}: "
            f"{result.message or 'no list in the answer'}{hint}"
        )
    return value


def _elsewhere(host: str) -> str:
    """The hint for a server that is not Kartra's own: a local one not running, or a
    name to check."""
    name = host.rsplit(":", 1)[0].strip("[]")
    if name in ("127.0.0.1", "localhost", "::1"):
        return (
            f"; is the server at {host} running? (`bulk-loader sandbox serve` starts a "
            "local sandbox; --api-url or KARTRA_API_URL names it)"
        )
    return (
        f"; check the host name {name!r} in --api-url or KARTRA_API_URL, the network "
        "and any proxy (HTTPS_PROXY, --proxy)"
    )


def _field_info(entry: Mapping[str, Any]) -> CustomFieldInfo:
    options = entry.get("field_value") or []
    if not isinstance(options, list):
        options = []
    return CustomFieldInfo(
        identifier=str(entry.get("field_identifier", "")),
        type=str(entry.get("field_type", "")),
        options={
            str(option.get("option_value", "")).strip().lower(): int(option["option_id"])
            for option in options
            if isinstance(option, Mapping) and str(option.get("option_id", "")).isdigit()
        },
    )


def _names(entries: Any, key: str) -> Iterable[str]:
    """Names as Kartra lists them: plain strings, or objects holding the name."""
    for entry in entries or []:
        yield (
            str(entry.get(key) or entry.get("name") or "")
            if isinstance(entry, Mapping)
            else str(entry)
        )
