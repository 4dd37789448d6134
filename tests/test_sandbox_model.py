"""The sandbox's rules: Kartra's documented behaviour and error types, without a socket."""

from __future__ import annotations

import json
import threading
import tomllib
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bulk_loader.sandbox import TIME_ZONES, SandboxState, load_account
from bulk_loader.sandbox.account import account_from_dict
from bulk_loader.sandbox.model import SEEDED_DATE_JOINED

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"
AUTH = {"app_id": "sandbox-app", "api_key": "sandbox-key", "api_password": "sandbox-password"}


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(load_account(SAMPLE))


def call(state: SandboxState, *cmds: dict[str, Any], **form: Any) -> dict[str, Any]:
    return state.execute({**AUTH, **form, "actions": list(cmds)})


def create(state: SandboxState, lead: dict[str, Any], *then: dict[str, Any]) -> dict[str, Any]:
    return call(state, {"cmd": "create_lead"}, *then, lead=lead)


def detail(answer: dict[str, Any], index: int) -> dict[str, Any]:
    return next(iter(answer["actions"][index].values()))  # type: ignore[no-any-return]


# -- whole-call errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "kartra_type"),
    [
        ({"api_key": ""}, "202"),
        ({"api_key": "wrong"}, "203"),
        ({"api_password": "wrong"}, "233"),
        ({"app_id": ""}, "238"),
        ({"app_id": "other"}, "239"),
        ({"actions": "create_lead"}, "224"),
        ({"actions": None}, "254"),
        ({"actions": [{"tag_name": "x"}]}, "254"),
        ({"actions": [{"cmd": "fly_to_moon"}]}, "254"),
        ({"lead": "a@b.co"}, "223"),
        ({"lead": {"first_name": "No identity"}}, "206"),
        ({"get_lead": "a@b.co"}, "236"),
        ({"get_lead": {}}, "206"),
    ],
)
def test_whole_call_errors(state: SandboxState, change: dict[str, Any], kartra_type: str) -> None:
    """Each malformed call gets its documented type in the top-level error shape."""
    form = {**AUTH, "lead": {"email": "a@b.co"}, "actions": [{"cmd": "create_lead"}], **change}
    form = {key: value for key, value in form.items() if value is not None}
    answer = state.execute(form)
    assert (answer["status"], answer["type"]) == ("Error", kartra_type)
    assert "actions" not in answer


@pytest.mark.parametrize(
    ("settings", "kartra_type"),
    [
        ({"api_active": False}, "204"),
        ({"app_active": False}, "240"),
        ({"allowed_ips": ["10.0.0.1"]}, "242"),
        ({"forbidden_cmds": ["create_lead"]}, "262"),
    ],
)
def test_account_switches_reach_their_errors(settings: dict[str, Any], kartra_type: str) -> None:
    """Inactive API or App, unauthorized IP and forbidden cmd are reachable from the file."""
    data = {"credentials": dict(AUTH), "account": settings}
    state = SandboxState(account_from_dict(data))
    assert create(state, {"email": "a@b.co"})["type"] == kartra_type


# -- create, edit, search, get --------------------------------------------------------------


def test_create_answers_new_id_as_string(state: SandboxState) -> None:
    """The new lead's id is a string at actions[0].create_lead.lead_details.id."""
    answer = create(state, {"email": "new@example.com", "first_name": "New"})
    lead_id = answer["actions"][0]["create_lead"]["lead_details"]["id"]
    assert answer["status"] == "Success" and isinstance(lead_id, str)
    assert state.find(id=lead_id) is state.find(email="NEW@example.com")


@pytest.mark.parametrize("email", ["maria.lopez@example.com", "Maria.Lopez@Example.com",
                                   "deleted.lead@example.com"])  # fmt: skip
def test_create_existing_email_is_244(state: SandboxState, email: str) -> None:
    """No upsert: an email already taken (even by a deleted lead) is 244."""
    assert create(state, {"email": email}) == {
        "status": "Error", "message": "Lead already exists", "type": "244"}  # fmt: skip


def test_create_without_email_is_206(state: SandboxState) -> None:
    """create_lead needs the email."""
    assert create(state, {"id": "1001"})["type"] == "206"


