"""The sandbox's state and Kartra's rules, in plain Python, with Kartra's error types.

`SandboxState.execute(form)` takes a decoded form (PHP `$_POST` shape) and returns the
JSON answer Kartra would give. Choices where Kartra's documents are silent:

- A call whose first action fails answers with the whole-call shape of the reference's
  error example (`{"status": "Error", "message", "type"}`), no `actions`.
- When a later action fails, its own entry says so and the top-level status is
  `failed_action_status` ("Error" by default; "Success" is the other plausible Kartra
  behaviour). The top level then also carries that action's type and message. The
  actions after a failed one still run unless `stop_after_failed_action` is set.
- A `lead_preferred_time_zone` outside the 76 documented values is ignored (the lead is
  saved, its time zone unchanged), as Kartra ignores unknown custom fields. The sheet
  validator is where a bad time zone must be caught.
- A choice field value that is not one of the field's option ids, a checkbox value that is
  not a list, or a custom field entry without `field_value` is 271 (wrong format). An
  empty string clears any field. An unknown `field_identifier` is silently ignored.
- Emails match case-insensitively. create_lead with the email of a deleted lead is 244.
- An unknown cmd is 254; a lead command anywhere but `actions[0]` fails that action (254).
- The sequence error types are read from API-FACTS' order: 226 name empty, 225 step
  empty, 219 no such sequence, 229 step not a number, 230 no such step.
- 241 has no documented meaning and is never produced.
- get_lead follows its own section ("the lead's email is required to identify the lead"),
  not the general note that any call may name the lead by id or email: without an email
  (only an id, or nothing) it is 206; with one, any id sent beside it is ignored.
- `date_joined` is written "YYYY-MM-DD HH:MM:SS" in "EST" on Kartra's clock. Whether EST
  means fixed UTC-5 or New York time with daylight saving is not said: the `clock` choice
  ("EST", the default, or "America/New_York") picks one, and `clock_skew_s` makes Kartra's
  clock run ahead of ours (negative: behind). A lead created through the API joins "now"
  on that clock; a seeded lead keeps the account file's `date_joined`, else
  SEEDED_DATE_JOINED, well in the past.
- `lead_details` is typed "String (JSON encoded object)" but shown as an object: objects
  by default; with `lead_details_json` every `lead_details` of every answer (get_lead,
  search_lead, and the create/edit/search entries of `actions`) is a JSON string.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from bulk_loader.sandbox.account import DATE_FORMAT, SandboxAccount
from bulk_loader.sandbox.leads import LEAD_FIELDS, TIME_ZONES, Lead, lead_details
from bulk_loader.sandbox.rules import ACTIONS, MESSAGES, KartraError, custom_value

__all__ = ["CLOCKS", "SEEDED_DATE_JOINED", "Clock", "KartraError", "LeadStore", "SandboxState"]

LEAD_COMMANDS = ("create_lead", "edit_lead", "search_lead")
RETRIEVE = {
    "retrieve_custom_fields": "custom_fields",
    "retrieve_account_tags": "account_tags",
    "retrieve_account_lists": "account_lists",
    "retrieve_account_sequences": "account_sequences",
}
EST = timezone(timedelta(hours=-5), "EST")  # date_joined is documented as EST
Clock = Literal["EST", "America/New_York"]  # the two readings of "EST timezone"
CLOCKS: tuple[Clock, ...] = get_args(Clock)
SEEDED_DATE_JOINED = "2020-01-15 09:30:00"  # a seeded lead without its own date_joined


class LeadStore:
    """Where leads are kept besides memory: nothing by default (see sandbox.store)."""

    def load(self) -> list[Lead]:
        return []

    def save(self, lead: Lead) -> None:
        pass

    def clear(self) -> None:
        pass

    def close(self) -> None:
        pass


class SandboxState:
    """Leads of one account and the rules that change them; thread-safe."""

    def __init__(self, account: SandboxAccount, store: LeadStore | None = None) -> None:
        self.account = account
        self.failed_action_status: Literal["Error", "Success"] = "Error"
        self.stop_after_failed_action = False
        self.clock: Clock = "EST"
        self.clock_skew_s = 0.0
        self.lead_details_json = False
        self.drop_field = ""  # a field (or custom field) stored by no create or edit
        self.test_mode = False  # new leads' email domain rewritten to kartra.com
        self.actions_delay_s = 0.0  # tags, lists, sequences applied this much later
        self._timers: list[threading.Timer] = []  # those actions, waiting
        self._store = store or LeadStore()
        self._lock = threading.RLock()
        self.leads: dict[str, Lead] = {}
        self._by_email: dict[str, Lead] = {}
        self._next_id = 1001
        saved = self._store.load()
        if saved:
            for lead in saved:
                self._index(lead)
        else:
            self.reset()

    # -- state --------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the account file's leads, nothing else."""
        with self._lock:
            self.leads.clear()
            self._by_email.clear()
            self._next_id = 1001
            self._store.clear()
            for seed in self.account.leads:
                data = {k: str(v) for k, v in seed.items() if k in LEAD_FIELDS}
                joined = str(seed.get("date_joined") or SEEDED_DATE_JOINED)
                lead = self._new_lead(data, source="manual", date_joined=joined)
                lead.deleted = bool(seed.get("deleted", False))
                self._store.save(lead)

    def close(self) -> None:
        """Release the store (the SQLite file of a standing sandbox); actions still
        waiting to apply (actions_delay_s) never will."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        self._store.close()

    def find(self, *, email: Any = None, id: Any = None) -> Lead | None:
        """The lead with this id, else this email (id wins, as Kartra documents).

        Values come straight from the form: anything but a string names no lead.
        """
        with self._lock:
            if id:
                return self.leads.get(str(id)) if isinstance(id, str | int) else None
            if isinstance(email, str) and email.strip():
                return self._by_email.get(email.strip().lower())
            return None

    def now(self) -> str:
        """Kartra's clock as date_joined shows it: `clock` zone, `clock_skew_s` ahead."""
        zone: tzinfo = EST if self.clock == "EST" else ZoneInfo(self.clock)
        moment = datetime.now(UTC) + timedelta(seconds=self.clock_skew_s)
        return moment.astimezone(zone).strftime(DATE_FORMAT)

    def dump(self) -> dict[str, Any]:
        with self._lock:
            return {"leads": [lead.to_dict() for lead in self.leads.values()]}

    def _index(self, lead: Lead) -> None:
        self.leads[lead.id] = lead
        if lead.email:
            self._by_email[lead.email.lower()] = lead
        self._next_id = max(self._next_id, int(lead.id) + 1)

    def _new_lead(
        self, fields: dict[str, str], source: str = "api", date_joined: str | None = None
    ) -> Lead:
        joined = date_joined or self.now()
        lead = Lead(str(self._next_id), fields, source=source, date_joined=joined)
        self._index(lead)
        return lead

    # -- calls --------------------------------------------------------------------------

    def execute(self, form: Mapping[str, Any], client_ip: str = "127.0.0.1") -> dict[str, Any]:
        """Answer one API call as Kartra would; never raises for anything the caller sent."""
        try:
            self._authenticate(form, client_ip)
            if "get_lead" in form:
                self._check_cmd("get_lead")
                answer = self._get_lead(form["get_lead"])
            else:
                answer = self._run_actions(form)
        except KartraError as exc:
            return exc.answer()
        return _encode_lead_details(answer) if self.lead_details_json else answer

    def _authenticate(self, form: Mapping[str, Any], client_ip: str) -> None:
        acct = self.account
        key, app, password = (form.get(k) for k in ("api_key", "app_id", "api_password"))
        if not key:
            raise KartraError("202")
        if not app:
            raise KartraError("238")
        if app != acct.app_id:
            raise KartraError("239")
        if key != acct.api_key:
            raise KartraError("203")
        if password != acct.api_password:
            raise KartraError("233")
        if not acct.api_active:
            raise KartraError("204")
        if not acct.app_active:
            raise KartraError("240")
        if acct.allowed_ips is not None and client_ip not in acct.allowed_ips:
            raise KartraError("242")

    def _check_cmd(self, cmd: str) -> None:
        if cmd in self.account.forbidden_cmds:
            raise KartraError("262")

    def _get_lead(self, query: Any) -> dict[str, Any]:
        if not isinstance(query, dict):
            raise KartraError("236")
        email = query.get("email")
        if not isinstance(email, str) or not email.strip():
            raise KartraError("206")  # the email is required; an id alone does not do
        lead = self.find(email=email)  # an id beside the email is ignored
        if lead is None:
            raise KartraError("234")
        if lead.deleted:
            raise KartraError("245")
        with self._lock:
            return {"status": "Success", "lead_details": lead_details(lead, self.account)}

    def _run_actions(self, form: Mapping[str, Any]) -> dict[str, Any]:
        entries = _actions(form)
        cmds = [entry.get("cmd") for entry in entries]
        if not cmds[0]:
            raise KartraError("254")
        for cmd in cmds:
            self._check_cmd(str(cmd or ""))
        first = str(cmds[0])
        if first in RETRIEVE:
            return {"status": "Success", RETRIEVE[first]: self._retrieve(first)}
        if first not in LEAD_COMMANDS and first not in ACTIONS:
            raise KartraError("254", f"Unknown cmd '{first}'")
        lead_form = form.get("lead", {})
        if not isinstance(lead_form, dict):
            raise KartraError("223")
        with self._lock:
            lead, results = self._first_action(first, lead_form, entries[0])
            for entry in entries[1:]:
                if self.stop_after_failed_action and _failed(results):
                    break
                results.append(self._chained(lead, entry))
            self._store.save(lead)
        return self._answer(first, lead, results)

    def _later(self, lead: Lead, handler: Any, entry: dict[str, Any]) -> None:
        """Apply one chained action `actions_delay_s` from now (a daemon timer)."""

        def apply() -> None:
            with self._lock:
                try:
                    handler(self.account, lead, entry)
                except KartraError:
                    return
                self._store.save(lead)

        timer = threading.Timer(self.actions_delay_s, apply)
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _first_action(
        self, cmd: str, lead_form: dict[str, Any], entry: dict[str, Any]
    ) -> tuple[Lead, list[dict[str, Any]]]:
        """Run actions[0]; its failure is a whole-call error (KartraError propagates)."""
        if cmd == "create_lead":
            lead = self._create(lead_form)
            return lead, [{cmd: _ok("Lead created", lead_details={"id": lead.id})}]
        lead = self._existing(lead_form)
        if cmd == "edit_lead":
            self._edit(lead, lead_form)
            return lead, [{cmd: _ok("Lead edited", lead_details={"id": lead.id})}]
        if cmd == "search_lead":
            return lead, [{cmd: _ok("Lead found", lead_details={"id": lead.id})}]
        return lead, [self._chained(lead, entry)]

    def _answer(self, first: str, lead: Lead, results: list[dict[str, Any]]) -> dict[str, Any]:
        if first == "search_lead" and len(results) == 1:
            return {"status": "Success", "message": "Lead found", "lead_details": {"id": lead.id}}
        answer: dict[str, Any] = {"status": "Success", "actions": results}
        failed = _failed(results)
        if failed is not None:
            answer.update(status=self.failed_action_status, **failed)
            if self.failed_action_status == "Success":
                del answer["type"], answer["message"]
        if first == "search_lead":
            answer["lead_details"] = {"id": lead.id}
        return answer

    def _retrieve(self, cmd: str) -> list[Any]:
        acct = self.account
        if cmd == "retrieve_account_tags":
            return list(acct.tags)
        if cmd == "retrieve_account_lists":
            return list(acct.lists)
        if cmd == "retrieve_account_sequences":
            return list(acct.sequences)
        return [
            {
                "field_id": str(spec.field_id),
                "field_identifier": spec.identifier,
                "field_type": spec.type,
                "field_value": [
                    {"option_id": str(oid), "option_value": label}
                    for label, oid in spec.options.items()
                ],
            }
            for spec in acct.custom_fields.values()
        ]

    # -- lead commands -------------------------------------------------------------------

    def _create(self, lead_form: dict[str, Any]) -> Lead:
        email = str(lead_form.get("email", "")).strip()
        if not email:
            raise KartraError("206")
        if self.find(email=email) is not None:
            raise KartraError("244")
        custom = self._dropped(self._custom_values(lead_form))
        if self.test_mode:  # Kartra's Test Mode: the lead keeps its name, not its domain
            email = f"{email.rpartition('@')[0]}@kartra.com"
        lead = self._new_lead({"email": email})
        _apply(lead, self._dropped({k: v for k, v in lead_form.items() if k != "email"}), custom)
        return lead

    def _dropped(self, values: dict[str, Any]) -> dict[str, Any]:
        """`values` without the field the drop_field knob names (silently)."""
        return {k: v for k, v in values.items() if k != self.drop_field or not k}

    def _existing(self, lead_form: dict[str, Any]) -> Lead:
        lead_id, email = lead_form.get("id"), lead_form.get("email")
        if not lead_id and not email:
            raise KartraError("206")
        lead = self.find(email=email, id=lead_id)
        if lead is None:
            raise KartraError("243")
        if lead.deleted:
            raise KartraError("245")
        return lead

    def _edit(self, lead: Lead, lead_form: dict[str, Any]) -> None:
        custom = self._dropped(self._custom_values(lead_form))
        new_email = str(lead_form.get("new_email", "")).strip()
        if new_email:
            other = self.find(email=new_email)
            if other is not None and other is not lead:
                raise KartraError("244")
        fields = self._dropped({k: v for k, v in lead_form.items() if k != "email"})
        _apply(lead, fields, custom)
        if new_email:
            self._by_email.pop(lead.email.lower(), None)
            lead.fields["email"] = new_email
            self._by_email[new_email.lower()] = lead

    def _custom_values(self, lead_form: dict[str, Any]) -> dict[str, str | list[int]]:
        """Validate `custom_fields` before anything changes: all or nothing (271)."""
        raw = lead_form.get("custom_fields")
        if raw is None:
            return {}
        entries = list(raw.values()) if isinstance(raw, dict) else raw
        if not isinstance(entries, list):
            raise KartraError("271")
        values: dict[str, str | list[int]] = {}
        for entry in entries:
            if not isinstance(entry, dict) or "field_value" not in entry:
                raise KartraError("271")
            spec = self.account.custom_fields.get(str(entry.get("field_identifier", "")))
            if spec is not None:  # unknown identifiers are silently ignored
                values[spec.identifier] = custom_value(spec.type, spec.options, entry)
        return values

    # -- chained actions -----------------------------------------------------------------

    def _chained(self, lead: Lead, entry: dict[str, Any]) -> dict[str, Any]:
        cmd = str(entry.get("cmd", ""))
        handler = ACTIONS.get(cmd)
        try:
            if handler is None:
                raise KartraError("254", f"Unknown or misplaced cmd '{cmd}'")
            if self.actions_delay_s > 0 and cmd in DELAYABLE:
                success_type = handler(self.account, copy.deepcopy(lead), entry)  # checked now
                self._later(lead, handler, entry)
            else:
                success_type = handler(self.account, lead, entry)
        except KartraError as exc:
            return {cmd or "cmd": exc.answer()}
        return {cmd: {"status": "Success", "message": MESSAGES[success_type],
                      "type": success_type}}  # fmt: skip


