"""What a sandbox account is: its custom fields, its tags, lists and sequences, its
existing leads and its switches, and the words Kartra uses for them.

Read from a TOML file and checked by bulk_loader.sandbox.account, which also offers all of
this module's names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHOICE_TYPES",
    "DATE_FORMAT",
    "DEFAULT_SEQUENCE_STEPS",
    "FIELD_TYPES",
    "LEAD_FIELDS",
    "CustomField",
    "SandboxAccount",
]

FIELD_TYPES = ("input_field", "text_area", "drop_down", "radio_button", "checkbox")
CHOICE_TYPES = frozenset({"drop_down", "radio_button", "checkbox"})
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # Kartra's 'YYYY-MM-DD HH:MM:SS' (date_joined)
# Kartra does not publish how many steps a sequence has; the sandbox gives each this many
# unless the file says `sequence_steps = { Onboarding = 3 }`.
DEFAULT_SEQUENCE_STEPS = 10
# The plain lead fields create_lead and edit_lead accept (reference page); anything else
# sent in `lead` is ignored, as Kartra ignores what it does not know. A seeded lead in the
# account file takes these (and date_joined, deleted), nothing else.
LEAD_FIELDS = (
    "email", "phone", "phone_country_code", "first_name", "middle_name", "last_name",
    "last_name2", "ip", "address", "zip", "city", "state", "country", "company",
    "lead_picture", "website", "facebook", "twitter", "linkedin", "lead_preferred_time_zone",
    "sales_tax_id", "business_type",
)  # fmt: skip


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