def test_custom_fields_are_stored_and_unknown_ones_ignored(state: SandboxState) -> None:
    """Known identifiers are saved with their option ids; unknown ones silently dropped."""
    fields = [
        {"field_identifier": "color", "field_value": ["620", "622"]},
        {"field_identifier": "plan", "field_value": "631"},
        {"field_identifier": "favorite_dish", "field_value": "lasagna"},
        {"field_identifier": "no_such_field", "field_value": "x"},
    ]
    answer = create(state, {"email": "cf@example.com", "custom_fields": fields})
    assert answer["status"] == "Success"
    lead = state.find(email="cf@example.com")
    assert lead is not None
    assert lead.custom == {"color": [620, 622], "plan": [631], "favorite_dish": "lasagna"}


@pytest.mark.parametrize(
    "custom_fields",
    [
        "color=620",
        ["620"],
        [{"field_identifier": "color"}],
        [{"field_identifier": "color", "field_value": "620"}],
        [{"field_identifier": "color", "field_value": ["999"]}],
        [{"field_identifier": "plan", "field_value": ["631"]}],
        [{"field_identifier": "plan", "field_value": "pro"}],
        [{"field_identifier": "favorite_dish", "field_value": ["a"]}],
    ],
)
def test_wrong_custom_field_format_is_271(state: SandboxState, custom_fields: Any) -> None:
    """Malformed entries, wrong shapes per type and unknown option ids are 271."""
    answer = create(state, {"email": "cf@example.com", "custom_fields": custom_fields})
    assert answer["type"] == "271"
    assert state.find(email="cf@example.com") is None


def test_empty_string_clears_a_custom_field(state: SandboxState) -> None:
    """Sending "" for a field removes its value."""
    create(state, {"email": "c@x.co", "custom_fields": [{"field_identifier": "plan",
                                                           "field_value": "630"}]})  # fmt: skip
    clear = {"email": "c@x.co", "custom_fields": [{"field_identifier": "plan", "field_value": ""}]}
    assert call(state, {"cmd": "edit_lead"}, lead=clear)["status"] == "Success"
    lead = state.find(email="c@x.co")
    assert lead is not None and "plan" not in lead.custom


@pytest.mark.parametrize(("zone", "stored"), [(TIME_ZONES[0], TIME_ZONES[0]), ("Mars/Base", "")])
def test_time_zone_outside_the_76_is_ignored(state: SandboxState, zone: str, stored: str) -> None:
    """A documented time zone is stored; any other is ignored and the lead still saved."""
    answer = create(state, {"email": "tz@x.co", "lead_preferred_time_zone": zone})
    lead = state.find(email="tz@x.co")
    assert answer["status"] == "Success" and lead is not None
    assert lead.fields.get("lead_preferred_time_zone", "") == stored


def test_edit_finds_by_id_before_email(state: SandboxState) -> None:
    """When both id and email are given, the id wins."""
    kenji = state.find(email="kenji.tanaka@example.org")
    assert kenji is not None
    lead = {"id": kenji.id, "email": "maria.lopez@example.com", "first_name": "K."}
    assert call(state, {"cmd": "edit_lead"}, lead=lead)["status"] == "Success"
    assert kenji.fields["first_name"] == "K."


@pytest.mark.parametrize(
    ("lead", "kartra_type"),
    [
        ({"email": "nobody@example.com"}, "243"),
        ({"id": "99999", "email": "maria.lopez@example.com"}, "243"),
        ({"email": "deleted.lead@example.com"}, "245"),
        ({"email": "maria.lopez@example.com", "new_email": "kenji.tanaka@example.org"}, "244"),
    ],
)
@pytest.mark.parametrize("cmd", ["edit_lead", "search_lead"])
def test_lead_lookup_errors(
    state: SandboxState, cmd: str, lead: dict[str, str], kartra_type: str
) -> None:
    """Not found 243, deleted 245, new_email taken 244 (edit only)."""
    if cmd == "search_lead" and "new_email" in lead:
        kartra_type = "Success"
    answer = call(state, {"cmd": cmd}, lead=lead)
    assert answer.get("type", answer["status"]) == kartra_type


