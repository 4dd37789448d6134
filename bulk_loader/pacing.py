"""How fast and how often: the App's rate limiter, the retry policy, the upsert order.

Kept apart from the row logic (sender.py) because these are the knobs a run tunes,
and each is tested with a fake clock rather than against a server.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RetryPolicy", "UpsertStrategy"]


class RateLimiter:
    """Spaces calls evenly so that the App never exceeds `rate` calls per second.

    Thread-safe: each caller reserves the next free slot under a lock and sleeps
    outside it. Even spacing (rather than bursts) keeps Kartra's sliding one-second
    window from ever seeing more than `rate` calls. `pause()` holds back every call,
    slots already handed out included, which is what a 429 asks of the whole App.
    """

    # Calls reach Kartra a few ms early or late (threads, the GIL, the network): at
    # exactly `rate` the 21st call lands inside the 1st call's second often enough to
    # be refused (measured: 3.5% of calls, then 1 s pauses: 12.6 calls/s). 2% under the
    # limit leaves 20 ms of slack per second: no 429 in 4,000 calls, 19.6 calls/s.
    HEADROOM = 0.98

    def __init__(self, rate: float | None, *, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / (rate * self.HEADROOM) if rate else 0.0
        self._clock = clock
        self._next = 0.0
        self._resume = 0.0  # no call before this (a pause)
        self._lock = threading.Lock()
        self.calls = 0

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a slot; False when `stop` was set while waiting (nothing sent)."""
        with self._lock:
            self.calls += 1
        while True:
            with self._lock:
                slot = max(self._clock(), self._next, self._resume)
                self._next = slot + self.interval
            delay = slot - self._clock()
            if delay > 0 and stop.wait(delay):
                return False
            with self._lock:
                if slot >= self._resume:  # no pause began while this caller slept
                    return not stop.is_set()

    def pause(self, seconds: float) -> None:
        """No call from this App until `seconds` from now, slots already handed out too."""
        with self._lock:
            self._resume = max(self._resume, self._clock() + seconds)
            self._next = max(self._next, self._resume)


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
