"""The canary: the first rows a run wrote, read back and compared with what was sent.

Kartra drops unknown custom fields without a word, documents nothing about other values
it may drop or rewrite, and a new App in Test Mode rewrites every new lead's email to
`@kartra.com`. An import can therefore "succeed" while storing something else. A real
run reads its first few written leads back (get_lead, by email) and compares every
field, custom field, tag, list, points and sequence the row sent with what Kartra
returns; on any difference the run stops before the rest is sent (pipeline/send.py).

Only what get_lead returns is compared (its reference lists no company, for one); a
phone is compared by its digits. Tags, lists and sequences may be applied "in a few
moments" (older copies of Kartra's docs): a difference there is read again for a few
seconds before it counts. Points are compared for created leads only (an edited lead's
points before the row are not known).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bulk_loader.kartra.client import CallResult, Outcome, lead_details
from bulk_loader.outcomes import RowOutcome, RowStatus
from bulk_loader.sending.sender import Stopped
from bulk_loader.validation.validator import LeadRow

__all__ = ["TEST_MODE_DOMAIN", "Difference", "ReadBack", "read_back"]

TEST_MODE_DOMAIN = "kartra.com"
LEAD_NOT_FOUND = "234"
# Reads of a lead whose tags, lists or sequences differ, a second apart, before the
# difference counts: Kartra may apply those "in a few moments".
SETTLE_READS = 4
SETTLE_WAIT = 1.0
_DIGITS_ONLY = ("phone", "phone_country_code")
_NOT_COMPARED = ("id", "new_email", "custom_fields")


@dataclass(frozen=True)
class Difference:
    """One value Kartra did not keep as sent."""

    row: int
    what: str  # "city", "custom field color", "tag VIP", "points", ...
    sent: str
    kept: str

    def line(self) -> str:
        return f"row {self.row}: {self.what}: sent {self.sent!r}, Kartra kept {self.kept!r}"


@dataclass
class ReadBack:
    """What the canary saw: the rows read, the differences, Test Mode, GDPR."""

    rows: int = 0
    calls: int = 0
    differences: list[Difference] = field(default_factory=list)
    test_mode: str = ""  # "ana@example.com was stored as ana@kartra.com", when seen
    # gdpr_lead_status and blacklisted as the read-back saw them: "0/0" -> the rows
    consent: dict[str, list[int]] = field(default_factory=dict)
    waited_out: bool = False  # a lead's tags (lists, sequence) never came: read no more

    @property
    def clean(self) -> bool:
        return not self.differences and not self.test_mode


Lookup = Callable[[Callable[[], CallResult]], CallResult]


def read_back(
    written: Iterable[tuple[LeadRow, RowOutcome]],
    client: Any,
    lookup: Lookup,
    stop: threading.Event,
    seen: ReadBack,
) -> None:
    """Read back each row written (created or updated, with an email) into `seen`, in
    row order."""
    for row, outcome in sorted(written, key=lambda pair: pair[0].row):
        if stop.is_set():  # Ctrl-C: the run stops; what was read stands, nothing is judged
            return
        if outcome.status not in (RowStatus.CREATED, RowStatus.UPDATED):
            continue
        email = str(row.lead.get("new_email") or row.lead.get("email") or "")
        if not email:
            continue  # by id alone: get_lead reads by email only
        created = outcome.status == RowStatus.CREATED
        if outcome.withheld:  # compared as sent: its points and sequence were not
            row = replace(row, points=0, sequence=None)
        details = _read(client, lookup, email, seen)
        if details is None and stop.is_set():
            return
        if details is None and created:
            moved = f"{email.rpartition('@')[0]}@{TEST_MODE_DOMAIN}"
            details = _read(client, lookup, moved, seen)
            if details is None and stop.is_set():
                return
            if details is not None:
                seen.test_mode = seen.test_mode or f"{email} was stored as {moved}"
                seen.rows += 1
                continue
        if details is None:
            seen.differences.append(Difference(row.row, "email", email, "(no lead found)"))
            continue
        differences = compare(row, details, created)
        # Tags, lists, sequences may apply "in a few moments": read again, a second
        # apart, unless an earlier lead's never came (no use waiting for each lead).
        for _ in range(0 if seen.waited_out else SETTLE_READS - 1):
            if not _late_kinds(differences):
                break
            if stop.wait(SETTLE_WAIT):
                break
            details = _read(client, lookup, email, seen) or details
            differences = compare(row, details, created)
        seen.waited_out = seen.waited_out or bool(_late_kinds(differences))
        seen.rows += 1
        seen.differences += differences
        key = f"{details.get('gdpr_lead_status', '?')}/{details.get('blacklisted', '?')}"
        seen.consent.setdefault(key, []).append(row.row)


def _late_kinds(differences: list[Difference]) -> list[Difference]:
    return [d for d in differences if d.what.split(" ")[0] in ("tag", "list", "sequence")]


def _read(client: Any, lookup: Lookup, email: str, seen: ReadBack) -> Mapping[str, Any] | None:
    try:
        result = lookup(lambda: client.get_lead(email=email))
    except Stopped:  # stopping, and this read was a retry: no judgement on it
        return None
    seen.calls += 1
    if result.outcome is Outcome.OK:
        return lead_details(result)
    return None


def compare(
    row: LeadRow, details: Mapping[str, Any], created: bool, *, sequences: bool = True
) -> list[Difference]:
    """What of `row` the lead read back (`details`) does not hold (without `sequences`,
    its sequence step is not compared: it moves on by itself)."""
    out: list[Difference] = []
    for name, value in row.lead.items():
        if name in _NOT_COMPARED or name not in details:
            continue
        sent, kept = _text(value), _text(details.get(name))
        if name == "email" and row.lead.get("new_email"):
            continue  # renamed: compared as the new address below
        if not _same(name, sent, kept):
            out.append(Difference(row.row, name, sent, kept))
    if row.lead.get("new_email") and "email" in details:
        sent, kept = _text(row.lead["new_email"]), _text(details.get("email"))
        if not _same("email", sent, kept):
            out.append(Difference(row.row, "email", sent, kept))
    out += _custom_fields(row, details)
    out += _names(row if sequences else replace(row, sequence=None), details)
    if created and row.points and "score" in details and _text(details["score"]) != str(row.points):
        out.append(Difference(row.row, "points", str(row.points), _text(details["score"])))
    return out


def _same(name: str, sent: str, kept: str) -> bool:
    if name == "email":
        return sent.casefold() == kept.casefold()
    if name in _DIGITS_ONLY:
        return _digits(sent) == _digits(kept)
    return sent.strip() == kept.strip()


def _custom_fields(row: LeadRow, details: Mapping[str, Any]) -> list[Difference]:
    kept_fields = {
        str(entry.get("field_identifier")): entry.get("field_value")
        for entry in details.get("custom_fields") or ()
        if isinstance(entry, Mapping)
    }
    out = []
    for entry in row.lead.get("custom_fields", ()):
        identifier, value = str(entry["field_identifier"]), entry["field_value"]
        what = f"custom field {identifier}"
        if identifier not in kept_fields:
            out.append(Difference(row.row, what, _shown(value), "(no such field)"))
            continue
        kept = kept_fields[identifier]
        if isinstance(kept, list) or isinstance(value, (list, int)):
            sent_ids = _ids(value)
            kept_ids = {
                str(option.get("option_id")) for option in kept or () if isinstance(option, Mapping)
            }
            if sent_ids != kept_ids:
                out.append(Difference(row.row, what, _shown(value), ", ".join(sorted(kept_ids))))
        elif _text(value).strip() != _text(kept).strip():
            out.append(Difference(row.row, what, _text(value), _text(kept)))
    return out


def _names(row: LeadRow, details: Mapping[str, Any]) -> list[Difference]:
    """Tags, lists and the sequence: joined ones held, left ones not."""
    tags = {_text(t.get("tag_name")) for t in details.get("tags") or () if isinstance(t, Mapping)}
    lists = {
        _text(entry.get("list_name")): _text(entry.get("active"))
        for entry in details.get("lists") or ()
        if isinstance(entry, Mapping)
    }
    out = []
    if "tags" in details:
        out += [
            Difference(row.row, f"tag {t}", "added", "absent") for t in row.tags if t not in tags
        ]
        out += [
            Difference(row.row, f"tag {t}", "removed", "held") for t in row.remove_tags if t in tags
        ]
    if "lists" in details:
        out += [
            Difference(row.row, f"list {name}", "joined", "absent" if name not in lists else "left")
            for name in row.lists
            if lists.get(name) != "1"
        ]
        out += [
            Difference(row.row, f"list {name}", "left", "joined")
            for name in row.remove_lists
            if lists.get(name) == "1"
        ]
    if row.sequence is not None and "sequences" in details:
        name, step = row.sequence
        steps = {
            _text(entry.get("sequence_name")): _text(entry.get("step"))
            for entry in details.get("sequences") or ()
            if isinstance(entry, Mapping)
        }
        if steps.get(name) != str(step):
            out.append(
                Difference(row.row, f"sequence {name}", f"step {step}", steps.get(name) or "absent")
            )
    return out


def _ids(value: Any) -> set[str]:
    if value == "" or value is None:
        return set()
    values: Sequence[Any] = value if isinstance(value, (list, tuple)) else [value]
    return {str(v) for v in values}


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return _text(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())
