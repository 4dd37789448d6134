"""RowSender: each Kartra answer leads to the right row outcome and the right next call.

A scripted fake client stands in for Kartra here, so that every branch (lost answers,
races, rate limits) can be forced; the same behaviours are exercised end to end against
the sandbox in test_run_import.py.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bulk_loader.kartra.client import ActionResult, CallResult, Outcome
from bulk_loader.kartra.clock import stamp_seconds
from bulk_loader.outcomes import Witness
from bulk_loader.sending.pacing import RateLimiter, RetryPolicy, UpsertStrategy
from bulk_loader.sending.pool import send_all
from bulk_loader.sending.sender import SETTLE, RowSender
from bulk_loader.validation.validator import LeadRow

EST = timezone(timedelta(hours=-5))  # Kartra's documented clock for date_joined


def kartra_stamp(seconds_ago: float = 0.0) -> str:
    """date_joined as Kartra writes it for a lead created `seconds_ago`."""
    moment = datetime.now(EST) - timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def joined(stamp: str, lead_id: str = "41") -> CallResult:
    """get_lead's answer for a lead with this date_joined."""
    details = {"id": lead_id, "date_joined": stamp}
    return replace(answer(lead_id=lead_id), body={"status": "Success", "lead_details": details})


def answer(
    outcome: Outcome = Outcome.OK,
    kartra_type: str | None = None,
    lead_id: str | None = "7",
    lead_saved: bool | None = None,
    failed_action: str | None = None,
) -> CallResult:
    saved = outcome is Outcome.OK if lead_saved is None else lead_saved
    actions = [ActionResult("create_lead", "Success" if saved else "Error", kartra_type, "")]
    if failed_action:
        actions.append(ActionResult(failed_action, "Error", "212", "Tag does not exist"))
    return CallResult(
        outcome=outcome,
        lead_saved=saved,
        lead_id=lead_id if saved else None,
        kartra_type=kartra_type,
        message=f"answer {kartra_type or outcome.value}",
        actions=tuple(actions),
        http_status=503 if outcome is Outcome.TRANSIENT else 200,
        body=None,
    )


class ScriptedClient:
    """Answers each command from a per-command script; records every call made."""

    def __init__(self, **scripts: list[CallResult]) -> None:
        self.scripts = {cmd: list(answers) for cmd, answers in scripts.items()}
        self.calls: list[str] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def _next(self, cmd: str, payload: Mapping[str, Any] | None = None) -> CallResult:
        with self.lock:
            self.calls.append(cmd)
            self.sent.append((cmd, dict(payload or {})))
            script = self.scripts.get(cmd) or [answer()]
            return script.pop(0) if len(script) > 1 else script[0]

    def create_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult:
        return self._next("create_lead", lead)

    def edit_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult:
        return self._next("edit_lead", lead)

    def search_lead(self, *, email: str | None = None, id: str | None = None) -> CallResult:
        return self._next("search_lead", {"email": email} if email else {"id": id})

    def get_lead(self, *, email: str) -> CallResult:
        """Scripted, or else a lead that joined just now (this row's own create)."""
        if "get_lead" not in self.scripts:
            self.scripts["get_lead"] = [joined(kartra_stamp())]
            try:
                return self._next("get_lead", {"email": email})
            finally:
                del self.scripts["get_lead"]
        return self._next("get_lead", {"email": email})


ROW = LeadRow(
    row=2,
    cells=("ann@example.com",),
    lead={"email": "ann@example.com"},
    tags=("VIP",),
    lists=(),
    key="ann@example.com",
)


def sender_for(client: ScriptedClient, mode: str, *, clock_known: bool = True) -> RowSender:
    """A sender; `clock_known`: as if this run had already read one of its creates."""
    sender = RowSender(client, RateLimiter(None), mode=mode, policy=RetryPolicy.instant())
    if clock_known:
        now = time.time()
        sender.clock.learn(Witness("w@example.com", now, now), _seconds(kartra_stamp()))
    return sender