# Older copies of Kartra's docs say these apply "in a few moments": the actions_delay_s
# knob applies them that much later (answered Success at once, as such an API would).
DELAYABLE = frozenset(
    {"assign_tag", "unassign_tag", "subscribe_lead_to_list", "unsubscribe_lead_from_list",
     "subscribe_lead_to_sequence_at_step"}
)  # fmt: skip


def _actions(form: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = form.get("actions")
    if raw is None:
        raise KartraError("254")
    entries = list(raw.values()) if isinstance(raw, dict) else raw
    if not isinstance(entries, list):
        raise KartraError("224")
    if not entries or not isinstance(entries[0], dict):
        raise KartraError("254")
    return [entry if isinstance(entry, dict) else {} for entry in entries]


def _encode_lead_details(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with each `lead_details` (top level, and in `actions`) as a JSON string."""

    def encoded(holder: dict[str, Any]) -> dict[str, Any]:
        details = holder.get("lead_details")
        if details is None or isinstance(details, str):
            return holder
        return {**holder, "lead_details": json.dumps(details, separators=(",", ":"))}

    answer = encoded(answer)
    if isinstance(answer.get("actions"), list):
        answer["actions"] = [
            {cmd: encoded(detail) for cmd, detail in entry.items()} for entry in answer["actions"]
        ]
    return answer


def _ok(message: str, **extra: Any) -> dict[str, Any]:
    return {"status": "Success", "message": message, **extra}


def _failed(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Type and message of the first failed action entry, if any."""
    for entry in results:
        for detail in entry.values():
            if detail.get("status") == "Error":
                return {"type": detail["type"], "message": detail["message"]}
    return None


def _apply(lead: Lead, lead_form: Mapping[str, Any], custom: dict[str, str | list[int]]) -> None:
    for name in LEAD_FIELDS:
        value = lead_form.get(name)
        if not isinstance(value, str):
            continue
        if name == "lead_preferred_time_zone" and value and value not in TIME_ZONES:
            continue  # ignored, see the module docstring
        lead.fields[name] = value
    for identifier, value in custom.items():
        if value in ("", []):
            lead.custom.pop(identifier, None)
        else:
            lead.custom[identifier] = value
