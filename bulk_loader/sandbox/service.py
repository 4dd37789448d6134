"""What stands between the wire and the model: knobs, rate limit, faults, statistics.

`Sandbox.handle(body, client_ip)` decides everything about one request and returns a
`Reply`; the HTTP server and the in-process transport only carry it out, so both paths
behave alike. The one wait `handle` does itself is the arrival jitter (`arrival_jitter_ms`):
the time a call spends on the network before Kartra's rate counter sees it, which must
come before the rate decision, so it is slept in the calling thread, which in both
carriers is the request's own. A reply's `fault` tells the carrier what to do with the
connection:

    "reset"   close with RST before acting (the model never saw the call)
    "lost"    the model acted; close the connection without an answer
    "slow"    answer after `slow_ms` more milliseconds
    (a 5xx fault needs nothing from the carrier: it is an ordinary 503 reply)
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from bulk_loader.sandbox.form import parse_post
from bulk_loader.sandbox.model import CLOCKS, Clock, SandboxState

__all__ = ["FaultPlan", "Knobs", "Reply", "Sandbox", "Stats", "parse_faults"]

RateStyle = Literal["status", "body"]
FAULT_KINDS = ("error_5xx", "lost", "reset", "slow", "gateway")
TOO_MANY = {"status": "Error", "message": "Too many requests", "type": "429"}


@dataclass(frozen=True)
class FaultPlan:
    """Probability of each fault per call; `seed` makes the draws repeatable."""

    error_5xx: float = 0.0
    lost: float = 0.0
    reset: float = 0.0
    slow: float = 0.0
    gateway: float = 0.0  # a 502 from a proxy AFTER the call was carried out
    slow_ms: float = 2000.0
    seed: int | None = None


def parse_faults(spec: str) -> FaultPlan:
    """`"5xx=0.01,lost=0.01,reset=0.005,slow=0.01,slow_ms=1500,seed=7"` -> FaultPlan."""
    aliases = {"5xx": "error_5xx", "error": "error_5xx"}
    values: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, number = part.partition("=")
        key = aliases.get(name.strip(), name.strip())
        if key not in {f.name for f in fields(FaultPlan)}:
            raise ValueError(
                f"unknown fault {name!r}: use 5xx, lost, reset, slow, gateway, slow_ms, seed"
            )
        values[key] = int(number) if key == "seed" else float(number)
        if key not in ("seed", "slow_ms") and not 0 <= values[key] <= 1:
            raise ValueError(f"fault {name.strip()}={number}: a probability, from 0 to 1")
    return FaultPlan(**values)


@dataclass(frozen=True)
class Knobs:
    """Everything `configure` can change while the sandbox runs. `rate=None` is no limit."""

    latency_ms: float = 0.0  # after the rate counter: added to every answer
    jitter_ms: float = 0.0  # after the rate counter: a random 0..jitter_ms more
    # Before the rate counter: each call reaches it a random 0..arrival_jitter_ms after
    # it came in, as calls sent evenly reach a real server unevenly.
    arrival_jitter_ms: float = 0.0
    rate: float | None = 20.0
    rate_style: RateStyle = "status"
    faults: FaultPlan = field(default_factory=FaultPlan)
    insecure: bool = False  # answer 201 "Connection not secure" to every call
    failed_action_status: Literal["Error", "Success"] = "Error"
    stop_after_failed_action: bool = False
    # Kartra's clock for date_joined: "EST" (fixed UTC-5) or "America/New_York" (with
    # daylight time), running `clock_skew_s` seconds ahead of ours (negative: behind).
    clock: Clock = "EST"
    clock_skew_s: float = 0.0
    lead_details_json: bool = False  # every lead_details as a JSON string, not an object
    # Kartra documents no field it drops but unknown custom fields; this one (a lead field
    # or a custom field identifier) is dropped silently, as a read-back must catch.
    drop_field: str = ""
    # A new App is in Test Mode: every new lead's email domain becomes kartra.com.
    test_mode: bool = False
    # Tags, lists and sequences applied this many seconds after the answer ("in a few
    # moments", older copies of Kartra's docs say).
    actions_delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    delay: float = 0.0  # seconds to wait before answering
    fault: str | None = None
    content_type: str = "text/html; charset=UTF-8"  # what Kartra reportedly sends


class Stats:
    """Counters the tests and benchmarks read: the sandbox's side of the story."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls_total = 0
        self.by_cmd: Counter[str] = Counter()
        self.rate_limited = 0
        self.faults: Counter[str] = Counter()
        # Calls the rate counter let through (a fault may still follow), by cmd, and
        # cmd -> [first, last] moment it did, on this process's monotonic clock: an
        # accepted rate over a span, as the counter saw it.
        self.accepted_by_cmd: Counter[str] = Counter()
        self.accepted_span: dict[str, list[float]] = {}

    def count(self, cmd: str) -> None:
        with self._lock:
            self.calls_total += 1
            self.by_cmd[cmd] += 1

    def accept(self, cmd: str, now: float) -> None:
        """A call the rate counter let through at `now` (its own clock)."""
        with self._lock:
            self.accepted_by_cmd[cmd] += 1
            span = self.accepted_span.setdefault(cmd, [now, now])
            span[0], span[1] = min(span[0], now), max(span[1], now)

    def add(self, what: Literal["rate_limited"] | str) -> None:
        with self._lock:
            if what == "rate_limited":
                self.rate_limited += 1
            else:
                self.faults[what] += 1

    def clear(self) -> None:
        with self._lock:
            self.calls_total = self.rate_limited = 0
            self.by_cmd.clear()
            self.faults.clear()
            self.accepted_by_cmd.clear()
            self.accepted_span.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls_total": self.calls_total,
                "by_cmd": dict(self.by_cmd),
                "rate_limited": self.rate_limited,
                "faults": dict(self.faults),
                "accepted_by_cmd": dict(self.accepted_by_cmd),
                "accepted_span": {cmd: list(span) for cmd, span in self.accepted_span.items()},
            }