def test_new_email_changes_the_email(state: SandboxState) -> None:
    """new_email moves the lead to its new address."""
    lead = {"email": "maria.lopez@example.com", "new_email": "maria@new.example"}
    call(state, {"cmd": "edit_lead"}, lead=lead)
    assert state.find(email="maria.lopez@example.com") is None
    assert state.find(email="maria@new.example") is not None


def test_search_answer_shape(state: SandboxState) -> None:
    """search_lead answers with the reference's shape."""
    answer = call(state, {"cmd": "search_lead"}, lead={"email": "maria.lopez@example.com"})
    assert answer == {"status": "Success", "message": "Lead found", "lead_details": {"id": "1001"}}


def test_get_lead_details(state: SandboxState) -> None:
    """get_lead returns the lead with tags, lists, sequences and every custom field."""
    create(state, {"email": "g@x.co", "custom_fields": [{"field_identifier": "color",
                                                         "field_value": ["621"]}]},
           {"cmd": "assign_tag", "tag_name": "VIP"},
           {"cmd": "subscribe_lead_to_list", "list_name": "Events"},
           {"cmd": "subscribe_lead_to_sequence_at_step", "sequence_name": "Onboarding",
            "step": "2"})  # fmt: skip
    details = state.execute({**AUTH, "get_lead": {"email": "g@x.co"}})["lead_details"]
    assert details["tags"] == [{"tag_name": "VIP"}]
    assert details["lists"] == [{"list_name": "Events", "active": "1"}]
    assert details["sequences"][0]["step"] == "2"
    color = next(f for f in details["custom_fields"] if f["field_identifier"] == "color")
    assert color["field_value"] == [{"option_id": "621", "option_value": "blue"}]
    assert len(details["custom_fields"]) == 5 and isinstance(details["id"], str)


@pytest.mark.parametrize(
    ("query", "kartra_type"),
    [({"email": "nobody@x.co"}, "234"), ({"email": "deleted.lead@example.com"}, "245")],
)
def test_get_lead_errors(state: SandboxState, query: dict[str, str], kartra_type: str) -> None:
    """get_lead: not found is 234, deleted 245."""
    assert state.execute({**AUTH, "get_lead": query})["type"] == kartra_type


@pytest.mark.parametrize("query", [{"id": "1001"}, {"id": "1001", "email": ""}, {"email": ["x"]}])
def test_get_lead_without_email_is_206(state: SandboxState, query: dict[str, Any]) -> None:
    """get_lead needs the email (reference: "required to identify the lead"); an id is not one."""
    answer = state.execute({**AUTH, "get_lead": query})
    assert answer == {"status": "Error", "message": "Email or lead id is required", "type": "206"}


def test_get_lead_ignores_an_id_beside_the_email(state: SandboxState) -> None:
    """With an email, get_lead finds the lead by email whatever id comes with it."""
    query = {"email": "kenji.tanaka@example.org", "id": "1001"}
    details = state.execute({**AUTH, "get_lead": query})["lead_details"]
    assert (details["email"], details["id"]) == ("kenji.tanaka@example.org", "1002")


# -- date_joined: Kartra's clock ---------------------------------------------------------------


def joined(state: SandboxState, email: str) -> str:
    """The lead's date_joined as get_lead answers it."""
    return str(state.execute({**AUTH, "get_lead": {"email": email}})["lead_details"]["date_joined"])


def create_between(
    state: SandboxState, email: str, skew_s: float = 0.0
) -> tuple[datetime, datetime]:
    """Create a lead; return Kartra's clock (UTC, `skew_s` ahead) just before and after."""
    before = datetime.now(UTC) + timedelta(seconds=skew_s)
    assert create(state, {"email": email})["status"] == "Success"
    return before, datetime.now(UTC) + timedelta(seconds=skew_s)


def assert_joined_between(text: str, zone: tzinfo, before: datetime, after: datetime) -> None:
    """`text` ('YYYY-MM-DD HH:MM:SS' in `zone`) names a moment between before and after.

    The format drops the fraction of a second, hence the second's grace below `before`;
    both folds are tried so that New York's repeated autumn hour cannot fail the test.
    """
    local = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    moments = {local.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}
    assert any(before - timedelta(seconds=1) < moment <= after for moment in moments), (
        text, before, after)  # fmt: skip


