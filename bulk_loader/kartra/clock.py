"""Kartra's clock: was a lead found after a lost answer created by this row, or before it?

Kartra stamps `date_joined` "in EST timezone" to the second, and whether that means a
fixed UTC-5 or New York's daylight time is not said; the two clocks may also drift
apart. So the offset between Kartra's stamps and our clock is learned, never assumed:

- a *witness* is a create whose answer arrived: the lead was created between the moment
  we sent the call and the moment the answer came back (our clock);
- reading that lead's `date_joined` (get_lead) then bounds the offset;
- several witnesses narrow the bounds (their intersection); witnesses that disagree
  (a clock stepped, a lead re-created under the same email) make the clock unknown
  again until further witnesses agree;
- New York's daylight time may be what "EST" means: a moment judged across a change
  of New York's offset from when the clock was learned is judged under both readings.

A found lead is then judged to within seconds: created before this row was first sent
(it existed: not ours), after it, or "unsure" when the bounds are too wide or unknown,
in which case nobody guesses. All times are epoch seconds; a stamp is read as if it were
UTC, so the offset also carries the time zone.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from bulk_loader.outcomes import Witness

__all__ = ["KartraClock", "Verdict", "stamp_seconds"]

# A stamp "HH:MM:SS" drops the fraction: truncated (PHP date()) or rounded (MySQL): the
# true moment lies within [stamp - 0.5, stamp + 1).
BEFORE, AFTER = 0.5, 1.0
# A found lead created at most this long before the row was first sent, per the bounds,
# is still this row's (our `since` is taken a little before the call goes out).
MARGIN = 5.0
# Bounds this tight need no further witness; each one costs a get_lead.
SHARP = 3.0
NEW_YORK = ZoneInfo("America/New_York")


class Verdict(StrEnum):
    EXISTED = "existed"  # created before this row was first sent: not ours
    OURS = "ours"  # created after this row was first sent
    UNSURE = "unsure"  # the clock is not known well enough to tell


def stamp_seconds(stamp: object) -> float | None:
    """'YYYY-MM-DD HH:MM:SS' read as UTC, in epoch seconds; None when it is not one."""
    try:
        moment = datetime.strptime(str(stamp), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC).timestamp()


class KartraClock:
    """The offset (Kartra stamp - our clock) as bounds learned from witnesses; thread-safe."""

    def __init__(self, *, margin: float = MARGIN) -> None:
        self.margin = margin
        self._lock = threading.Lock()
        self._low = -math.inf
        self._high = math.inf
        self._learned_at = 0.0  # when the newest witness was sent (our clock)
        self._fresh: deque[Witness] = deque(maxlen=8)  # this run's creates
        self._older: deque[Witness] = deque(maxlen=8)  # earlier runs' (from the journal)
        self.learned = 0

    # -- witnesses -------------------------------------------------------------------

    def witness(self, witness: Witness) -> None:
        """A create of this run whose answer arrived."""
        with self._lock:
            self._fresh.append(witness)

    def remember(self, witnesses: list[Witness], now: float) -> None:
        """Creates of earlier runs, freshest first; used when this run has none.

        One made while New York's offset from UTC differed from today's (daylight time
        began or ended since) may be an hour off, and is left out.
        """
        today = _new_york_offset(now)
        with self._lock:
            for old in witnesses:
                if _new_york_offset(old.sent) == today:
                    self._older.append(old)

    def next_witness(self) -> Witness | None:
        """A witness to read, if the bounds would gain from one: this run's first."""
        with self._lock:
            if self._high - self._low <= SHARP:
                return None
            if self._fresh:
                return self._fresh.pop()
            return self._older.popleft() if self._older else None

    def learn(self, witness: Witness, joined: float) -> None:
        """Narrow the bounds with a witness's stamp (`stamp_seconds` of its date_joined).

        Bounds that no longer meet (the clock moved) restart from this witness.
        """
        low = joined - BEFORE - witness.answered
        high = joined + AFTER - witness.sent
        with self._lock:
            self.learned += 1
            if max(low, self._low) > min(high, self._high):
                self._low, self._high = -math.inf, math.inf  # they disagree: unknown
                return
            if _new_york_offset(witness.sent) != _new_york_offset(self._learned_at or witness.sent):
                self._low, self._high = low, high  # New York's offset changed in between
            else:
                self._low, self._high = max(low, self._low), min(high, self._high)
            self._learned_at = max(self._learned_at, witness.sent)

    # -- judging ---------------------------------------------------------------------

    @property
    def known(self) -> bool:
        return math.isfinite(self._high - self._low)

    def judge(self, joined: float | None, since: float) -> Verdict:
        """Was a lead stamped `joined` created before `since` (our clock), or after it?"""
        with self._lock:
            low, high, learned_at = self._low, self._high, self._learned_at
        if joined is None or not math.isfinite(high - low):
            return Verdict.UNSURE
        # If "EST" is New York time, the offset at `since` differs from the learned one
        # by the change in New York's offset between the two moments: allow both.
        change = _new_york_offset(since) - _new_york_offset(learned_at)
        low, high = low + min(0.0, change), high + max(0.0, change)
        earliest = joined - BEFORE - high
        latest = joined + AFTER - low
        if latest < since:
            return Verdict.EXISTED
        if earliest >= since - self.margin:
            return Verdict.OURS
        return Verdict.UNSURE


def _new_york_offset(moment: float) -> float:
    offset = datetime.fromtimestamp(moment, NEW_YORK).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0
