"""Kartra's clock: a found lead is judged to within seconds, under every reading of "EST"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bulk_loader.kartra.clock import KartraClock, Verdict, stamp_seconds
from bulk_loader.outcomes import Witness

READINGS = {"EST": timezone(timedelta(hours=-5)), "New York": ZoneInfo("America/New_York")}
WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
SUMMER = datetime(2026, 7, 15, 12, 0, tzinfo=UTC).timestamp()


def stamp(moment: float, reading: str, skew: float = 0.0) -> float:
    """date_joined of a lead created at `moment` (our clock), read back as seconds."""
    text = datetime.fromtimestamp(moment + skew, READINGS[reading]).strftime("%Y-%m-%d %H:%M:%S")
    seconds = stamp_seconds(text)
    assert seconds is not None
    return seconds


def learned(reading: str, at: float, skew: float = 0.0, latency: float = 0.15) -> KartraClock:
    clock = KartraClock()
    witness = Witness("w@example.com", at, at + latency, "1")
    clock.learn(witness, stamp(at + latency / 2, reading, skew))
    return clock


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("skew", [0.0, 37.5, -90.0])
@pytest.mark.parametrize("learned_at", [WINTER, SUMMER], ids=["across-dst", "same-season"])
def test_a_lead_from_before_the_row_is_never_ours_and_the_row_s_own_never_existed(
    reading: str, skew: float, learned_at: float
) -> None:
    """30 min or 20 s before the first send: never ours; 1 s after it: never 'existed'."""
    since = SUMMER + 3600
    clock = learned(reading, learned_at, skew)
    for before in (1800, 20):
        assert clock.judge(stamp(since - before, reading, skew), since) is not Verdict.OURS
    assert clock.judge(stamp(since + 1, reading, skew), since) is not Verdict.EXISTED


@pytest.mark.parametrize("reading", READINGS)
def test_within_a_season_the_verdicts_are_sharp(reading: str) -> None:
    """Same season: an hour-old lead existed, the row's own lead is ours; no 'unsure'."""
    since = SUMMER + 60
    clock = learned(reading, SUMMER)
    assert clock.judge(stamp(since - 3600, reading), since) is Verdict.EXISTED
    assert clock.judge(stamp(since + 0.3, reading), since) is Verdict.OURS


def test_witnesses_that_disagree_leave_the_clock_unknown() -> None:
    """A stepped clock or a re-created lead: no verdict until witnesses agree again."""
    clock = learned("EST", SUMMER)
    clock.learn(Witness("x@example.com", SUMMER, SUMMER + 0.1, "2"), stamp(SUMMER, "EST") + 86400)
    assert not clock.known
    assert clock.judge(stamp(SUMMER - 3600, "EST"), SUMMER) is Verdict.UNSURE


def test_an_unknown_clock_or_date_judges_nothing() -> None:
    """Before any witness, or without a readable date_joined: unsure."""
    assert KartraClock().judge(stamp(SUMMER, "EST"), SUMMER) is Verdict.UNSURE
    assert learned("EST", SUMMER).judge(None, SUMMER) is Verdict.UNSURE