class RateLimiter:
    """At most `rate` calls per App in any sliding second; refused calls do not count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def allow(self, app_id: str, rate: float, now: float) -> bool:
        with self._lock:
            window = self._seen.setdefault(app_id, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= rate:
                return False
            window.append(now)
            return True


class Sandbox:
    """The state plus the knobs; one instance serves HTTP and in-process transports.

    `sleep` and `monotonic` are the arrival wait and the rate counter's clock: tests
    give fakes to see when the counter sees a call without waiting for it.
    """

    def __init__(
        self,
        state: SandboxState,
        knobs: Knobs | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.stats = Stats()
        self._limiter = RateLimiter()
        self._lock = threading.Lock()
        self._sleep, self._monotonic = sleep, monotonic
        self.knobs = Knobs()
        self._rng = random.Random()  # the fault draws only, seeded by FaultPlan.seed
        self._arrival_rng = random.Random()  # its own, so it never shifts a fault draw
        self.configure(**asdict(knobs or Knobs()))

    def configure(self, **changes: Any) -> Knobs:
        """Change knobs at run time; `faults` may be a FaultPlan, a dict or a spec string."""
        known = {f.name for f in fields(Knobs)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown knob {unknown[0]!r}: use {', '.join(sorted(known))}")
        faults = changes.get("faults")
        if isinstance(faults, str):
            changes["faults"] = parse_faults(faults)
        elif isinstance(faults, Mapping):
            changes["faults"] = FaultPlan(**faults)
        if changes.get("clock", CLOCKS[0]) not in CLOCKS:
            raise ValueError(f"unknown clock {changes['clock']!r}: use {' or '.join(CLOCKS)}")
        if "clock_skew_s" in changes:
            changes["clock_skew_s"] = float(changes["clock_skew_s"])
        if "arrival_jitter_ms" in changes:
            changes["arrival_jitter_ms"] = float(changes["arrival_jitter_ms"])
            if not changes["arrival_jitter_ms"] >= 0:  # NaN too
                raise ValueError("arrival_jitter_ms must be 0 or more")
        with self._lock:
            self.knobs = replace(self.knobs, **changes)
            if "faults" in changes:
                self._rng = random.Random(self.knobs.faults.seed)
        state, knobs = self.state, self.knobs
        state.failed_action_status = knobs.failed_action_status
        state.stop_after_failed_action = knobs.stop_after_failed_action
        state.clock, state.clock_skew_s = knobs.clock, knobs.clock_skew_s
        state.lead_details_json = knobs.lead_details_json
        state.drop_field, state.test_mode = knobs.drop_field, knobs.test_mode
        state.actions_delay_s = float(knobs.actions_delay_s)
        return self.knobs

    def reset(self) -> None:
        """Leads back to the account file's; statistics and rate windows emptied."""
        self.state.reset()
        self.stats.clear()
        self._limiter = RateLimiter()

    def handle(self, body: bytes, client_ip: str = "127.0.0.1") -> Reply:
        """Decide one API request: arrival wait, rate limit, fault draw, model, latency.

        The arrival wait blocks the calling thread (the request's own) for a random
        0..arrival_jitter_ms; the call is counted and meets the rate counter after it.
        """
        knobs = self.knobs
        if knobs.arrival_jitter_ms:
            self._sleep(self._arrival_wait(knobs.arrival_jitter_ms))
        form = parse_post(body)  # $_POST as Kartra's PHP reads it
        cmd = _cmd_of(form)
        self.stats.count(cmd)
        delay = _latency(knobs)
        now = self._monotonic()  # the moment the rate counter sees the call
        if knobs.rate and not self._limiter.allow(str(form.get("app_id", "")), knobs.rate, now):
            self.stats.add("rate_limited")
            return Reply(429 if knobs.rate_style == "status" else 200, _json(TOO_MANY), delay)
        self.stats.accept(cmd, now)
        fault = self._fault(knobs.faults)
        if fault == "error_5xx":
            return Reply(503, b"<html><body><h1>503 Service Unavailable</h1></body></html>")
        if fault == "reset":
            return Reply(0, b"", fault="reset")
        if knobs.insecure:
            answer: dict[str, Any] = {"status": "Error", "message": "Connection not secure",
                                      "type": "201"}  # fmt: skip
        else:
            answer = self.state.execute(form, client_ip)
        if fault == "slow":
            delay += knobs.faults.slow_ms / 1000
        if fault == "gateway":  # carried out, then a proxy answers in Kartra's place
            return Reply(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", delay)
        return Reply(200, _json(answer), delay, fault=fault if fault == "lost" else None)

    def _arrival_wait(self, jitter_ms: float) -> float:
        """Seconds this call spends reaching the rate counter: uniform in 0..jitter_ms."""
        with self._lock:
            return jitter_ms * self._arrival_rng.random() / 1000

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _fault(self, plan: FaultPlan) -> str | None:
        """At most one fault per call, drawn with one number against stacked probabilities."""
        if not (plan.error_5xx or plan.lost or plan.reset or plan.slow or plan.gateway):
            return None
        draw, edge = self._draw(), 0.0
        for kind in FAULT_KINDS:
            edge += float(getattr(plan, kind))
            if draw < edge:
                self.stats.add(kind)
                return kind
        return None

    def control(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The control endpoint's JSON protocol: {"op": "configure"|"reset"|"dump"|"stats"}."""
        op = request.get("op", "stats")
        if op == "configure":
            knobs = self.configure(**request.get("knobs", {}))
            return {"knobs": asdict(knobs)}
        if op == "reset":
            self.reset()
            return {"ok": True}
        if op == "dump":
            return self.state.dump()
        if op == "stats":
            return {"stats": self.stats.snapshot(), "knobs": asdict(self.knobs)}
        raise ValueError(f"unknown op {op!r}: use configure, reset, dump or stats")


def _cmd_of(form: Mapping[str, Any]) -> str:
    if "get_lead" in form:
        return "get_lead"
    actions = form.get("actions")
    first = actions[0] if isinstance(actions, list) and actions else None
    return str(first.get("cmd", "")) if isinstance(first, dict) else ""


def _latency(knobs: Knobs) -> float:
    # Jitter uses its own unseeded generator so that latency settings never shift the
    # seeded fault draws.
    if not knobs.latency_ms and not knobs.jitter_ms:
        return 0.0
    return (knobs.latency_ms + knobs.jitter_ms * random.random()) / 1000


def _json(answer: Mapping[str, Any]) -> bytes:
    return json.dumps(answer, separators=(",", ":")).encode()
