"""The sandbox's arrival jitter: a wait before the rate counter, as the network makes one."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.kartra.client import Credentials, KartraClient, Outcome
from bulk_loader.kartra.formencode import encode_body
from bulk_loader.sandbox import (
    TOKEN_HEADER,
    Knobs,
    RunningSandbox,
    Sandbox,
    SandboxState,
    load_account,
    transport,
)

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"
CREDS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
AUTH = {"app_id": "sandbox-app", "api_key": "sandbox-key", "api_password": "sandbox-password"}
SEARCH = encode_body(
    {**AUTH, "lead": {"email": "maria.lopez@example.com"}, "actions": [{"cmd": "search_lead"}]}
)


class FakeClock:
    """A monotonic clock that only `sleep` moves; every sleep is noted."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def sandbox_on(clock: FakeClock, **knobs: Any) -> Sandbox:
    state = SandboxState(load_account(SAMPLE))
    return Sandbox(state, Knobs(**knobs), sleep=clock.sleep, monotonic=clock.monotonic)


def seen_at(sandbox: Sandbox) -> float:
    """When the rate counter last let a search_lead through, on the sandbox's clock."""
    last: float = sandbox.stats.snapshot()["accepted_span"]["search_lead"][1]
    return last


def test_arrival_jitter_delays_the_moment_the_rate_counter_sees_a_call() -> None:
    """Calls sent evenly reach the rate counter each 0..arrival_jitter_ms later, unevenly."""
    clock = FakeClock()
    sandbox = sandbox_on(clock, rate=20, arrival_jitter_ms=50)
    lags = []
    for _ in range(40):
        clock.now += 0.05  # sent every 50 ms, as a pacer would
        sent = clock.now
        assert sandbox.handle(SEARCH).status == 200
        lags.append(seen_at(sandbox) - sent)
    assert lags == pytest.approx(clock.sleeps)
    assert all(0 <= lag <= 0.05 for lag in lags) and len(set(lags)) > 30


def test_zero_arrival_jitter_counts_a_call_the_instant_it_arrives() -> None:
    """With the knob at 0 (the default) nothing waits: the counter sees the call at once."""
    clock = FakeClock()
    sandbox = sandbox_on(clock, rate=1)
    assert Knobs().arrival_jitter_ms == 0
    sent = clock.now
    statuses = [sandbox.handle(SEARCH).status for _ in range(2)]
    assert clock.sleeps == [] and seen_at(sandbox) == sent
    assert statuses == [200, 429]  # both in the same instant: today's sliding second


def test_arrival_jitter_leaves_the_seeded_fault_draws_alone() -> None:
    """The same fault seed draws the same faults whether arrival jitter is on or off."""
    statuses = []
    for jitter in (0, 80):
        sandbox = sandbox_on(FakeClock(), rate=None, arrival_jitter_ms=jitter,
                             faults="5xx=0.5,seed=42")  # fmt: skip
        statuses.append([sandbox.handle(SEARCH).status for _ in range(40)])
    assert statuses[0] == statuses[1] and set(statuses[0]) == {200, 503}


@pytest.mark.parametrize("carrier", ["socket", "in-process"])
def test_arrival_waits_run_at_once_each_in_its_requests_thread(carrier: str) -> None:
    """Two calls wait for arrival at the same time, each in a thread of its own."""
    meeting = threading.Barrier(2, timeout=5)  # breaks unless both waits overlap
    waiters: list[threading.Thread] = []

    def wait(seconds: float) -> None:
        waiters.append(threading.current_thread())
        meeting.wait()

    state = SandboxState(load_account(SAMPLE))
    sandbox = Sandbox(state, Knobs(rate=None, arrival_jitter_ms=30), sleep=wait)
    outcomes: list[Outcome] = []
    with RunningSandbox(sandbox) as running:

        def call() -> None:
            http = httpx.Client(transport=transport(sandbox)) if carrier == "in-process" else None
            with KartraClient(CREDS, api_url=running.url, http=http, timeout=10) as client:
                outcomes.append(client.search_lead(email="maria.lopez@example.com").outcome)

        callers = [threading.Thread(target=call) for _ in range(2)]
        for thread in callers:
            thread.start()
        for thread in callers:
            thread.join(timeout=10)
    assert outcomes == [Outcome.OK, Outcome.OK] and not meeting.broken
    assert len(set(waiters)) == 2 and threading.main_thread() not in waiters
    if carrier == "in-process":
        assert set(waiters) == set(callers)


def test_arrival_jitter_is_a_knob_over_the_control_endpoint() -> None:
    """arrival_jitter_ms is set over /_control with the token; a negative one is refused."""
    state = SandboxState(load_account(SAMPLE))
    with (
        RunningSandbox(Sandbox(state, Knobs(rate=None))) as running,
        httpx.Client(headers={TOKEN_HEADER: running.token}, timeout=10) as control,
    ):
        set_it = {"op": "configure", "knobs": {"arrival_jitter_ms": 20}}
        assert control.post(running.control_url, json=set_it).json()["knobs"][
            "arrival_jitter_ms"] == 20  # fmt: skip
        bad = {"op": "configure", "knobs": {"arrival_jitter_ms": -1}}
        assert control.post(running.control_url, json=bad).status_code == 400
        assert running.sandbox.knobs.arrival_jitter_ms == 20


def test_arrival_jitter_option_reaches_the_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """`sandbox serve --arrival-jitter-ms 50` sets the knob; a negative value is a usage error."""
    seen: dict[str, Any] = {}

    def serve(sandbox: Any, port: int, on_ready: Any) -> None:
        seen["knobs"] = sandbox.knobs

    monkeypatch.setattr("bulk_loader.sandbox.run_forever", serve)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's own SIGTERM
    args = ["sandbox", "serve", "--account", str(SAMPLE), "--arrival-jitter-ms"]
    result = CliRunner().invoke(cli, [*args, "50"])
    assert result.exit_code == 0, result.output
    assert seen["knobs"].arrival_jitter_ms == 50
    assert CliRunner().invoke(cli, [*args, "-5"]).exit_code == 2