def _seconds(stamp: str) -> float:
    seconds = stamp_seconds(stamp)
    assert seconds is not None
    return seconds


def test_create_ok_is_created_with_the_lead_id() -> None:
    """A successful create reports created and Kartra's id, in one call."""
    client = ScriptedClient()
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.lead_id, outcome.calls) == ("created", "7", 1)


def test_create_of_existing_lead_fails_with_244() -> None:
    """In create mode, 'Lead already exists' is a failure, not retried."""
    client = ScriptedClient(create_lead=[answer(Outcome.REJECTED, "244")])
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.error_type, client.calls) == ("failed", "244", ["create_lead"])


def test_failed_chained_action_makes_the_row_partial() -> None:
    """The lead was saved but a tag failed: partial, with the tag's error."""
    client = ScriptedClient(create_lead=[answer(failed_action="assign_tag")])
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.lead_id, outcome.error_type) == ("partial", "7", "212")


def test_lost_create_that_landed_is_not_sent_again() -> None:
    """A create whose answer was lost is settled by search: found means created."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert outcome.status == "created" and outcome.lead_id == "41"
    # get_lead: the lead joined just now (no earlier date), so it is this row's own.
    assert client.calls == ["create_lead", "search_lead", "get_lead", "edit_lead"]


def test_lost_create_that_did_not_land_is_sent_again() -> None:
    """Not found by search: the create is sent again, once."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False), answer(lead_id="9")],
        search_lead=[answer(Outcome.REJECTED, "243", lead_saved=False)],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.lead_id) == ("created", "9")
    assert client.calls == ["create_lead", "search_lead", "create_lead"]