def test_seeded_lead_without_date_joined_joined_in_the_past(state: SandboxState) -> None:
    """A seeded lead without date_joined gets a fixed date years ago, never "now"."""
    kenji = joined(state, "kenji.tanaka@example.org")
    assert kenji == SEEDED_DATE_JOINED
    assert datetime.strptime(kenji, "%Y-%m-%d %H:%M:%S") < datetime.now() - timedelta(days=365)


def test_seeded_lead_keeps_its_date_joined(state: SandboxState) -> None:
    """A seeded lead's date_joined from the account file is answered as written."""
    assert joined(state, "maria.lopez@example.com") == "2023-06-14 16:05:42"
    state.reset()
    assert joined(state, "maria.lopez@example.com") == "2023-06-14 16:05:42"


@pytest.mark.parametrize(
    "date_joined", ["2020-1-5 9:30:00", "2020-01-15T09:30:00", "2020-01-15", "yesterday", 20200115]
)
def test_seeded_date_joined_must_be_kartra_format(date_joined: Any) -> None:
    """An account file's date_joined other than 'YYYY-MM-DD HH:MM:SS' is refused."""
    data = {"credentials": dict(AUTH), "leads": [{"email": "a@b.co", "date_joined": date_joined}]}
    with pytest.raises(ValueError, match="date_joined"):
        account_from_dict(data)


def test_seeded_date_joined_may_be_a_toml_datetime() -> None:
    """An unquoted TOML date-time is taken as Kartra's 'YYYY-MM-DD HH:MM:SS'."""
    data = tomllib.loads('[[leads]]\nemail = "a@b.co"\ndate_joined = 2021-03-04 05:06:07\n')
    state = SandboxState(account_from_dict({"credentials": dict(AUTH), **data}))
    assert joined(state, "a@b.co") == "2021-03-04 05:06:07"


@pytest.mark.parametrize(
    ("clock", "zone"),
    [("EST", timezone(timedelta(hours=-5))), ("America/New_York", ZoneInfo("America/New_York"))],
)
def test_new_lead_joins_now_on_kartra_clock(state: SandboxState, clock: Any, zone: tzinfo) -> None:
    """A lead created through the API joins "now", written in the clock's zone."""
    state.clock = clock
    before, after = create_between(state, "now@x.co")
    assert_joined_between(joined(state, "now@x.co"), zone, before, after)


@pytest.mark.parametrize("skew_s", [-7200.5, 90.0, 3 * 86400.0])
def test_clock_skew_shifts_date_joined(state: SandboxState, skew_s: float) -> None:
    """clock_skew_s moves Kartra's clock ahead of ours (behind when negative)."""
    state.clock_skew_s = skew_s
    before, after = create_between(state, "skew@x.co", skew_s)
    assert_joined_between(joined(state, "skew@x.co"), timezone(timedelta(hours=-5)), before, after)


@pytest.mark.parametrize(("clock", "july_offset_h"), [("EST", -5), ("America/New_York", -4)])
def test_only_new_york_clock_observes_daylight_time(
    state: SandboxState, clock: Any, july_offset_h: int
) -> None:
    """In July (reached by clock skew) EST stays UTC-5 while America/New_York is UTC-4."""
    now = datetime.now(UTC)
    july = datetime(now.year + 1, 7, 15, 12, tzinfo=UTC)
    state.clock, state.clock_skew_s = clock, (july - now).total_seconds()
    before, after = create_between(state, "july@x.co", state.clock_skew_s)
    text = joined(state, "july@x.co")
    assert_joined_between(text, timezone(timedelta(hours=july_offset_h)), before, after)
    assert text.startswith(f"{now.year + 1}-07-15 ")


# -- lead_details as a JSON string --------------------------------------------------------------


