"""How fast and how often: the App's rate limiter, the retry policy, the upsert order.

Kept apart from the row logic (sender.py) because these are the knobs a run tunes,
and each is tested with a fake clock rather than against a server.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

__all__ = ["LocalPace", "Pace", "PaceStore", "RateLimiter", "RetryPolicy", "UpsertStrategy"]

T = TypeVar("T")


@dataclass
class Pace:
    """The App's pacing state: shared by every caller, and across runs with a budget."""

    rate: float  # calls per second now (never over the limit)
    next_slot: float = 0.0  # the earliest time the next call may go
    resume: float = 0.0  # no call before this (a pause)
    last_cut: float = -math.inf  # when the rate was last cut
    in_a_row: int = 0  # crowded seconds (cuts) since the last accepted call
    unanswered: int = 0  # 429s since the last cut


class PaceStore(Protocol):
    """Where the pace lives: this process (LocalPace) or a file shared by runs (budget.py).

    `update(change)` runs `change` on the current state atomically and returns its
    result; times are of the limiter's clock.
    """

    def update(self, change: Callable[[Pace], T]) -> T: ...


class LocalPace:
    """The pace of one process, under a lock."""

    def __init__(self, pace: Pace) -> None:
        self._pace = pace
        self._lock = threading.Lock()

    def update(self, change: Callable[[Pace], T]) -> T:
        with self._lock:
            return change(self._pace)


class RateLimiter:
    """Spaces the App's calls so that Kartra's one-second window never overflows.

    Kartra counts calls when they arrive, and arrival times wander by tens of
    milliseconds: evenly spaced calls sent at exactly the limit arrive unevenly, and
    any second that catches one too many answers 429. How much slack the link needs
    is not known in advance, so it is learned (additive increase, multiplicative
    decrease), from the answers:

    - each call Kartra accepted raises the rate by INCREASE of the limit, up to
      CEILING of it: never more than `rate`;
    - 429s cut it once per HOLD seconds, by CUT for each 429 since the last cut (up to
      MAX_CUTS of them): one stray 429 is a nudge, a crowded second (a loaded laptop
      sending in bunches, another App user) a real step down; the call is simply sent
      again at the next slot;
    - IN_A_ROW cuts with not one call accepted between them pause the whole App for a
      second, Kartra's documented remedy (`pause`).

    Why these numbers: on a model of a sliding window with uniform arrival jitter J,
    even spacing at 20/(1+J) calls/s is the most that never overflows, and the best
    fixed rate for J = 50 ms accepts 95.2% of the limit. The steps here keep the
    sawtooth small (a cut of 0.5% is won back in 200 accepted calls), which settles
    at 95.0% with 0.7% of calls answered 429 on that model, and at 99% with none on a
    link without jitter. bench/bench_pacing.py measures the real thing.
    """

    START = 0.97
    CEILING = 0.995
    FLOOR = 0.25
    INCREASE = 0.000025
    CUT = 0.005
    MAX_CUTS = 10
    HOLD = 1.0
    IN_A_ROW = 3

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        store: PaceStore | None = None,
    ) -> None:
        self.limit = rate or 0.0
        self._clock = clock
        self._store = store or LocalPace(Pace(rate=self.limit * self.START))
        self._count_lock = threading.Lock()
        self.calls = 0

    @property
    def rate(self) -> float:
        """Calls per second now (0: no limit), never over this run's own limit."""
        if not self.limit:
            return 0.0
        return min(self._store.update(lambda pace: pace.rate), self.limit * self.CEILING)

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a slot; False when `stop` was set while waiting (nothing sent)."""
        with self._count_lock:
            self.calls += 1
        while True:
            slot = self._store.update(self._reserve)
            delay = slot - self._clock()
            if delay > 0 and stop.wait(delay):
                return False
            if self._store.update(partial(_not_paused, slot)):
                return not stop.is_set()  # no pause began while this caller slept

    def _reserve(self, pace: Pace) -> float:
        slot = max(self._clock(), pace.next_slot, pace.resume)
        if self.limit:
            # A shared pace may come from a run with a higher --rate: never past ours.
            rate = min(pace.rate, self.limit * self.CEILING)
            pace.next_slot = slot + 1.0 / max(rate, self.limit * self.FLOOR)
        return slot

    def accepted(self) -> None:
        """Kartra answered (anything but 429): a little more rate, up to the ceiling."""
        if self.limit:
            self._store.update(self._raise)

    def _raise(self, pace: Pace) -> None:
        pace.in_a_row = 0
        pace.rate = min(self.limit * self.CEILING, pace.rate + self.limit * self.INCREASE)

    def throttled(self, pause: float = 1.0) -> None:
        """A 429: cut the rate (once per crowded second); pause after IN_A_ROW of them.

        Without a limit there is no pace to cut: every 429 pauses the App.
        """
        if self.limit:
            self._store.update(lambda p: self._cut(p, pause))
        else:
            self.pause(pause)

    def _cut(self, pace: Pace, pause: float) -> None:
        now = self._clock()
        pace.unanswered += 1
        if now - pace.last_cut < self.HOLD:
            return
        cut = self.CUT * min(pace.unanswered, self.MAX_CUTS)
        pace.rate = max(self.limit * self.FLOOR, pace.rate * (1 - cut))
        pace.last_cut, pace.unanswered = now, 0
        pace.in_a_row += 1
        if pace.in_a_row >= self.IN_A_ROW:
            pace.in_a_row = 0
            self._hold(pace, pause)

    def pause(self, seconds: float) -> None:
        """No call from this App until `seconds` from now, slots already handed out too."""
        self._store.update(lambda pace: self._hold(pace, seconds))

    def _hold(self, pace: Pace, seconds: float) -> None:
        pace.resume = max(pace.resume, self._clock() + seconds)
        pace.next_slot = max(pace.next_slot, pace.resume)


def _not_paused(slot: float, pace: Pace) -> bool:
    return slot >= pace.resume


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often to retry; `instant()` makes tests fast."""

    transient_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    rate_limit_wait: float = 1.0
    rate_limited_attempts: int = 30
    unknown_attempts: int = 5  # lost answers settled per row before reporting unknown

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before transient retry number `attempt`."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def longest_wait(self) -> float:
        """The most the transient retries of one call can wait, in all (seconds)."""
        delays = range(1, self.transient_attempts)
        return float(sum(min(self.max_delay, self.base_delay * 2.0 ** (n - 1)) for n in delays))

    @classmethod
    def instant(cls) -> RetryPolicy:
        return cls(base_delay=0.0, max_delay=0.0, rate_limit_wait=0.0)


class UpsertStrategy:
    """Chooses create-first or edit-first from the rows this run has seen lately.

    Create-first costs one call for a new lead and two for an existing one; edit-first
    the reverse. Whichever kind was more common among the last `window` rows goes
    first: sheets come in runs (old customers, then new sign-ups), and a whole-run
    count would take as many rows to turn as it took to lean the other way (measured:
    1.504 calls per row on a sorted 50/50 sheet, 1.012 with the window).
    """

    def __init__(self, window: int = 32) -> None:
        self._lock = threading.Lock()
        self._recent: deque[bool] = deque(maxlen=window)

    def edit_first(self) -> bool:
        with self._lock:
            return 2 * sum(self._recent) > len(self._recent)

    def observe(self, existed: bool) -> None:
        with self._lock:
            self._recent.append(existed)
