"""Clocks compared: a zone's UTC offsets from today to five years on, as zoneinfo computes
them, and how two zones' offsets differ over that period or agreed before it.

Kartra's 76 zones are read from bulk_loader/data/time_zones.txt. Cached: the same few
zones are compared again and again.
"""

from __future__ import annotations

import bisect
import zoneinfo
from datetime import UTC, date, datetime, tzinfo
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path

__all__ = [
    "PERIOD_DAYS",
    "Offsets",
    "agreed_back",
    "differences",
    "kartra_by_offsets",
    "kartra_zones",
    "offset_at",
    "offsets_seen",
    "period",
    "same_clock",
    "tzif",
    "zone_offsets",
]

PERIOD_DAYS = 5 * 365 + 1  # "the coming years": today to five years on
_STEP = 86_400  # offsets sampled daily, each change then found to the second
_HISTORY_SAMPLES = 50 * 24  # the tie-break looks back 50 years, twice a month

# A transition-by-transition record of a clock over the period: (start, offset in
# seconds), then (instant, new offset) at each change. Equal records: equal clocks.
Offsets = tuple[tuple[int, int], ...]


@cache
def kartra_zones() -> tuple[str, ...]:
    """The 76 values Kartra accepts for lead_preferred_time_zone, exactly as spelled."""
    text = resources.files("bulk_loader").joinpath("data/time_zones.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@cache
def period() -> tuple[int, int]:
    """(start, end) of the compared period in POSIX seconds: today 00:00 UTC, +5 years."""
    start = int(datetime.combine(date.today(), datetime.min.time(), UTC).timestamp())
    return start, start + PERIOD_DAYS * 86_400


def offset_at(zone: tzinfo, instant: int) -> int:
    """The zone's UTC offset in seconds at a POSIX instant."""
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@lru_cache(maxsize=1024)
def zone_offsets(zone: tzinfo) -> Offsets:
    """The zone's offsets over the period: sampled daily, each change bisected to the
    second (a change and its undoing within one day is not a thing clocks do)."""
    start, end = period()
    previous = offset_at(zone, start)
    changes: list[tuple[int, int]] = [(start, previous)]
    low = start
    while low < end:
        high = min(low + _STEP, end)
        offset = offset_at(zone, high)
        while offset != previous:  # several changes in one step: each in turn
            a, b = low, high
            while b - a > 1:
                middle = (a + b) // 2
                if offset_at(zone, middle) == previous:
                    a = middle
                else:
                    b = middle
            previous = offset_at(zone, b)
            changes.append((b, previous))
            low = b
        low = high
    return tuple(changes)


def _value_at(offsets: Offsets, instant: int) -> int:
    index = bisect.bisect_right(offsets, (instant, 1 << 40)) - 1
    return offsets[max(index, 0)][1]


def differences(source: Offsets, other: Offsets) -> dict[int, int]:
    """Seconds of the period spent at each difference (other - source) in offset."""
    end = period()[1]
    instants = sorted({t for t, _ in source} | {t for t, _ in other} | {end})
    spent: dict[int, int] = {}
    for start, stop in pairwise(instants):
        delta = _value_at(other, start) - _value_at(source, start)
        spent[delta] = spent.get(delta, 0) + stop - start
    return spent


@cache
def kartra_by_offsets() -> dict[Offsets, list[str]]:
    found: dict[Offsets, list[str]] = {}
    for zone in kartra_zones():
        found.setdefault(zone_offsets(zoneinfo.ZoneInfo(zone)), []).append(zone)
    return found


@lru_cache(maxsize=1024)
def tzif(key: str) -> bytes | None:
    """The zone's compiled data, where zoneinfo finds it: links share theirs."""
    for root in zoneinfo.TZPATH:
        path = Path(root, key)
        if path.is_file():
            return path.read_bytes()
    try:
        return resources.files("tzdata.zoneinfo").joinpath(key).read_bytes()
    except (ImportError, OSError):
        return None


@lru_cache(maxsize=4096)
def agreed_back(zone: tzinfo, other: str) -> int:
    """How many half-months back from the period's start the two clocks agreed."""
    start = period()[0]
    kartra = zoneinfo.ZoneInfo(other)
    for step in range(_HISTORY_SAMPLES):
        instant = start - step * 1_314_900  # half a mean month
        if offset_at(zone, instant) != offset_at(kartra, instant):
            return step
    return _HISTORY_SAMPLES


@lru_cache(maxsize=1024)
def offsets_seen(zone: tzinfo) -> frozenset[int]:
    """Every offset the zone had in January and July over the past 20 years, or will have
    over the period: a "(UTC+06:00) Astana" written years ago still fits Astana."""
    this_year = date.today().year
    seen = {offset for _, offset in zone_offsets(zone)}
    for year in range(this_year - 20, this_year + 1):
        for month in (1, 7):
            instant = int(datetime(year, month, 1, tzinfo=UTC).timestamp())
            seen.add(offset_at(zone, instant))
    return frozenset(seen)


def same_clock(a: str, b: str) -> bool:
    return zone_offsets(zoneinfo.ZoneInfo(a)) == zone_offsets(zoneinfo.ZoneInfo(b))