def decoded(answer: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The answer with each lead_details string JSON-decoded, and how many there were."""
    count = 0

    def decode(holder: dict[str, Any]) -> dict[str, Any]:
        nonlocal count
        if "lead_details" not in holder:
            return holder
        assert isinstance(holder["lead_details"], str), holder
        count += 1
        return {**holder, "lead_details": json.loads(holder["lead_details"])}

    answer = decode(answer)
    if "actions" in answer:
        answer["actions"] = [{cmd: decode(d) for cmd, d in e.items()} for e in answer["actions"]]
    return answer, count


MARIA = {"email": "maria.lopez@example.com"}


@pytest.mark.parametrize(
    ("form", "strings"),
    [
        ({"get_lead": MARIA}, 1),
        ({"lead": MARIA, "actions": [{"cmd": "search_lead"}]}, 1),
        ({"lead": MARIA, "actions": [{"cmd": "search_lead"},
                                     {"cmd": "assign_tag", "tag_name": "VIP"}]}, 2),
        ({"lead": {"email": "j@x.co"}, "actions": [{"cmd": "create_lead"},
                                                   {"cmd": "assign_tag", "tag_name": "VIP"}]}, 1),
        ({"lead": {**MARIA, "first_name": "M."}, "actions": [{"cmd": "edit_lead"}]}, 1),
    ],
)  # fmt: skip
def test_lead_details_json_knob(form: dict[str, Any], strings: int) -> None:
    """With lead_details_json every lead_details is a JSON string of the usual object."""
    plain, encoded = (SandboxState(load_account(SAMPLE)) for _ in range(2))
    encoded.lead_details_json = True
    expected = plain.execute({**AUTH, **form})
    answer, count = decoded(encoded.execute({**AUTH, **form}))
    assert (answer, count) == (expected, strings)


# -- chained actions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "kartra_type"),
    [
        ({"cmd": "assign_tag", "tag_name": "VIP"}, "103"),
        ({"cmd": "assign_tag", "tag_name": ""}, "211"),
        ({"cmd": "assign_tag", "tag_name": "Nope"}, "212"),
        ({"cmd": "unassign_tag", "tag_name": "VIP"}, "104"),
        ({"cmd": "unassign_tag"}, "213"),
        ({"cmd": "unassign_tag", "tag_name": "Nope"}, "214"),
        ({"cmd": "subscribe_lead_to_list", "list_name": "Events"}, "101"),
        ({"cmd": "subscribe_lead_to_list", "list_name": ""}, "207"),
        ({"cmd": "subscribe_lead_to_list", "list_name": "Nope"}, "231"),
        ({"cmd": "unsubscribe_lead_from_list", "list_name": "Events"}, "101"),
        ({"cmd": "unsubscribe_lead_from_list"}, "208"),
        ({"cmd": "unsubscribe_lead_from_list", "list_name": "Nope"}, "209"),
        ({"cmd": "give_points_to_lead", "points": "5", "expiration": "30"}, "105"),
        ({"cmd": "give_points_to_lead"}, "215"),
        ({"cmd": "give_points_to_lead", "points": "five"}, "227"),
        ({"cmd": "remove_points_from_lead", "points": "2"}, "106"),
        ({"cmd": "remove_points_from_lead"}, "217"),
        ({"cmd": "remove_points_from_lead", "points": "x"}, "228"),
        ({"cmd": "subscribe_lead_to_sequence_at_step", "sequence_name": "Onboarding",
          "step": "1"}, "107"),
        ({"cmd": "subscribe_lead_to_sequence_at_step", "step": "1"}, "226"),
        ({"cmd": "subscribe_lead_to_sequence_at_step", "sequence_name": "Onboarding"}, "225"),
        ({"cmd": "subscribe_lead_to_sequence_at_step", "sequence_name": "Nope", "step": "1"},
         "219"),
        ({"cmd": "subscribe_lead_to_sequence_at_step", "sequence_name": "Onboarding",
          "step": "one"}, "229"),
        ({"cmd": "subscribe_lead_to_sequence_at_step", "sequence_name": "Onboarding",
          "step": "99"}, "230"),
        ({"cmd": "create_lead"}, "254"),
    ],
)  # fmt: skip
def test_chained_action_types(
    state: SandboxState, action: dict[str, str], kartra_type: str
) -> None:
    """Every chained action answers with its own documented success or error type."""
    answer = create(state, {"email": "chain@x.co"}, action)
    assert detail(answer, 0)["status"] == "Success"
    assert detail(answer, 1)["type"] == kartra_type


def test_points_add_up(state: SandboxState) -> None:
    """give and remove points change the lead's score."""
    create(state, {"email": "p@x.co"}, {"cmd": "give_points_to_lead", "points": "7"},
           {"cmd": "remove_points_from_lead", "points": "2"})  # fmt: skip
    lead = state.find(email="p@x.co")
    assert lead is not None and lead.score == 5


def test_actions_on_an_existing_lead_without_lead_command(state: SandboxState) -> None:
    """An action sent as actions[0] applies to the lead named in `lead`."""
    answer = call(state, {"cmd": "assign_tag", "tag_name": "VIP"},
                  lead={"email": "maria.lopez@example.com"})  # fmt: skip
    maria = state.find(email="maria.lopez@example.com")
    assert detail(answer, 0)["type"] == "103" and maria is not None and maria.tags == ["VIP"]


@pytest.mark.parametrize(("knob", "top_status"), [("Error", "Error"), ("Success", "Success")])
def test_failed_later_action_top_status_knob(
    state: SandboxState, knob: Any, top_status: str
) -> None:
    """The top-level status after a failed later action follows the sandbox's knob."""
    state.failed_action_status = knob
    answer = create(state, {"email": "k@x.co"}, {"cmd": "assign_tag", "tag_name": "Nope"},
                    {"cmd": "assign_tag", "tag_name": "VIP"})  # fmt: skip
    assert answer["status"] == top_status
    assert [detail(answer, i)["status"] for i in range(3)] == ["Success", "Error", "Success"]


def test_stop_after_failed_action_knob(state: SandboxState) -> None:
    """With the knob on, actions after a failed one are not run nor answered."""
    state.stop_after_failed_action = True
    answer = create(state, {"email": "s@x.co"}, {"cmd": "assign_tag", "tag_name": "Nope"},
                    {"cmd": "assign_tag", "tag_name": "VIP"})  # fmt: skip
    assert len(answer["actions"]) == 2


# -- account look-ups and state --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmd", "key", "expected"),
    [
        ("retrieve_account_tags", "account_tags", ["VIP", "Newsletter", "Webinar 2026",
                                                   "Customer", "Churn risk"]),
        ("retrieve_account_lists", "account_lists", ["Weekly digest", "Product updates",
                                                     "Events"]),
        ("retrieve_account_sequences", "account_sequences", ["Onboarding"]),
    ],
)  # fmt: skip
def test_account_lookups(state: SandboxState, cmd: str, key: str, expected: list[str]) -> None:
    """Tags, lists and sequences come back as names."""
    assert call(state, {"cmd": cmd}) == {"status": "Success", key: expected}


