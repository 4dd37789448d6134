"""Contract: every request and response example of Kartra's reference page holds through
our client against the sandbox, over a real socket (lead-api-reference.txt)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bulk_loader.kartra.actions import assign_tag, subscribe_lead_to_list
from bulk_loader.kartra.client import Credentials, KartraClient, Outcome
from bulk_loader.sandbox import RunningSandbox, serve_in_thread
from bulk_loader.sandbox.account import account_from_dict

CREDS = Credentials("contract-app", "contract-key", "contract-password")
# The fields, options, tag and list the reference's examples name.
ACCOUNT = account_from_dict(
    {
        "credentials": {"app_id": CREDS.app_id, "api_key": CREDS.api_key,
                        "api_password": CREDS.api_password},
        "custom_fields": {
            "text1": {"type": "input_field"},
            "dropdown1": {"type": "drop_down", "options": {"first": 611, "second": 612}},
            "checkbox1": {"type": "checkbox", "options": {"a": 620, "b": 621}},
        },
        "account": {"tags": ["test"], "lists": ["test"]},
        "leads": [{"email": "test@kartra.com"}, {"email": "JoeSmith@domain.com"}],
    }
)  # fmt: skip
# The reference's create_lead and edit_lead `lead` examples.
CREATE_LEAD = {
    "email": "John@kartra.com",
    "first_name": "John",
    "last_name": "Smith",
    "custom_fields": {
        "0": {"field_identifier": "text1", "field_value": "text message"},
        "1": {"field_identifier": "dropdown1", "field_value": "612"},
        "2": {"field_identifier": "checkbox1", "field_value": [620]},
    },
}
EDIT_LEAD = {**CREATE_LEAD, "email": "john@kartra.com", "new_email": "john@email.com"}
# Every key of the reference's get_lead success example.
GET_LEAD_KEYS = set(
    str.split(
        "id first_name middle_name last_name last_name2 company sales_tax_id email username "
        "date_joined phone_country_code phone ip address zip city state country lead_picture score "
        "source source_id ip_country website facebook twitter linkedin lead_preferred_time_zone "
        "referring_id blacklisted gdpr_lead_status gdpr_lead_status_date gdpr_lead_communications "
        "gdpr_lead_status_ip tags lists sequences transactions memberships custom_fields calendars "
        "surveys"
    )
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(ACCOUNT, rate=None) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[KartraClient]:
    sandbox.reset()
    with KartraClient(CREDS, api_url=sandbox.url) as kartra:
        yield kartra


def test_create_lead_example(client: KartraClient, sandbox: RunningSandbox) -> None:
    """The create example succeeds with the documented answer and stores every field."""
    result = client.create_lead(CREATE_LEAD)
    assert result.body == {"status": "Success", "actions": [{"create_lead": {
        "status": "Success", "message": "Lead created",
        "lead_details": {"id": result.lead_id}}}]}  # fmt: skip
    lead = sandbox.state.find(email="john@kartra.com")
    assert lead is not None and lead.id == result.lead_id
    assert lead.custom == {"text1": "text message", "dropdown1": [612], "checkbox1": [620]}


def test_create_lead_error_example(client: KartraClient) -> None:
    """Creating the same lead again answers exactly the documented 244 example."""
    client.create_lead(CREATE_LEAD)
    result = client.create_lead(CREATE_LEAD)
    assert result.body == {"status": "Error", "message": "Lead already exists", "type": "244"}
    assert (result.outcome, result.lead_saved) == (Outcome.REJECTED, False)


def test_chained_actions_example(client: KartraClient, sandbox: RunningSandbox) -> None:
    """create_lead, then assign_tag, then subscribe_lead_to_list, in one call."""
    result = client.create_lead(CREATE_LEAD, then=[assign_tag("test"),
                                                   subscribe_lead_to_list("test")])  # fmt: skip
    assert result.outcome is Outcome.OK
    assert [a.cmd for a in result.actions] == ["create_lead", "assign_tag",
                                               "subscribe_lead_to_list"]  # fmt: skip
    lead = sandbox.state.find(id=result.lead_id)
    assert lead is not None and lead.tags == ["test"] and lead.lists == {"test": "1"}


def test_edit_lead_example(client: KartraClient, sandbox: RunningSandbox) -> None:
    """The edit example finds John by email and moves him to new_email."""
    created = client.create_lead(CREATE_LEAD)
    result = client.edit_lead(EDIT_LEAD)
    assert result.body == {"status": "Success", "actions": [{"edit_lead": {
        "status": "Success", "message": "Lead edited",
        "lead_details": {"id": created.lead_id}}}]}  # fmt: skip
    assert sandbox.state.find(email="john@email.com") is not None


def test_edit_lead_error_example(client: KartraClient) -> None:
    """new_email already taken by another lead is the documented 244 example."""
    client.create_lead(CREATE_LEAD)
    result = client.edit_lead({**EDIT_LEAD, "new_email": "test@kartra.com"})
    assert result.body == {"status": "Error", "message": "Lead already exists", "type": "244"}


@pytest.mark.parametrize(
    ("lead", "answer"),
    [
        ({"email": "test@kartra.com"},
         {"status": "Success", "message": "Lead found", "lead_details": {"id": "1001"}}),
        ({"email": "nobody@kartra.com"},
         {"status": "Error", "message": "No lead found", "type": "243"}),
    ],
)  # fmt: skip
def test_search_lead_examples(client: KartraClient, lead: dict[str, str], answer: Any) -> None:
    """search_lead answers with the reference's success shape, and 243 when not found."""
    assert client.search_lead(email=lead["email"]).body == answer


def test_get_lead_example(client: KartraClient) -> None:
    """get_lead by email returns every key of the reference's example, ids as strings."""
    result = client.get_lead(email="JoeSmith@domain.com")
    assert result.outcome is Outcome.OK and result.body is not None
    details = result.body["lead_details"]
    assert set(details) >= GET_LEAD_KEYS and details["id"] == result.lead_id == "1002"
    assert all(isinstance(details[key], str) for key in ("id", "score", "blacklisted"))


def test_get_lead_error_example(client: KartraClient) -> None:
    """An unknown email answers exactly the documented 234 example."""
    result = client.get_lead(email="nobody@domain.com")
    assert result.body == {"status": "Error", "message": "No lead found", "type": "234"}
    assert result.outcome is Outcome.REJECTED


def test_custom_fields_answer_shape(client: KartraClient) -> None:
    """get_lead's custom_fields follow the reference: text as string, choices as options."""
    created = client.create_lead(CREATE_LEAD)
    assert created.lead_id is not None
    result = client.get_lead(email=CREATE_LEAD["email"])
    assert result.body is not None
    fields = {f["field_identifier"]: f for f in result.body["lead_details"]["custom_fields"]}
    assert fields["text1"]["field_value"] == "text message"
    checkbox = {"field_id": fields["checkbox1"]["field_id"], "field_identifier": "checkbox1",
                "field_type": "checkbox",
                "field_value": [{"option_id": "620", "option_value": "a"}]}  # fmt: skip
    assert fields["checkbox1"] == checkbox
