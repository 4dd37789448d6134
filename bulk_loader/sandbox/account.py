"""The sandbox's Kartra account, declared in a TOML file (see samples/account.toml).

Every key the file may hold (anything else is an error, never ignored):

    [credentials]                 required: app_id, api_key, api_password (non-empty strings)
    [custom_fields.IDENTIFIER]    one table per field:
        type                      required: input_field, text_area, drop_down,
                                  radio_button or checkbox
        options                   { label = option id, ... }: required for the choice
                                  types, refused for the text types
        field_id                  the field's id (default: 300 + its position in the file)
    [account]                     optional, and so is each key:
        tags, lists, sequences    arrays of names that exist in the account (default none)
        sequence_steps            { sequence name = number of steps } (default 10 each)
        api_active, app_active    false: every call fails with 204 / 240 (default true)
        allowed_ips               the only caller IPs served, else 242 (default: any)
        forbidden_cmds            cmds the App may not run: 262 (default none)
    [[leads]]                     leads that already exist, one table each:
        email                     required, once per file (case-insensitive)
        first_name, last_name...  Kartra's plain lead fields, as strings
        date_joined               "YYYY-MM-DD HH:MM:SS", Kartra's EST (default 2020-01-15 09:30:00)
        deleted                   true: a deleted lead (default false)

`load_account` reads the file and checks all of it before giving up: AccountError lists
every problem, each with its key (`credentials.api_key: missing`,
`leads[2].date_joined: ...`; entries of arrays are counted from 1).

What an account holds is in account_model, how each value is checked and worded in
account_checks; this module offers the names others use from both.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bulk_loader.errors import InputError
from bulk_loader.sandbox.account_checks import (
    ACCOUNT_KEYS,
    CREDENTIAL_KEYS,
    FIELD_KEYS,
    LEAD_KEYS,
    TOP_KEYS,
    AccountProblem,
    Checker,
    close_match,
    key_text,
    kind_of,
    shown,
)
from bulk_loader.sandbox.account_model import (
    CHOICE_TYPES,
    DATE_FORMAT,
    DEFAULT_SEQUENCE_STEPS,
    FIELD_TYPES,
    LEAD_FIELDS,
    CustomField,
    SandboxAccount,
)

__all__ = [
    "CHOICE_TYPES",
    "DATE_FORMAT",
    "FIELD_TYPES",
    "LEAD_FIELDS",
    "AccountError",
    "AccountProblem",
    "CustomField",
    "SandboxAccount",
    "account_from_dict",
    "load_account",
]


class AccountError(InputError, ValueError):
    """The account file is unusable; `problems` lists everything found, not just the first.

    Also a ValueError, as `account_from_dict` has always raised for a malformed account.
    """

    def __init__(self, path: Path | str | None, problems: Sequence[AccountProblem]) -> None:
        self.path = Path(path) if path is not None else None
        self.problems = tuple(problems)
        name = str(self.path) if self.path else "account file"
        first = str(self.problems[0]) if self.problems else "invalid"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{name}: {first}{more}")


def load_account(path: Path | str) -> SandboxAccount:
    """Read and check an account file; AccountError names the file and every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, FileNotFoundError):
            reason = "no such file"
        elif isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
        else:
            reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise AccountError(
            path, [AccountProblem("", f"cannot read the account file: {reason}")]
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccountError(path, [AccountProblem("", f"not valid TOML: {exc}")]) from exc
    except RecursionError as exc:  # tomllib recurses once per level of [ or {
        problem = AccountProblem("", "not valid TOML: arrays or tables nested too deeply")
        raise AccountError(path, [problem]) from exc
    return account_from_dict(data, path)


def account_from_dict(data: Mapping[str, Any], path: Path | str | None = None) -> SandboxAccount:
    """Build an account from parsed TOML; AccountError (a ValueError) lists every problem."""
    checker = AccountChecker()
    account = checker.account(data)
    if account is None or checker.problems:
        raise AccountError(path, checker.problems or [AccountProblem("", "invalid")])
    return account


# -- checking the file, table by table --------------------------------------------------


def _is_kartra_date(value: Any) -> bool:
    """True for 'YYYY-MM-DD HH:MM:SS' exactly (strptime alone takes "2020-1-5 9:30:00")."""
    if not isinstance(value, str):
        return False
    try:
        return datetime.strptime(value, DATE_FORMAT).strftime(DATE_FORMAT) == value
    except ValueError:
        return False


class AccountChecker(Checker):
    """The account file table by table: every problem noted, the account built if none."""

    def account(self, data: Any) -> SandboxAccount | None:
        if not isinstance(data, Mapping):
            self.problem("", f"must be a table of settings, not {kind_of(data)}")
            return None
        self.unknown_keys(data, TOP_KEYS, "", "the account file")
        credentials = self.credentials(data.get("credentials"))
        custom_fields = self.custom_fields(data.get("custom_fields", {}))
        settings = self.settings(data.get("account", {}))
        leads = self.leads(data.get("leads", []))
        if credentials is None or self.problems:
            return None
        app_id, api_key, api_password = credentials
        return SandboxAccount(
            app_id=app_id,
            api_key=api_key,
            api_password=api_password,
            custom_fields=custom_fields,
            tags=settings["tags"],
            lists=settings["lists"],
            sequences=settings["sequences"],
            leads=leads,
            api_active=settings["api_active"],
            app_active=settings["app_active"],
            allowed_ips=settings["allowed_ips"],
            forbidden_cmds=frozenset(settings["forbidden_cmds"]),
        )

    # -- the tables ---------------------------------------------------------------------

    def credentials(self, raw: Any) -> tuple[str, str, str] | None:
        if raw is None:
            self.problem(
                "credentials", "missing: a [credentials] table with app_id, api_key, api_password"
            )
            return None
        table = self.table(raw, "credentials")
        self.unknown_keys(table, CREDENTIAL_KEYS, "credentials", "[credentials]")
        values: list[str] = []
        for key in CREDENTIAL_KEYS:
            if key not in table:
                if isinstance(raw, Mapping):
                    self.problem(f"credentials.{key}", "missing")
                continue
            value = self.text(table[key], f"credentials.{key}")
            if value is not None:
                values.append(value)
        if len(values) != len(CREDENTIAL_KEYS):
            return None
        return values[0], values[1], values[2]

    def custom_fields(self, raw: Any) -> dict[str, CustomField]:
        table = self.table(raw, "custom_fields", " of fields, [custom_fields.IDENTIFIER]")
        fields: dict[str, CustomField] = {}
        owners: dict[int, tuple[str, bool]] = {}  # field id -> (its field, set in the file)
        for number, (identifier, spec) in enumerate(table.items(), start=1):
            where = f"custom_fields.{key_text(identifier)}"
            if not isinstance(spec, Mapping):
                self.problem(
                    where, f"must be a table (type, options, field_id), not {kind_of(spec)}"
                )
                continue
            self.unknown_keys(spec, FIELD_KEYS, where, "a custom field")
            kind = self.field_type(spec, where)
            options = self.options(spec, where, kind)
            given = "field_id" in spec
            field_id = (
                self.whole(spec["field_id"], f"{where}.field_id", "the field's id")
                if given
                else 300 + number
            )
            if field_id is not None:
                self.unique_field_id(field_id, where, given, owners)
            if kind is not None and options is not None and field_id is not None:
                fields[identifier] = CustomField(field_id, identifier, kind, options)
        return fields

    def field_type(self, spec: Mapping[str, Any], where: str) -> str | None:
        kind = spec.get("type")
        choices = ", ".join(FIELD_TYPES)
        if kind is None:
            self.problem(f"{where}.type", f"missing: one of {choices}")
            return None
        if not isinstance(kind, str) or kind not in FIELD_TYPES:
            close = close_match(kind, FIELD_TYPES) if isinstance(kind, str) else None
            hint = f" (did you mean {close!r}?)" if close else ""
            self.problem(
                f"{where}.type", f"{shown(kind)} is not a field type: one of {choices}{hint}"
            )
            return None
        return kind

    def options(
        self, spec: Mapping[str, Any], where: str, kind: str | None
    ) -> dict[str, int] | None:
        """label -> option id; None when wrong (the problem noted)."""
        key = f"{where}.options"
        raw = spec.get("options")
        if raw is None:
            if kind in CHOICE_TYPES:
                self.problem(
                    key, f"missing: a {kind} needs its options, {{ label = option id, ... }}"
                )
                return None
            return {}
        if not isinstance(raw, Mapping):
            self.problem(key, f"must be a table, {{ label = option id, ... }}, not {kind_of(raw)}")
            return None
        ok = True
        if kind is not None and kind not in CHOICE_TYPES:
            self.problem(key, f"a {kind} has no options (only {', '.join(sorted(CHOICE_TYPES))})")
            ok = False
        elif kind is not None and not raw:
            self.problem(key, f"a {kind} needs at least one option, {{ label = option id, ... }}")
            ok = False
        options: dict[str, int] = {}
        labels: dict[int, str] = {}
        for label, oid in raw.items():
            dotted = f"{key}.{key_text(label)}"
            option_id = self.whole(oid, dotted, "the option's id")
            if option_id is None:
                ok = False
            elif option_id in labels:
                self.problem(
                    dotted, f"option id {option_id} is also {key}.{key_text(labels[option_id])}'s"
                )
                ok = False
            else:
                labels[option_id] = str(label)
                options[str(label)] = option_id
        return options if ok else None

    def unique_field_id(
        self, field_id: int, where: str, given: bool, owners: dict[int, tuple[str, bool]]
    ) -> None:
        if field_id not in owners:
            owners[field_id] = (where, given)
            return
        other, other_given = owners[field_id]
        by_default = "" if other_given else " (by default: 300 + its position in the file)"
        if given:
            self.problem(
                f"{where}.field_id", f"{field_id} is also the field_id of {other}{by_default}"
            )
        else:  # its own default is taken: either may move
            self.problem(
                where,
                f"its field_id by default, 300 + its position = {field_id}, is also the "
                f"field_id of {other}: give one of them another field_id",
            )

    def settings(self, raw: Any) -> dict[str, Any]:
        table = self.table(raw, "account")
        self.unknown_keys(table, ACCOUNT_KEYS, "account", "[account]")
        tags = self.names(table, "tags", "account") or ()
        lists = self.names(table, "lists", "account") or ()
        sequences = self.names(table, "sequences", "account") or ()
        steps = self.sequence_steps(table.get("sequence_steps", {}), sequences)
        return {
            "tags": tags,
            "lists": lists,
            "sequences": {name: steps.get(name, DEFAULT_SEQUENCE_STEPS) for name in sequences},
            "api_active": self.flag(table, "api_active", "account", True),
            "app_active": self.flag(table, "app_active", "account", True),
            "allowed_ips": self.ips(table),
            "forbidden_cmds": self.names(table, "forbidden_cmds", "account") or (),
        }

    def sequence_steps(self, raw: Any, sequences: Sequence[str]) -> dict[str, int]:
        table = self.table(raw, "account.sequence_steps", ", { sequence name = steps, ... }")
        steps: dict[str, int] = {}
        for name, count in table.items():
            key = f"account.sequence_steps.{key_text(name)}"
            if name not in sequences:
                close = close_match(name, sequences)
                hint = f" (did you mean {close!r}?)" if close else ""
                self.problem(key, f"not one of account.sequences{hint}")
            number = self.whole(count, key, "the sequence's number of steps")
            if number is not None:
                steps[name] = number
        return steps

    def ips(self, table: Mapping[str, Any]) -> tuple[str, ...] | None:
        ips = self.names(table, "allowed_ips", "account")
        if ips is None:
            return None
        for number, text in enumerate(table["allowed_ips"], start=1):
            if isinstance(text, str) and text in ips:
                try:
                    ipaddress.ip_address(text)
                except ValueError:
                    self.problem(
                        f"account.allowed_ips[{number}]",
                        f'{text!r} is not an IP address, like "10.0.0.1" (no names, no ranges)',
                    )
        return ips

    def leads(self, raw: Any) -> tuple[dict[str, Any], ...]:
        if not isinstance(raw, list | tuple):
            self.problem("leads", f"must be an array of tables, [[leads]], not {kind_of(raw)}")
            return ()
        seeds: list[dict[str, Any]] = []
        emails: dict[str, int] = {}
        for number, lead in enumerate(raw, start=1):
            where = f"leads[{number}]"
            if not isinstance(lead, Mapping):
                self.problem(
                    where, f"must be a table of lead fields, [[leads]], not {kind_of(lead)}"
                )
                continue
            self.unknown_keys(lead, LEAD_KEYS, where, "a lead")
            seed = dict(lead)
            if "email" not in lead:
                self.problem(f"{where}.email", "missing")
            email = self.text(lead["email"], f"{where}.email") if "email" in lead else None
            if email is not None:
                known = email.strip().lower()
                if known in emails:
                    self.problem(f"{where}.email", f"{email!r} is also leads[{emails[known]}]'s")
                else:
                    emails[known] = number
            for name in LEAD_FIELDS:
                value = lead.get(name)
                if name != "email" and value is not None and not isinstance(value, str):
                    self.problem(f"{where}.{name}", f"must be a string, not {kind_of(value)}")
            self.date_joined(seed, where)
            if "deleted" in lead:
                self.flag(lead, "deleted", where, False)
            seeds.append(seed)
        return tuple(seeds)

    def date_joined(self, seed: dict[str, Any], where: str) -> None:
        """Kartra's 'YYYY-MM-DD HH:MM:SS'; TOML's unquoted local date-time becomes one."""
        joined = seed.get("date_joined")
        if isinstance(joined, datetime) and joined.tzinfo is None:
            joined = seed["date_joined"] = joined.strftime(DATE_FORMAT)
        if joined is not None and not _is_kartra_date(joined):
            self.problem(
                f"{where}.date_joined",
                f'must be "YYYY-MM-DD HH:MM:SS" (Kartra\'s EST), not {shown(joined)}',
            )
