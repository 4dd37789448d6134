"""The sandbox over a real socket and in process: knobs, faults, control, persistence."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bulk_loader.kartra.client import Credentials, KartraClient, Outcome
from bulk_loader.sandbox import (
    TOKEN_HEADER,
    FaultPlan,
    RunningSandbox,
    SandboxState,
    load_account,
    parse_faults,
    serve_in_thread,
    transport,
)

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"
CREDS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(SAMPLE, rate=None) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[KartraClient]:
    with KartraClient(CREDS, api_url=sandbox.url, timeout=10) as kartra:
        yield kartra


@pytest.fixture
def control(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    """An HTTP client for the control endpoint that sends the token."""
    headers = {TOKEN_HEADER: sandbox.token}
    with httpx.Client(base_url=sandbox.control_url, headers=headers, timeout=10) as http:
        yield http


def test_serves_on_loopback_and_counts_calls(sandbox: RunningSandbox, client: KartraClient) -> None:
    """A create then a get over HTTP; the sandbox counts both, by cmd."""
    assert sandbox.url.startswith("http://127.0.0.1:")
    created = client.create_lead({"email": "h@x.co"})
    found = client.get_lead(email="h@x.co")
    assert created.outcome is Outcome.OK and found.lead_id == created.lead_id
    stats = sandbox.stats.snapshot()
    assert stats["calls_total"] == 2
    assert stats["by_cmd"] == {"create_lead": 1, "get_lead": 1}


def test_insecure_knob_answers_201(sandbox: RunningSandbox, client: KartraClient) -> None:
    """Plain http is served on loopback; the 201 answer is reachable by a knob."""
    sandbox.configure(insecure=True)
    result = client.search_lead(email="maria.lopez@example.com")
    assert (result.outcome, result.kartra_type) == (Outcome.FATAL, "201")


@pytest.mark.parametrize(("style", "http_status"), [("status", 429), ("body", 200)])
def test_rate_limit_in_both_styles(
    sandbox: RunningSandbox, client: KartraClient, style: str, http_status: int
) -> None:
    """Over the limit the call is refused, as HTTP 429 or as type 429 in a 200 body."""
    sandbox.configure(rate=1, rate_style=style)
    results = [client.search_lead(email="maria.lopez@example.com") for _ in range(3)]
    assert [r.outcome for r in results][1:] == [Outcome.RATE_LIMITED] * 2
    assert results[1].http_status == http_status
    assert sandbox.stats.snapshot()["rate_limited"] == 2


@pytest.mark.parametrize(
    ("fault", "outcome", "acted"),
    [
        ("error_5xx", Outcome.TRANSIENT, False),
        ("reset", Outcome.UNKNOWN, False),
        ("lost", Outcome.UNKNOWN, True),
        ("slow", Outcome.OK, True),
    ],
)
@pytest.mark.parametrize("path", ["socket", "in-process"])
def test_faults(
    sandbox: RunningSandbox, fault: str, outcome: Outcome, acted: bool, path: str
) -> None:
    """Each fault reaches the client as the right outcome; 'lost' acts, the others not."""
    sandbox.configure(faults=FaultPlan(**{fault: 1.0}, slow_ms=20))  # type: ignore[arg-type]
    http = httpx.Client(transport=transport(sandbox)) if path == "in-process" else None
    with KartraClient(CREDS, api_url=sandbox.url, http=http, timeout=10) as client:
        result = client.create_lead({"email": "f@x.co"})
    assert result.outcome is outcome
    assert (sandbox.state.find(email="f@x.co") is not None) is acted
    assert sandbox.stats.snapshot()["faults"] == {fault: 1}


def test_seeded_faults_repeat() -> None:
    """The same seed draws the same faults in the same order."""
    draws = []
    for _ in range(2):
        state = SandboxState(load_account(SAMPLE))
        http = httpx.Client(transport=transport(state, faults="5xx=0.5,seed=42"))
        with KartraClient(CREDS, api_url="http://127.0.0.1/api", http=http) as client:
            draws.append([client.search_lead(id="1001").outcome for _ in range(20)])
    assert draws[0] == draws[1] and len(set(draws[0])) == 2


def test_parse_faults() -> None:
    """The --faults spec names each fault's probability."""
    assert parse_faults("5xx=0.1, lost=0.2,reset=0.05,slow=0.3,slow_ms=500,seed=3") == FaultPlan(
        error_5xx=0.1, lost=0.2, reset=0.05, slow=0.3, slow_ms=500, seed=3
    )
    with pytest.raises(ValueError, match="unknown fault"):
        parse_faults("explode=1")


