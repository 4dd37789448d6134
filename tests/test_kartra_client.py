"""The Kartra client: what goes on the wire, and what every kind of answer means."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bulk_loader.errors import ConfigError
from bulk_loader.kartra.actions import (
    assign_tag,
    give_points_to_lead,
    subscribe_lead_to_list,
    subscribe_lead_to_sequence_at_step,
)
from bulk_loader.kartra.client import (
    DEFAULT_API_URL,
    CallResult,
    Credentials,
    KartraClient,
    Outcome,
    answer_field,
    interpret,
)
from bulk_loader.kartra.formencode import decode_body, encode

KEY, PASSWORD = "SENTINEL-KEY-7f3a", "SENTINEL-PASSWORD-9c1e"
CREDS = Credentials("app-1", KEY, PASSWORD)
URL = "https://kartra.test/api"


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> KartraClient:
    """A client whose requests go to `handler` instead of the network."""
    return KartraClient(
        CREDS, api_url=URL, http=httpx.Client(transport=httpx.MockTransport(handler))
    )


def answering(body: Any, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda request: httpx.Response(status, content=content)


def raising(exc: type[httpx.RequestError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)

    return handler


def created(*more: dict[str, Any], status: str = "Success") -> dict[str, Any]:
    first = {"create_lead": {"status": "Success", "lead_details": {"id": "1234"}}}
    return {"status": status, "actions": [first, *more]}


# -- the request ---------------------------------------------------------------------------


def test_request_carries_credentials_lead_and_actions_as_php_form() -> None:
    """Credentials ride in the body; actions[0] is the lead command, then the chained ones."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=created())

    client_for(handler).create_lead({"email": "a@b.co"}, then=[assign_tag("VIP")])
    form = decode_body(seen[0].content)
    assert seen[0].method == "POST" and str(seen[0].url) == URL
    assert seen[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert form == {
        "app_id": "app-1",
        "api_key": KEY,
        "api_password": PASSWORD,
        "lead": {"email": "a@b.co"},
        "actions": [{"cmd": "create_lead"}, {"cmd": "assign_tag", "tag_name": "VIP"}],
    }


def test_get_lead_is_sent_without_actions() -> None:
    """get_lead travels as get_lead[email]=..., with no actions array."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(decode_body(request.content))
        return httpx.Response(200, json={"status": "Success", "lead_details": {"id": "9"}})

    result = client_for(handler).get_lead(email="a@b.co")
    assert seen[0]["get_lead"] == {"email": "a@b.co"} and "actions" not in seen[0]
    assert result.outcome is Outcome.OK and result.lead_id == "9"


def test_unset_action_options_are_not_sent() -> None:
    """An optional parameter left out (expiration) does not reach the wire."""
    assert encode({"a": give_points_to_lead(5)}) == [
        ("a[cmd]", "give_points_to_lead"),
        ("a[points]", "5"),
    ]
    assert subscribe_lead_to_sequence_at_step("Onboarding", 2)["step"] == 2


def test_calls_made_counts_across_threads() -> None:
    """calls_made is exact when many workers share one client."""
    client = client_for(answering(created()))
    threads = [
        threading.Thread(target=lambda: [client.create_lead({"email": "x@y.z"}) for _ in range(25)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.calls_made == 200


# -- the API URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://app.kartra.com/api", "http://127.0.0.1:8080/api", "http://localhost/api",
            "http://[::1]:9/api", "http://127.1.2.3/api"],
)  # fmt: skip
def test_accepted_urls(url: str) -> None:
    """https anywhere, plain http only to this machine."""
    assert KartraClient(CREDS, api_url=url).api_url == url


@pytest.mark.parametrize("url", ["http://app.kartra.com/api", "ftp://x/api", "kartra.com/api"])
def test_refused_urls(url: str) -> None:
    """Plain http to another host is refused before anything is sent."""
    with pytest.raises(ConfigError, match="https"):
        KartraClient(CREDS, api_url=url)


def test_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """KARTRA_API_URL overrides the default; the default is Kartra's endpoint."""
    monkeypatch.delenv("KARTRA_API_URL", raising=False)
    assert KartraClient(CREDS).api_url == DEFAULT_API_URL
    monkeypatch.setenv("KARTRA_API_URL", "http://127.0.0.1:1/api")
    assert KartraClient(CREDS).api_url == "http://127.0.0.1:1/api"


# -- credentials never leak ---------------------------------------------------------------


def test_credentials_from_env_name_the_missing_variable() -> None:
    """A missing variable is named; the values that are present are not echoed."""
    with pytest.raises(ConfigError, match="KARTRA_API_PASSWORD") as info:
        Credentials.from_env({"KARTRA_APP_ID": "a", "KARTRA_API_KEY": KEY})
    assert KEY not in str(info.value)


def test_secrets_absent_from_reprs_results_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    """repr, str, results and debug logs never show the API key or password."""
    caplog.set_level(logging.DEBUG)
    outputs = [repr(CREDS), str(CREDS), repr(client_for(answering(created())))]
    for handler in (answering(created()), answering(b"<html>"), raising(httpx.ReadError),
                    raising(httpx.ConnectError)):  # fmt: skip
        outputs.append(repr(client_for(handler).create_lead({"email": "a@b.co"})))
    outputs.append(caplog.text)
    assert not [text for text in outputs if KEY in text or PASSWORD in text]


def test_secrets_absent_from_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused URL's error shows the URL, not the credentials."""
    with pytest.raises(ConfigError) as info:
        KartraClient(CREDS, api_url="http://example.com/api")
    assert KEY not in str(info.value) and PASSWORD not in repr(info.value)


# -- outcomes ------------------------------------------------------------------------------


def whole_call_error(kartra_type: str) -> dict[str, str]:
    return {"status": "Error", "message": "whatever Kartra says", "type": kartra_type}


@pytest.mark.parametrize(
    "kartra_type",
    [
        "201",
        "202",
        "203",
        "204",
        "206",
        "223",
        "224",
        "233",
        "236",
        "238",
        "239",
        "240",
        "241",
        "242",
        "254",
        "262",
    ],
)
def test_whole_call_errors_are_fatal(kartra_type: str) -> None:
    """Errors every row would repeat stop the run."""
    result = client_for(answering(whole_call_error(kartra_type))).create_lead({"email": "a@b.co"})
    assert (result.outcome, result.kartra_type, result.lead_saved) == (
        Outcome.FATAL, kartra_type, False)  # fmt: skip


@pytest.mark.parametrize("kartra_type", ["243", "244", "245", "271", "234", "999"])
def test_lead_errors_reject_the_row(kartra_type: str) -> None:
    """Lead errors, and types nobody documented, fail this row only."""
    result = client_for(answering(whole_call_error(kartra_type))).edit_lead({"email": "a@b.co"})
    assert (result.outcome, result.kartra_type) == (Outcome.REJECTED, kartra_type)


@pytest.mark.parametrize("top_status", ["Error", "Success"])
def test_failed_chained_action_is_partial(top_status: str) -> None:
    """The lead is saved though a later action failed, whatever the top-level status says."""
    failed_tag = {"assign_tag": {"status": "Error", "type": "212", "message": "no such tag"}}
    result = client_for(answering(created(failed_tag, status=top_status))).create_lead(
        {"email": "a@b.co"}, then=[assign_tag("Nope")]
    )
    assert (result.outcome, result.lead_saved, result.lead_id, result.kartra_type) == (
        Outcome.REJECTED, True, "1234", "212")  # fmt: skip
    assert [a.ok for a in result.actions] == [True, False]


def test_unanswered_action_counts_as_failed() -> None:
    """An action sent but missing from the answer is never taken for a success."""
    result = client_for(answering(created())).create_lead(
        {"email": "a@b.co"}, then=[assign_tag("VIP")]
    )
    assert result.outcome is Outcome.REJECTED and result.lead_saved
    assert result.actions[1].status == "NotAnswered"


def test_fatal_type_inside_actions_is_fatal() -> None:
    """A whole-call type reported inside an action entry still stops the run."""
    body = {"status": "Error", "actions": [{"create_lead": whole_call_error("203")}]}
    assert client_for(answering(body)).create_lead({"email": "a@b.co"}).outcome is Outcome.FATAL


@pytest.mark.parametrize("top_type", ["262", "212"])
def test_a_fatal_type_on_a_later_action_is_not_hidden_by_an_earlier_refusal(
    top_type: str,
) -> None:
    """assign_tag 212, then subscribe 262: fatal, wherever it stands in the answer."""
    tag = {"assign_tag": {"status": "Error", "type": "212", "message": "no such tag"}}
    listed = {"subscribe_lead_to_list": {"status": "Error", "type": "262", "message": "no"}}
    body = {**created(tag, listed), "status": "Error", "type": top_type}
    result = client_for(answering(body)).create_lead(
        {"email": "a@b.co"}, then=[assign_tag("Nope"), subscribe_lead_to_list("News")]
    )
    assert (result.outcome, result.kartra_type, result.lead_saved) == (
        Outcome.FATAL, "262", True)  # fmt: skip


def test_success_reads_lead_id_from_first_action() -> None:
    """The new id is at actions[0].create_lead.lead_details.id."""
    result = client_for(answering(created())).create_lead({"email": "a@b.co"})
    assert (result.outcome, result.lead_saved, result.lead_id) == (Outcome.OK, True, "1234")


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (429, b"", Outcome.RATE_LIMITED),
        (200, b'{"status":"Error","type":"429","message":"Too many requests"}',
         Outcome.RATE_LIMITED),
        (503, b"<html>Service Unavailable</html>", Outcome.TRANSIENT),
        (500, b'{"status":"Error"}', Outcome.TRANSIENT),
        (200, b"<html>Bad gateway</html>", Outcome.TRANSIENT),
        (200, b"[1, 2]", Outcome.TRANSIENT),
        (404, b'{"error": "no route"}', Outcome.FATAL),
        (403, b"<html>Forbidden</html>", Outcome.FATAL),
        (301, b"", Outcome.FATAL),
        (408, b"", Outcome.TRANSIENT),
        (200, b'{"message": "hello"}', Outcome.UNKNOWN),
    ],
)  # fmt: skip
def test_http_level_outcomes(status: int, body: bytes, outcome: Outcome) -> None:
    """429 in either form, 5xx, non-JSON and foreign answers are classified, never raised."""
    assert interpret(status, body, ["create_lead"]).outcome is outcome