def test_retrieve_custom_fields(state: SandboxState) -> None:
    """Custom fields come with their options, ids as strings."""
    fields = call(state, {"cmd": "retrieve_custom_fields"})["custom_fields"]
    color = fields[0]
    assert color["field_identifier"] == "color" and color["field_type"] == "checkbox"
    assert color["field_value"][0] == {"option_id": "620", "option_value": "red"}


def test_reset_restores_the_account_leads(state: SandboxState) -> None:
    """reset forgets every change and brings back the seeded leads."""
    create(state, {"email": "r@x.co"})
    state.reset()
    assert state.find(email="r@x.co") is None
    emails = [lead["fields"]["email"] for lead in state.dump()["leads"]]
    assert emails == ["maria.lopez@example.com", "kenji.tanaka@example.org",
                      "deleted.lead@example.com"]  # fmt: skip


def test_concurrent_creates_of_one_email_make_one_lead(state: SandboxState) -> None:
    """Worker threads racing to create the same email: one lead, every other call 244."""
    answers: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(create(state, {"email": "race@x.co"})))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.get("type", a["status"]) for a in answers) == ["244"] * 15 + ["Success"]


def test_time_zones_are_the_76_documented() -> None:
    """The reference lists 76 time zones, first America/Los_Angeles, last Pacific/Tongatapu."""
    assert len(set(TIME_ZONES)) == 76
    assert (TIME_ZONES[0], TIME_ZONES[-1]) == ("America/Los_Angeles", "Pacific/Tongatapu")