def test_control_endpoint(
    sandbox: RunningSandbox, client: KartraClient, control: httpx.Client
) -> None:
    """Knobs, stats, dump and reset are reachable over HTTP as JSON, with the token."""
    client.create_lead({"email": "c@x.co"})
    knobs = control.post("", json={"op": "configure", "knobs": {"latency_ms": 1}}).json()
    assert knobs["knobs"]["latency_ms"] == 1 and sandbox.sandbox.knobs.latency_ms == 1
    assert control.get("").json()["stats"]["calls_total"] == 1
    emails = [lead["fields"]["email"] for lead in control.get("/dump").json()["leads"]]
    assert "c@x.co" in emails
    assert control.post("", json={"op": "reset"}).json() == {"ok": True}
    assert sandbox.state.find(email="c@x.co") is None
    assert control.post("", json={"op": "explode"}).status_code == 400
    assert control.post("", json=["reset"]).status_code == 400


def test_clock_and_lead_details_knobs_over_control(
    sandbox: RunningSandbox, control: httpx.Client
) -> None:
    """clock, clock_skew_s and lead_details_json are set over HTTP and reach the state."""
    knobs = {"clock": "America/New_York", "clock_skew_s": -30, "lead_details_json": True}
    answer = control.post("", json={"op": "configure", "knobs": knobs}).json()
    assert {name: answer["knobs"][name] for name in knobs} == knobs
    state = sandbox.state
    assert (state.clock, state.clock_skew_s, state.lead_details_json) == (
        "America/New_York", -30.0, True)  # fmt: skip
    bad = control.post("", json={"op": "configure", "knobs": {"clock": "PST"}})
    assert bad.status_code == 400 and "clock" in bad.json()["error"]
    assert sandbox.sandbox.knobs.clock == "America/New_York"


def test_db_keeps_leads_across_restarts(tmp_path: Path) -> None:
    """With a database file, a restarted sandbox still knows the leads created before."""
    db = tmp_path / "sandbox.sqlite"
    joined = {}
    for email in ("one@x.co", "two@x.co"):
        with (
            serve_in_thread(SAMPLE, db=db) as running,
            KartraClient(CREDS, api_url=running.url) as client,
        ):
            assert client.create_lead({"email": email}).outcome is Outcome.OK
            joined = {lead.email: lead.date_joined for lead in running.state.leads.values()}
    with serve_in_thread(SAMPLE, db=db) as running:
        assert running.state.find(email="one@x.co") is not None
        assert running.state.find(email="maria.lopez@example.com") is not None
        ids = {lead.id for lead in running.state.leads.values()}
        assert len(ids) == 5
        # date_joined is stored, not restamped: created leads keep "then", seeds their own
        assert {lead.email: lead.date_joined for lead in running.state.leads.values()} == joined


def test_stop_closes_the_port(client: KartraClient, sandbox: RunningSandbox) -> None:
    """After stop nothing listens, even with a kept-alive connection open."""
    client.search_lead(email="maria.lopez@example.com")
    sandbox.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sandbox.port), timeout=2).close()
    assert client.search_lead(email="maria.lopez@example.com").outcome in (
        Outcome.TRANSIENT, Outcome.UNKNOWN)  # fmt: skip


def test_transport_on_bare_state_has_no_rate_limit() -> None:
    """transport(state) serves in process with the limit off."""
    state = SandboxState(load_account(SAMPLE))
    http = httpx.Client(transport=transport(state))
    with KartraClient(CREDS, api_url="http://127.0.0.1/api", http=http) as client:
        outcomes = {client.search_lead(id="1001").outcome for _ in range(50)}
    assert outcomes == {Outcome.OK}
