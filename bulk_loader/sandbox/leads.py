"""A sandbox lead record, how Kartra renders it, and the fixed vocabularies of the API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# LEAD_FIELDS (the plain lead fields create_lead and edit_lead accept) lives with the
# account file, whose seeded leads take them too.
from bulk_loader.sandbox.account import LEAD_FIELDS, SandboxAccount

__all__ = ["LEAD_FIELDS", "TIME_ZONES", "Lead", "lead_details"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The 76 accepted `lead_preferred_time_zone` values, in the reference's order.
TIME_ZONES = _words(
    """America/Los_Angeles America/Boise America/Chicago America/New_York Europe/London
    Europe/Brussels Etc/GMT+12 Pacific/Midway Pacific/Honolulu America/Juneau
    America/Chihuahua America/Phoenix America/Regina America/Mexico_City America/Belize
    America/Indiana/Indianapolis America/Bogota America/Glace_Bay America/Caracas
    America/Santiago America/St_Johns America/Sao_Paulo America/Argentina/Buenos_Aires
    America/Nuuk Etc/GMT+2 Atlantic/Azores Atlantic/Cape_Verde Africa/Casablanca
    Atlantic/Canary Europe/Belgrade Europe/Sarajevo Europe/Amsterdam Africa/Algiers
    Europe/Bucharest Africa/Cairo Europe/Helsinki Europe/Athens Asia/Jerusalem Africa/Harare
    Europe/Moscow Asia/Kuwait Africa/Nairobi Asia/Baghdad Asia/Tehran Asia/Dubai Asia/Baku
    Asia/Kabul Asia/Yekaterinburg Asia/Karachi Asia/Kolkata Asia/Kathmandu Asia/Dhaka
    Asia/Colombo Asia/Almaty Asia/Rangoon Asia/Bangkok Asia/Krasnoyarsk Asia/Shanghai
    Asia/Kuala_Lumpur Asia/Taipei Australia/Perth Asia/Irkutsk Asia/Seoul Asia/Tokyo
    Asia/Yakutsk Australia/Darwin Australia/Adelaide Australia/Sydney Australia/Brisbane
    Australia/Hobart Asia/Vladivostok Pacific/Guam Asia/Magadan Pacific/Fiji
    Pacific/Auckland Pacific/Tongatapu"""
)
assert len(TIME_ZONES) == 76


@dataclass
class Lead:
    """One lead in the sandbox's contacts database. Ids are strings, as Kartra sends them.

    `custom` holds a string for text fields and a list of option ids for choice fields;
    `lists` maps a list name to "1" (subscribed) or "0"; `sequences` maps a name to
    [step, status].
    """

    id: str
    fields: dict[str, str] = field(default_factory=dict)
    custom: dict[str, str | list[int]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    lists: dict[str, str] = field(default_factory=dict)
    sequences: dict[str, list[str]] = field(default_factory=dict)
    score: int = 0
    deleted: bool = False
    source: str = "api"
    date_joined: str = ""

    @property
    def email(self) -> str:
        return self.fields.get("email", "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lead:
        return cls(**data)


def lead_details(lead: Lead, account: SandboxAccount) -> dict[str, Any]:
    """get_lead's `lead_details`: every field as a string, all custom fields even if empty."""
    details: dict[str, Any] = {"id": lead.id}
    details.update({name: lead.fields.get(name, "") for name in LEAD_FIELDS})
    details.update(
        date_joined=lead.date_joined,
        score=str(lead.score),
        source=lead.source,
        source_id="",
        ip_country="",
        username="",
        referring_id="",
        blacklisted="0",
        gdpr_lead_status="0",
        gdpr_lead_status_date="",
        gdpr_lead_status_ip="",
        gdpr_lead_communications="0",
        tags=[{"tag_name": name} for name in lead.tags],
        lists=[{"list_name": name, "active": on} for name, on in lead.lists.items()],
        sequences=[
            {"sequence_name": name, "tree_name": name, "step": step, "status": status}
            for name, (step, status) in lead.sequences.items()
        ],
        custom_fields=_custom_fields(lead, account),
        transactions=[],
        memberships=[],
        calendars=[],
        surveys=[],
    )
    return details


def _custom_fields(lead: Lead, account: SandboxAccount) -> list[dict[str, Any]]:
    rendered = []
    for identifier, spec in account.custom_fields.items():
        stored = lead.custom.get(
            identifier, "" if spec.type in ("input_field", "text_area") else []
        )
        value: Any = stored
        if isinstance(stored, list):
            value = [{"option_id": str(i), "option_value": spec.label(i) or ""} for i in stored]
        rendered.append(
            {
                "field_id": str(spec.field_id),
                "field_identifier": identifier,
                "field_type": spec.type,
                "field_value": value,
            }
        )
    return rendered