def test_upsert_lost_create_found_sends_the_whole_row_as_an_edit() -> None:
    """The lead may have existed (a lost 244): the row's fields go again, by id."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
    )
    row = replace(ROW, lead={"email": "ann@example.com", "city": "Oslo"})
    outcome = sender_for(client, "upsert").send(row)
    # get_lead gives no earlier join date: the lead is this row's own.
    assert (outcome.status, outcome.lead_id) == ("created", "41")
    assert client.sent[-1] == ("edit_lead", {"city": "Oslo", "id": "41"})


def test_a_244_after_a_lost_answer_is_our_own_lead_not_a_failure() -> None:
    """Lost answer, search misses (not committed yet), resend says 244: search again."""
    lost = answer(Outcome.UNKNOWN, lead_saved=False)
    client = ScriptedClient(
        create_lead=[lost, answer(Outcome.REJECTED, "244")],
        search_lead=[answer(Outcome.REJECTED, "243", lead_saved=False), answer(lead_id="41")],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.lead_id) == ("created", "41")


@pytest.mark.parametrize(
    "lead",
    [
        {"email": "ann@example.com", "new_email": "ann@new.example.com"},
        {"id": "41", "email": "ann@example.com"},
    ],
    ids=["new_email", "id"],
)
def test_upsert_of_a_row_about_an_existing_lead_edits_first(lead: dict[str, str]) -> None:
    """A rename or an id names an existing lead: creating first would make a second one."""
    client = ScriptedClient()
    outcome = sender_for(client, "upsert").send(replace(ROW, lead=lead))
    assert outcome.status == "updated" and client.calls == ["edit_lead"]


def test_lost_rename_is_settled_by_searching_both_addresses() -> None:
    """A lost rename landed if the new address finds a lead and the old one is gone."""
    client = ScriptedClient(
        edit_lead=[answer(Outcome.UNKNOWN, lead_saved=False), answer(lead_id="41")],
        search_lead=[answer(lead_id="41"), answer(Outcome.REJECTED, "243", lead_saved=False)],
    )
    row = replace(ROW, lead={"email": "ann@example.com", "new_email": "ann@new.example.com"})
    outcome = sender_for(client, "edit").send(row)
    assert (outcome.status, outcome.lead_id) == ("updated", "41")
    assert client.sent[1:3] == [
        ("search_lead", {"email": "ann@new.example.com"}),
        ("search_lead", {"email": "ann@example.com"}),
    ]
    assert client.sent[3] == ("edit_lead", {"id": "41"})


def test_a_new_address_that_belongs_to_someone_else_is_not_a_landed_rename() -> None:
    """Old address still there: the rename did not land; sent again, Kartra says 244."""
    client = ScriptedClient(
        edit_lead=[answer(Outcome.UNKNOWN, lead_saved=False), answer(Outcome.REJECTED, "244")],
        search_lead=[answer(lead_id="99"), answer(lead_id="7")],
    )
    row = replace(ROW, lead={"email": "ann@example.com", "new_email": "bob@example.com"})
    outcome = sender_for(client, "edit").send(row)
    assert (outcome.status, outcome.error_type) == ("failed", "244")
    assert ("edit_lead", {"id": "99"}) not in client.sent


def lost_create_of_an_old_lead() -> ScriptedClient:
    """A create whose answer is lost; search finds a lead that joined Kartra in 2020."""
    return ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
        get_lead=[joined("2020-01-02 03:04:05")],
    )


def test_a_lost_create_of_a_lead_that_existed_long_before_fails_in_create_mode() -> None:
    """Search finds the email, but the lead joined days ago: the lost answer was a 244."""
    client = lost_create_of_an_old_lead()
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.error_type) == ("failed", "244")
    assert "edit_lead" not in client.calls


def test_upsert_reports_a_lost_create_of_an_old_lead_as_updated() -> None:
    """The same in upsert: the existing lead is edited, and the row says updated."""
    client = lost_create_of_an_old_lead()
    outcome = sender_for(client, "upsert").send(ROW)
    assert outcome.status == "updated"
    assert client.sent[-1] == ("edit_lead", {"email": "ann@example.com"})


def test_a_server_error_after_which_kartra_may_have_acted_is_settled_not_failed() -> None:
    """A 502 may come after the lead was written: a 244 on the retry is searched."""
    gateway = replace(answer(Outcome.TRANSIENT, lead_saved=False), http_status=502)
    client = ScriptedClient(
        create_lead=[gateway, answer(Outcome.REJECTED, "244")],
        search_lead=[answer(lead_id="41")],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.lead_id) == ("created", "41")


def test_a_refused_action_after_the_lead_was_saved_is_never_resent() -> None:
    """A chained action answered 429 while the lead was saved: partial, not a 2nd create."""
    saved = replace(answer(failed_action="assign_tag"), outcome=Outcome.RATE_LIMITED)
    client = ScriptedClient(create_lead=[saved])
    outcome = sender_for(client, "create").send(ROW)
    assert outcome.status == "partial" and client.calls == ["create_lead"]


def test_lookup_reports_a_deleted_lead_as_would_fail() -> None:
    """--lookup on a deleted lead: would_fail 245, not an unexplained unknown."""
    client = ScriptedClient(search_lead=[answer(Outcome.REJECTED, "245", lead_saved=False)])
    sender = RowSender(client, RateLimiter(None), mode="upsert", lookup_only=True)
    outcome = sender.send(ROW)
    assert (outcome.status, outcome.error_type) == ("would_fail", "245")


def test_lost_edit_with_idempotent_actions_is_sent_again() -> None:
    """Tags and lists are idempotent, so a lost edit is simply repeated."""
    client = ScriptedClient(edit_lead=[answer(Outcome.UNKNOWN, lead_saved=False), answer()])
    outcome = sender_for(client, "edit").send(ROW)
    assert outcome.status == "updated" and client.calls == ["edit_lead", "edit_lead"]


def test_edit_of_missing_lead_fails_with_243() -> None:
    """In edit mode, 'No lead found' is a failure."""
    client = ScriptedClient(edit_lead=[answer(Outcome.REJECTED, "243")])
    assert sender_for(client, "edit").send(ROW).status == "failed"


@pytest.mark.parametrize(
    ("script", "expected_status", "expected_calls"),
    [
        ({}, "created", ["create_lead"]),
        (
            {"create_lead": [answer(Outcome.REJECTED, "244")]},
            "updated",
            ["create_lead", "edit_lead"],
        ),
    ],
)
def test_upsert_creates_then_edits_when_the_lead_exists(
    script: dict[str, list[CallResult]], expected_status: str, expected_calls: list[str]
) -> None:
    """Upsert starts with create; on 244 it edits and reports updated."""
    client = ScriptedClient(**script)
    outcome = sender_for(client, "upsert").send(ROW)
    assert outcome.status == expected_status and client.calls == expected_calls


def test_upsert_switches_to_edit_first_when_most_leads_exist() -> None:
    """After seeing mostly existing leads, upsert tries edit first: one call per row."""
    client = ScriptedClient(create_lead=[answer(Outcome.REJECTED, "244")])
    sender = sender_for(client, "upsert")
    sender.send(ROW)
    client.calls.clear()
    assert sender.send(ROW).status == "updated" and client.calls == ["edit_lead"]


def test_upsert_strategy_follows_the_recent_majority() -> None:
    """Edit goes first only while existing leads outnumber new ones among recent rows."""
    strategy = UpsertStrategy(window=4)
    assert not strategy.edit_first()
    strategy.observe(existed=True)
    assert strategy.edit_first()
    for _ in range(4):
        strategy.observe(existed=False)
    assert not strategy.edit_first()
    for _ in range(3):
        strategy.observe(existed=True)
    assert strategy.edit_first()  # the old run of new leads has left the window


def test_rate_limited_call_is_sent_again() -> None:
    """429 is retried and every attempt is counted."""
    client = ScriptedClient(create_lead=[answer(Outcome.RATE_LIMITED, "429"), answer()])
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.attempts) == ("created", 2)


def test_transient_failures_give_up_after_the_policy_s_attempts() -> None:
    """A server that never acts: failed with the cause after a bounded number of tries."""
    client = ScriptedClient(create_lead=[answer(Outcome.TRANSIENT, lead_saved=False)])
    sender = RowSender(
        client,
        RateLimiter(None),
        mode="create",
        policy=RetryPolicy(transient_attempts=3, base_delay=0, max_delay=0),
    )
    outcome = sender.send(ROW)
    assert (outcome.status, outcome.attempts) == ("failed", 3)


def test_fatal_answer_halts_every_further_call() -> None:
    """A fatal answer is kept for the run and no other call is sent."""
    client = ScriptedClient(create_lead=[answer(Outcome.FATAL, "203", lead_saved=False)])
    sender = sender_for(client, "create")
    sender.send(ROW)
    assert sender.fatal is not None and sender.halt.is_set()
    assert sender.send(ROW).status == "not_sent"
    assert client.calls == ["create_lead"]


def test_send_all_reports_every_row_once() -> None:
    """A pool of workers returns exactly one outcome per row."""
    rows = [
        LeadRow(n, (), {"email": f"u{n}@example.com"}, (), (), f"u{n}@example.com")
        for n in range(2, 202)
    ]
    sender = sender_for(ScriptedClient(), "create")
    outcomes = [outcome for _, outcome in send_all(rows, sender, workers=4)]
    assert sorted(o.row for o in outcomes) == list(range(2, 202))
    assert {o.status for o in outcomes} == {"created"}


class FakeTime(threading.Event):
    """A clock that only moves when somebody waits on it."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def wait(self, timeout: float | None = None) -> bool:
        self.now += timeout or 0.0
        return False


