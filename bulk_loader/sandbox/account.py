"""The sandbox's Kartra account, declared in a TOML file (see samples/account.toml).

The file names the App's credentials, the custom fields with their option ids, the
tags, lists and sequences that exist, and leads that already exist (each may carry
`date_joined = "YYYY-MM-DD HH:MM:SS"`, Kartra's format and zone). Optional switches
make the whole-call errors reachable: `[account] api_active = false` (204),
`app_active = false` (240), `allowed_ips = [...]` (242), `forbidden_cmds = [...]` (262).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bulk_loader.errors import InputError

__all__ = [
    "CHOICE_TYPES",
    "DATE_FORMAT",
    "FIELD_TYPES",
    "CustomField",
    "SandboxAccount",
    "load_account",
]

FIELD_TYPES = ("input_field", "text_area", "drop_down", "radio_button", "checkbox")
CHOICE_TYPES = frozenset({"drop_down", "radio_button", "checkbox"})
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # Kartra's 'YYYY-MM-DD HH:MM:SS' (date_joined)
# Kartra does not publish how many steps a sequence has; the sandbox gives each this many
# unless the file says `sequence_steps = { Onboarding = 3 }`.
DEFAULT_SEQUENCE_STEPS = 10


@dataclass(frozen=True)
class CustomField:
    """One custom field: `options` maps the option's label to its id (choice types only)."""

    field_id: int
    identifier: str
    type: str
    options: Mapping[str, int] = field(default_factory=dict)

    def label(self, option_id: int) -> str | None:
        return next((name for name, oid in self.options.items() if oid == option_id), None)


@dataclass(frozen=True)
class SandboxAccount:
    """Everything the sandbox needs to answer like one Kartra account."""

    app_id: str
    api_key: str = field(repr=False)
    api_password: str = field(repr=False)
    custom_fields: Mapping[str, CustomField] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    sequences: Mapping[str, int] = field(default_factory=dict)  # name -> number of steps
    leads: tuple[Mapping[str, Any], ...] = ()
    api_active: bool = True
    app_active: bool = True
    allowed_ips: tuple[str, ...] | None = None
    forbidden_cmds: frozenset[str] = frozenset()


def load_account(path: Path) -> SandboxAccount:
    """Read an account file; InputError names the file and what is wrong in it."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return account_from_dict(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the account file ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: invalid account file ({exc})") from exc


def account_from_dict(data: Mapping[str, Any]) -> SandboxAccount:
    """Build an account from parsed TOML; KeyError/TypeError/ValueError when malformed."""
    creds = data["credentials"]
    settings = data.get("account", {})
    steps = settings.get("sequence_steps", {})
    ips = settings.get("allowed_ips")
    return SandboxAccount(
        app_id=str(creds["app_id"]),
        api_key=str(creds["api_key"]),
        api_password=str(creds["api_password"]),
        custom_fields=_custom_fields(data.get("custom_fields", {})),
        tags=tuple(map(str, settings.get("tags", ()))),
        lists=tuple(map(str, settings.get("lists", ()))),
        sequences={
            str(name): int(steps.get(name, DEFAULT_SEQUENCE_STEPS))
            for name in settings.get("sequences", ())
        },
        leads=tuple(_seeded_lead(lead) for lead in data.get("leads", ())),
        api_active=bool(settings.get("api_active", True)),
        app_active=bool(settings.get("app_active", True)),
        allowed_ips=None if ips is None else tuple(map(str, ips)),
        forbidden_cmds=frozenset(map(str, settings.get("forbidden_cmds", ()))),
    )


def _seeded_lead(lead: Mapping[str, Any]) -> dict[str, Any]:
    """One [[leads]] entry, its `date_joined` (if any) a string in Kartra's exact format."""
    seed = dict(lead)
    joined = seed.get("date_joined")
    if isinstance(joined, datetime) and joined.tzinfo is None:  # TOML's unquoted form
        joined = seed["date_joined"] = joined.strftime(DATE_FORMAT)
    if joined is not None and not _is_kartra_date(joined):
        raise ValueError(
            f'lead {seed.get("email", "?")!r}: date_joined must be "YYYY-MM-DD HH:MM:SS" '
            f"(Kartra's EST), not {joined!r}"
        )
    return seed


def _is_kartra_date(value: Any) -> bool:
    """True for 'YYYY-MM-DD HH:MM:SS' exactly (strptime alone takes "2020-1-5 9:30:00")."""
    if not isinstance(value, str):
        return False
    try:
        return datetime.strptime(value, DATE_FORMAT).strftime(DATE_FORMAT) == value
    except ValueError:
        return False


def _custom_fields(table: Mapping[str, Any]) -> dict[str, CustomField]:
    fields: dict[str, CustomField] = {}
    for number, (identifier, spec) in enumerate(table.items(), start=1):
        kind = str(spec["type"])
        if kind not in FIELD_TYPES:
            raise ValueError(f"custom field {identifier!r}: unknown type {kind!r}")
        options = {str(label): int(oid) for label, oid in spec.get("options", {}).items()}
        if kind in CHOICE_TYPES and not options:
            raise ValueError(f"custom field {identifier!r}: a {kind} needs options")
        field_id = int(spec.get("field_id", 300 + number))
        fields[identifier] = CustomField(field_id, identifier, kind, options)
    return fields