def test_json_served_as_html_is_parsed() -> None:
    """The body is JSON whatever the Content-Type says."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.dumps(created()).encode()
        return httpx.Response(200, content=body, headers={"Content-Type": "text/html"})

    assert client_for(handler).create_lead({"email": "a@b.co"}).outcome is Outcome.OK


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (httpx.ConnectError, Outcome.TRANSIENT),
        (httpx.ConnectTimeout, Outcome.TRANSIENT),
        (httpx.PoolTimeout, Outcome.TRANSIENT),
        (httpx.ReadTimeout, Outcome.UNKNOWN),
        (httpx.ReadError, Outcome.UNKNOWN),
        (httpx.RemoteProtocolError, Outcome.UNKNOWN),
        (httpx.WriteError, Outcome.UNKNOWN),
        (httpx.DecodingError, Outcome.UNKNOWN),
    ],
)
def test_network_failures(exc: type[httpx.RequestError], outcome: Outcome) -> None:
    """Failures before sending are transient; once sent, the server may have acted."""
    result: CallResult = client_for(raising(exc)).create_lead({"email": "a@b.co"})
    assert (result.outcome, result.lead_saved, result.http_status) == (outcome, False, None)
    assert exc.__name__ in result.message


def test_refused_connection_is_transient() -> None:
    """Nothing listening on the port: the call is safe to send again."""
    with KartraClient(CREDS, api_url="http://127.0.0.1:9/api", timeout=2) as client:
        assert client.search_lead(email="a@b.co").outcome is Outcome.TRANSIENT


@pytest.mark.parametrize(
    "body",
    [
        {"status": "Success", "account_tags": ["VIP"]},
        {"status": "Success", "actions": [{"retrieve_account_tags": {
            "status": "Success", "account_tags": ["VIP"]}}]},
    ],
)  # fmt: skip
def test_answer_field_reads_top_level_or_first_action(body: dict[str, Any]) -> None:
    """A look-up's list is found whether Kartra puts it at the top or inside actions[0]."""
    result = client_for(answering(body)).retrieve_account_tags()
    assert result.outcome is Outcome.OK and not result.lead_saved
    assert answer_field(result, "account_tags") == ["VIP"]
    assert answer_field(result, "account_lists") is None