def test_rate_limiter_spaces_calls_evenly_under_the_limit() -> None:
    """Calls go out evenly at the current pace, which starts 3% under `rate`."""
    time = FakeTime()
    limiter = RateLimiter(20, clock=lambda: time.now)
    sent_at = []
    for _ in range(21):
        assert limiter.acquire(time)
        sent_at.append(time.now)
    assert limiter.rate == pytest.approx(20 * 0.97)
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(sent_at)}
    assert gaps == {round(1 / (20 * 0.97), 9)}


def test_a_burst_of_429s_slows_the_pace_once_per_crowded_second() -> None:
    """429s within a second are one cut, sized by how many came: a nudge, then a step."""
    time = FakeTime()
    limiter = RateLimiter(20, clock=lambda: time.now)
    before = limiter.rate
    limiter.throttled()  # the first: a nudge at once
    after_one = limiter.rate
    for _ in range(4):  # the rest of that crowded second: no further cut yet
        limiter.throttled()
        limiter.accepted()
    assert after_one == pytest.approx(before * (1 - limiter.CUT))
    time.now += 1.01
    grown = limiter.rate
    limiter.throttled()  # a second later: one cut for the five since the first
    assert limiter.rate == pytest.approx(grown * (1 - 5 * limiter.CUT))


def test_a_quiet_link_recovers_the_pace_but_never_passes_the_limit() -> None:
    """Accepted calls raise the pace a little each, up to 99.5% of `rate`, not beyond."""
    time = FakeTime()
    limiter = RateLimiter(20, clock=lambda: time.now)
    for _ in range(3):
        limiter.throttled()
        time.now += 1.0
    slowed = limiter.rate
    for _ in range(200):
        limiter.accepted()
    assert limiter.rate > slowed
    for _ in range(20_000):
        limiter.accepted()
    assert limiter.rate == pytest.approx(20 * 0.995)


