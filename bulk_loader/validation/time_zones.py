"""Any way a sheet writes a time zone, mapped to one of the 76 values Kartra accepts.

Kartra's `lead_preferred_time_zone` takes 76 IANA names (bulk_loader/data/time_zones.txt);
exports hold others: Europe/Paris, US/Eastern, EST, "Eastern Time (US & Canada)",
"W. Europe Standard Time", UTC+1. A cell is first *read* as a clock: an IANA zone or a
legacy link (any case, spaces for underscores), a common abbreviation, a Windows or Rails
zone name (with or without its "(GMT-05:00) " prefix), or a fixed UTC offset. It is then
*mapped* to the Kartra zone whose UTC offset equals the clock's at every moment from today
to five years on, as zoneinfo computes them; among several, the one of the same name, then
the same zone under another name, then the same region, then the one that has agreed
with it longest in the past, then the first in Kartra's list. No equivalent (plain UTC, UTC-8,
Pacific/Chatham): not mapped, and the message names the Kartra zones that differ least and
how. Text that is not read as a clock is never mapped; it gets the closest spelling.

Pure functions on text, cached: a sheet repeats a few values a lot. The clocks are compared
in time_zone_clocks, the names other systems give zones are in time_zone_names.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass, replace
from datetime import timedelta, timezone, tzinfo
from functools import cache, lru_cache

from bulk_loader.validation.time_zone_clocks import (
    PERIOD_DAYS,
    Offsets,
    agreed_back,
    differences,
    kartra_by_offsets,
    kartra_zones,
    offset_at,
    offsets_seen,
    period,
    tzif,
    zone_offsets,
)
from bulk_loader.validation.time_zone_names import zones_named

__all__ = [
    "PERIOD_DAYS",
    "Reading",
    "ZoneMatch",
    "kartra_time_zone",
    "kartra_zones",
    "map_time_zone",
    "offset_at",
    "period",
    "read_time_zone",
]


@dataclass(frozen=True)
class Reading:
    """What a cell was read as: an IANA zone (`key`), or a fixed offset (`key` None)."""

    label: str  # "America/New_York", or "UTC+05:30"
    zone: tzinfo
    key: str | None
    via: str | None = None  # the name it was read from (EST, a Windows name), if not the key


@dataclass(frozen=True)
class ZoneMatch:
    """A cell's Kartra time zone, or why it has none."""

    text: str  # the cell, trimmed
    kartra: str | None  # the value to send; None: no Kartra zone keeps this clock
    reading: Reading | None  # None: not read as a time zone at all
    why: str  # mapped: how ("same UTC offsets"); not mapped: the problem's explanation
    suggestion: str | None = None  # not mapped: the Kartra zone to suggest

    @property
    def exact(self) -> bool:
        """The cell already is one of Kartra's values, spelled as Kartra spells it."""
        return self.kartra == self.text


# -- Kartra's zones and the IANA names, in any case ----------------------------------


@cache
def _kartra_by_case() -> dict[str, str]:
    return {zone.casefold(): zone for zone in kartra_zones()}


@cache
def _iana_by_case() -> dict[str, str]:
    """Every IANA key zoneinfo can load (links such as US/Eastern too), by casefold."""
    return {key.casefold(): key for key in sorted(zoneinfo.available_timezones())}


# -- reading a cell --------------------------------------------------------------------


_OFFSET_RE = re.compile(
    r"(?:utc|gmt|z|coordinateduniversaltime|greenwichmeantime)?"
    r"(?:([+-])(\d{1,2})(?::?(\d{2}))?)?"
)
_PREFIX_RE = re.compile(
    r"\(\s*((?:utc|gmt)\s*(?:[+\u2212-]\s*\d{1,2}(?::?\d{2})?)?)\s*\)\s*(.+)", re.IGNORECASE
)
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-"})