def test_one_429_is_sent_again_at_once_and_three_crowded_seconds_pause_the_app() -> None:
    """A lone 429 costs one slot; 429s in three seconds with none accepted pause it."""
    time = FakeTime()
    limiter = RateLimiter(20, clock=lambda: time.now)
    limiter.acquire(time)
    for _ in range(3):  # one crowded moment: all the calls in flight answered 429
        limiter.throttled(pause=1.0)
    limiter.acquire(time)
    assert time.now < 0.1
    for _ in range(2):
        time.now += 1.01
        limiter.throttled(pause=1.0)
    start = time.now
    limiter.acquire(time)
    assert time.now >= start + 1.0


def test_rate_limiter_pause_holds_back_slots_already_handed_out() -> None:
    """A caller whose slot falls inside a pause that began while it slept waits it out."""
    time = FakeTime()
    limiter = RateLimiter(20, clock=lambda: time.now)
    limiter.acquire(time)
    slept = threading.Event()

    class PauseWhileSleeping(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            if not slept.is_set():
                slept.set()
                limiter.pause(1.0)  # a 429 elsewhere, while this caller sleeps
            return time.wait(timeout)

    assert limiter.acquire(PauseWhileSleeping())
    assert time.now >= 1.0


def test_rate_limiter_pause_holds_back_every_caller() -> None:
    """After a 429 the whole App waits: the next call goes out a full pause later."""
    time = FakeTime()
    limiter = RateLimiter(20, clock=lambda: time.now)
    limiter.acquire(time)
    limiter.pause(1.0)
    limiter.acquire(time)
    assert time.now == pytest.approx(1.0)


# -- a lead found after a lost answer: ours, or someone else's? (issue 9) ---------------


def test_a_lead_that_joined_an_hour_before_the_row_is_not_claimed() -> None:
    """A contact who signed up an hour ago is not this run's lead: 244, untouched."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
        get_lead=[joined(kartra_stamp(3600))],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.error_type) == ("failed", "244")
    assert "edit_lead" not in client.calls


def test_a_lead_that_joined_seconds_before_the_row_was_sent_is_not_claimed() -> None:
    """Ownership is decided to within seconds: 20 s before the first send is not ours."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
        get_lead=[joined(kartra_stamp(20))],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.error_type) == ("failed", "244")