def _fixed_offset(text: str) -> int | None:
    """UTC+1, GMT-05:00, +05:30, UTC, Z (any case and spacing) as seconds east of UTC."""
    compact = "".join(text.translate(_MINUS).casefold().split())
    match = _OFFSET_RE.fullmatch(compact) if compact else None
    if match is None:
        return None
    if match[1] is None:
        return 0  # UTC, GMT, Z
    hours, minutes = int(match[2]), int(match[3] or 0)
    if minutes >= 60 or hours * 60 + minutes > (12 if match[1] == "-" else 14) * 60:
        return None  # clocks run from UTC-12 to UTC+14
    seconds = (hours * 60 + minutes) * 60
    return -seconds if match[1] == "-" else seconds


def _offset_label(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _fixed(seconds: int, via: str | None = None) -> Reading:
    label = _offset_label(seconds)
    return Reading(label, timezone(timedelta(seconds=seconds)), None, via)


def _iana(text: str) -> str | None:
    key = re.sub(r"\s*/\s*", "/", " ".join(text.split())).replace(" ", "_")
    return _iana_by_case().get(key.casefold())


def read_time_zone(text: str) -> Reading | None:
    """What a cell means as a clock, or None when it is not read as one (unknown text,
    or a name that means different clocks to different systems)."""
    text = " ".join(text.split())
    if not text or len(text) > 100:
        return None
    prefix = _PREFIX_RE.fullmatch(text)
    if prefix is None:
        found = _candidates(text)
    else:  # "(GMT-05:00) Eastern Time (US & Canada)": the offset must fit the name
        said = _fixed_offset(prefix[1])
        found = [r for r in _candidates(prefix[2]) if said in offsets_seen(r.zone)]
        found = [replace(r, via=text) for r in found]
    return found[0] if len(found) == 1 else None


def _candidates(text: str) -> list[Reading]:
    key = _iana(text)
    if key is not None:
        return [Reading(key, zoneinfo.ZoneInfo(key), key)]
    offset = _fixed_offset(text)
    if offset is not None:
        return [_fixed(offset)]
    zones = zones_named(text)
    return [Reading(zone, zoneinfo.ZoneInfo(zone), zone, text) for zone in zones]


# -- mapping -----------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def map_time_zone(cell: str) -> ZoneMatch:
    """The Kartra value for a cell, or why there is none; never raises."""
    text = cell.strip()
    kartra = _kartra_by_case().get(" ".join(text.split()).casefold())
    if kartra is not None:
        why = "" if kartra == text else "same name"
        return ZoneMatch(text, kartra, Reading(kartra, zoneinfo.ZoneInfo(kartra), kartra), why)
    reading = read_time_zone(text)
    if reading is None:
        return _not_read(text)
    offsets = zone_offsets(reading.zone)
    same = kartra_by_offsets().get(offsets, [])
    if not same:
        return _unmapped(text, reading, offsets)
    chosen = min(same, key=lambda zone: _rank(reading, zone))
    return ZoneMatch(text, chosen, reading, _how_mapped(reading, chosen, offsets))


def kartra_time_zone(cell: str) -> str:
    """What to send for a cell: its Kartra value, or the cell (trimmed) when it has none."""
    match = map_time_zone(cell)
    return match.kartra if match.kartra is not None else match.text


def _region(key: str | None) -> str:
    return key.split("/")[0].casefold() if key and "/" in key else ""


def _rank(reading: Reading, zone: str) -> tuple[int, ...]:
    """Among Kartra zones with the same offsets: the same zone, region, past, list order."""
    key = reading.key
    named = int(key is None or key.casefold() != zone.casefold())
    data = tzif(key) if key else None
    alias = int(data is None or data != tzif(zone))
    region = int(not key or _region(key) != _region(zone))
    return named, alias, region, -agreed_back(reading.zone, zone), kartra_zones().index(zone)


def _how_mapped(reading: Reading, chosen: str, offsets: Offsets) -> str:
    """The note's words: how the cell's clock and the Kartra zone are the same."""
    key = reading.key or ""
    read = f"read as {reading.label}; " if reading.via else ""
    if key.casefold() == chosen.casefold():
        return f"read as {chosen}" if reading.via else "same name"
    if key and tzif(key) is not None and tzif(key) == tzif(chosen):
        return f"{read}the same zone"
    if len(offsets) == 1:
        return f"{read}both {_offset_label(offsets[0][1])} all year"
    return f"{read}same UTC offsets"


def _not_read(text: str) -> ZoneMatch:
    """Not read as a clock: a name of several clocks names them; a "(UTC+01:00) name"
    whose offset does not fit the name says so; anything else gets the closest spelling."""
    prefix = _PREFIX_RE.fullmatch(" ".join(text.split()))
    name = prefix[2] if prefix else text
    meanings = [reading.label for reading in _candidates(name)]
    if prefix and meanings:
        without = map_time_zone(name)
        why = f"{prefix[1].upper()} does not fit {name} ({' or '.join(meanings)})"
        if without.kartra is not None:
            why += f"; without the offset: {without.kartra}"
        return ZoneMatch(text, None, None, why, without.kartra)
    if len(meanings) > 1:
        return ZoneMatch(text, None, None, f"it may mean {' or '.join(meanings)}: write one")
    compact = "".join(text.translate(_MINUS).casefold().split())
    if compact and _OFFSET_RE.fullmatch(compact):  # UTC+15, GMT-05:75
        return ZoneMatch(text, None, None, "no clock keeps it: they run from UTC-12 to UTC+14")
    zones = kartra_zones()
    close = difflib.get_close_matches(text, zones, n=1, cutoff=0.0)
    suggestion = close[0] if close else zones[0]
    return ZoneMatch(text, None, None, f"closest: {suggestion}", suggestion)


def _unmapped(text: str, reading: Reading, offsets: Offsets) -> ZoneMatch:
    """No Kartra zone keeps this clock: the two that differ least, and how."""
    ranked = sorted(kartra_zones(), key=lambda zone: _distance(reading, offsets, zone))
    read = f"read as {reading.label}: " if reading.via else ""
    if len(offsets) == 1:
        what = f"no Kartra zone keeps {_offset_label(offsets[0][1])} all year"
    else:
        what = f"no Kartra zone has the UTC offsets of {reading.label}"
    closest = ", ".join(f"{zone} ({_how_differs(offsets, zone)})" for zone in ranked[:2])
    return ZoneMatch(text, None, reading, f"{read}{what}; closest: {closest}", ranked[0])


def _distance(reading: Reading, offsets: Offsets, zone: str) -> tuple[int, ...]:
    spent = differences(offsets, zone_offsets(zoneinfo.ZoneInfo(zone)))
    off = sum(abs(delta) * seconds for delta, seconds in spent.items())
    apart = sum(seconds for delta, seconds in spent.items() if delta)
    region = int(not reading.key or _region(reading.key) != _region(zone))
    return off, apart, region, kartra_zones().index(zone)


def _how_differs(offsets: Offsets, zone: str) -> str:
    """E.g. "the same 58% of the time, 1 h behind the rest", "45 min ahead all year"."""
    spent = differences(offsets, zone_offsets(zoneinfo.ZoneInfo(zone)))
    total = sum(spent.values())
    same = spent.pop(0, 0)
    parts = sorted(spent.items(), key=lambda item: -item[1])
    if not same and len(parts) == 1:
        return f"{_shift(parts[0][0])} all year"
    words = [f"the same {_share(same, total)} of the time"] if same else []
    if len(parts) == 1:
        return ", ".join([*words, f"{_shift(parts[0][0])} the rest"])
    words += [f"{_shift(delta)} {_share(seconds, total)}" for delta, seconds in parts]
    if not same:
        words[0] += " of the time"
    return ", ".join(words)


def _share(seconds: int, total: int) -> str:
    percent = round(100 * seconds / total)
    return f"{min(max(percent, 1), 99)}%"


def _shift(delta: int) -> str:
    hours, minutes = divmod(abs(delta) // 60, 60)
    size = " ".join([f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes))
    return f"{size} {'ahead' if delta > 0 else 'behind'}"