@pytest.mark.parametrize(("may_defer", "status"), [(True, "deferred"), (False, "unknown")])
def test_a_found_lead_is_never_claimed_before_kartra_s_clock_is_known(
    may_defer: bool, status: str
) -> None:
    """No create of this run has answered yet: settle later, or say unknown; never guess."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
    )
    sender = sender_for(client, "create", clock_known=False)
    outcome = sender.send(ROW, may_defer=may_defer)
    assert outcome.status == status and outcome.lead_id == ""
    assert "edit_lead" not in client.calls


def test_kartra_s_clock_is_learned_from_this_run_s_own_creates() -> None:
    """A create that answered is read back once; then a found lead can be judged."""
    client = ScriptedClient(
        create_lead=[answer(lead_id="40"), answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
        get_lead=[joined(kartra_stamp(), "40"), joined(kartra_stamp(3600))],
    )
    sender = sender_for(client, "create", clock_known=False)
    first = sender.send(replace(ROW, lead={"email": "bob@example.com"}, tags=()))
    second = sender.send(ROW, may_defer=True)
    assert first.status == "created" and first.witness is not None
    assert (second.status, second.error_type) == ("failed", "244")
    assert [p for c, p in client.sent if c == "get_lead"] == [
        {"email": "bob@example.com"},  # the witness, read once
        {"email": "ann@example.com"},  # the found lead
    ]


@pytest.mark.parametrize(
    "details",
    [
        pytest.param(json.dumps({"id": "41", "date_joined": "2020-01-02 03:04:05"}), id="json"),
        pytest.param({"id": "41", "date_joined": "2020-01-02 03:04:05"}, id="object"),
    ],
)
def test_lead_details_is_read_as_an_object_or_a_json_string(details: Any) -> None:
    """The reference types lead_details a JSON string, its example an object: both read."""
    old = replace(answer(lead_id="41"), body={"status": "Success", "lead_details": details})
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
        get_lead=[old],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert (outcome.status, outcome.error_type) == ("failed", "244")


@pytest.mark.parametrize(
    "details", ["not json", "[1, 2]", {"id": "41"}, {"date_joined": "yesterday"}, None]
)
def test_an_unreadable_date_joined_is_never_taken_as_ours(details: Any) -> None:
    """get_lead's answer cannot be read: the row is unknown, the lead untouched."""
    odd = replace(answer(lead_id="41"), body={"status": "Success", "lead_details": details})
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
        get_lead=[odd],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert outcome.status == "unknown" and "edit_lead" not in client.calls


def test_get_lead_identifies_the_lead_by_email_as_the_reference_requires() -> None:
    """The reference: "the lead's email is required"; an id alone may be a fatal 206."""
    client = lost_create_of_an_old_lead()
    sender_for(client, "create").send(ROW)
    assert [p for c, p in client.sent if c == "get_lead"] == [{"email": "ann@example.com"}]


def test_the_pool_settles_a_deferred_row_once_the_clock_is_known() -> None:
    """Row 2's create is lost before any create answered; row 3's answer teaches the clock."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False), answer(lead_id="50")],
        search_lead=[answer(lead_id="41")],
        # Row 2's lead read before the clock is known; row 3's (the witness); row 2's again.
        get_lead=[
            joined(kartra_stamp(), "41"),
            joined(kartra_stamp(), "50"),
            joined(kartra_stamp(), "41"),
        ],
    )
    sender = sender_for(client, "create", clock_known=False)
    rows = [ROW, replace(ROW, row=3, lead={"email": "cy@example.com"}, key="cy@example.com")]
    outcomes = {row.row: outcome for row, outcome in send_all(rows, sender, workers=1)}
    assert (outcomes[2].status, outcomes[2].lead_id) == ("created", "41")
    assert outcomes[3].status == "created"


# -- stopping: fatal answers anywhere, Ctrl-C during a backoff (issue 9) ---------------


def test_a_fatal_answer_on_a_chained_action_stops_the_run() -> None:
    """A 262 on assign_tag: the lead was saved (partial), and no further row is sent."""
    fatal_tag = CallResult(
        outcome=Outcome.FATAL,
        lead_saved=True,
        lead_id="7",
        kartra_type="262",
        message="not permitted",
        actions=(
            ActionResult("create_lead", "Success", None, ""),
            ActionResult("assign_tag", "Error", "262", "not permitted"),
        ),
        http_status=200,
    )
    client = ScriptedClient(create_lead=[fatal_tag])
    sender = sender_for(client, "create")
    first = sender.send(ROW)
    assert (first.status, first.error_type) == ("partial", "262")
    assert sender.halt.is_set() and sender.fatal is fatal_tag
    second = sender.send(replace(ROW, row=3, lead={"email": "cy@example.com"}))
    assert second.status == "not_sent" and client.calls == ["create_lead"]


def test_a_fatal_answer_after_a_call_that_may_have_acted_leaves_the_row_unsettled() -> None:
    """A 502 (maybe acted) then 242: unknown, so the next run searches before sending."""
    gateway = replace(answer(Outcome.TRANSIENT, lead_saved=False), http_status=502)
    client = ScriptedClient(
        create_lead=[gateway, answer(Outcome.FATAL, "242", lead_saved=False)],
    )
    outcome = sender_for(client, "create").send(ROW)
    assert outcome.status == "unknown" and outcome.error_type == "242"


class _LongBackoff(RetryPolicy):
    def backoff(self, attempt: int) -> float:
        return 3600.0


def test_ctrl_c_during_a_retry_backoff_sends_nothing_more() -> None:
    """Stopping ends a backoff at once: no further call, the row is not_sent."""
    client = ScriptedClient(create_lead=[answer(Outcome.TRANSIENT, lead_saved=False)])
    sender = RowSender(client, RateLimiter(None), mode="create", policy=_LongBackoff())
    outcomes: list[Any] = []
    worker = threading.Thread(target=lambda: outcomes.append(sender.send(ROW)), daemon=True)
    worker.start()
    for _ in range(6000):  # until the first attempt went out; the worker then backs off
        if client.calls:
            break
        threading.Event().wait(0.01)
    sender.stop.set()  # Ctrl-C: halt stays clear
    worker.join(timeout=60)
    assert not worker.is_alive(), "the backoff ignored the stop"
    assert outcomes[0].status == "not_sent" and client.calls == ["create_lead"]


def test_an_edit_by_id_sends_no_email() -> None:
    """With an id and an email, Kartra goes by the id; the email is not sent at all."""
    client = ScriptedClient()
    row = replace(ROW, lead={"id": "41", "email": "ann@example.com", "city": "Oslo"})
    sender_for(client, "edit").send(row)
    assert client.sent == [("edit_lead", {"id": "41", "city": "Oslo"})]


def test_a_resumed_row_is_settled_with_the_earlier_run_s_send_time() -> None:
    """SETTLE with `since` from the journal: a lead created after it is the earlier run's."""
    client = ScriptedClient(search_lead=[answer(lead_id="41")])
    outcome = sender_for(client, "create").send(ROW, history=SETTLE, since=time.time() - 60)
    assert (outcome.status, outcome.lead_id) == ("created", "41")


def test_a_read_back_of_another_lead_under_a_witness_s_email_teaches_nothing() -> None:
    """The witness's lead was deleted and the address signed up again: id differs."""
    client = ScriptedClient(
        create_lead=[answer(lead_id="40"), answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
        # the witness read back as another lead (id 99) that joined a day later
        get_lead=[joined(kartra_stamp(-86400), "99"), joined(kartra_stamp(), "41")],
    )
    sender = sender_for(client, "create", clock_known=False)
    sender.send(replace(ROW, lead={"email": "bob@example.com"}, tags=()))
    outcome = sender.send(ROW)  # may not defer: unknown, never a false 244
    assert outcome.status == "unknown" and not sender.clock.known


def test_upsert_applies_the_row_to_a_found_lead_even_when_its_origin_is_unsure() -> None:
    """Ours or not, upsert edits the found lead by id; the row says updated, not unknown."""
    client = ScriptedClient(
        create_lead=[answer(Outcome.UNKNOWN, lead_saved=False)],
        search_lead=[answer(lead_id="41")],
    )
    row = replace(ROW, lead={"email": "ann@example.com", "city": "Oslo"})
    outcome = sender_for(client, "upsert", clock_known=False).send(row)
    assert (outcome.status, outcome.lead_id) == ("updated", "41")
    assert client.sent[-1] == ("edit_lead", {"city": "Oslo", "id": "41"})
    assert "may have created" in outcome.message
