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

Pure functions on text, cached: a sheet repeats a few values a lot.
"""

from __future__ import annotations

import bisect
import difflib
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import cache, lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path

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

PERIOD_DAYS = 5 * 365 + 1  # "the coming years": today to five years on
_STEP = 86_400  # offsets sampled daily, each change then found to the second
_HISTORY_SAMPLES = 50 * 24  # the tie-break looks back 50 years, twice a month

# A transition-by-transition record of a clock over the period: (start, offset in
# seconds), then (instant, new offset) at each change. Equal records: equal clocks.
Offsets = tuple[tuple[int, int], ...]


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


# -- Kartra's zones, the IANA names, the period ---------------------------------------


@cache
def kartra_zones() -> tuple[str, ...]:
    """The 76 values Kartra accepts for lead_preferred_time_zone, exactly as spelled."""
    text = resources.files("bulk_loader").joinpath("data/time_zones.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@cache
def _kartra_by_case() -> dict[str, str]:
    return {zone.casefold(): zone for zone in kartra_zones()}


@cache
def _iana_by_case() -> dict[str, str]:
    """Every IANA key zoneinfo can load (links such as US/Eastern too), by casefold."""
    return {key.casefold(): key for key in sorted(zoneinfo.available_timezones())}


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
def _offsets(zone: tzinfo) -> Offsets:
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


def _differences(source: Offsets, other: Offsets) -> dict[int, int]:
    """Seconds of the period spent at each difference (other - source) in offset."""
    end = period()[1]
    instants = sorted({t for t, _ in source} | {t for t, _ in other} | {end})
    spent: dict[int, int] = {}
    for start, stop in pairwise(instants):
        delta = _value_at(other, start) - _value_at(source, start)
        spent[delta] = spent.get(delta, 0) + stop - start
    return spent


@cache
def _kartra_by_offsets() -> dict[Offsets, list[str]]:
    found: dict[Offsets, list[str]] = {}
    for zone in kartra_zones():
        found.setdefault(_offsets(zoneinfo.ZoneInfo(zone)), []).append(zone)
    return found


@lru_cache(maxsize=1024)
def _tzif(key: str) -> bytes | None:
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
def _agreed_back(zone: tzinfo, other: str) -> int:
    """How many half-months back from the period's start the two clocks agreed."""
    start = period()[0]
    kartra = zoneinfo.ZoneInfo(other)
    for step in range(_HISTORY_SAMPLES):
        instant = start - step * 1_314_900  # half a mean month
        if offset_at(zone, instant) != offset_at(kartra, instant):
            return step
    return _HISTORY_SAMPLES


# -- reading a cell --------------------------------------------------------------------


def _name_key(text: str) -> str:
    """How names are compared: any case, dots, underscores and spacing ignored."""
    return " ".join(text.casefold().replace(".", " ").replace("_", " ").split())


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
        found = [r for r in _candidates(prefix[2]) if said in _offsets_seen(r.zone)]
        found = [replace(r, via=text) for r in found]
    return found[0] if len(found) == 1 else None


def _candidates(text: str) -> list[Reading]:
    key = _iana(text)
    if key is not None:
        return [Reading(key, zoneinfo.ZoneInfo(key), key)]
    offset = _fixed_offset(text)
    if offset is not None:
        return [_fixed(offset)]
    zones = _names().get(_name_key(text), ())
    return [Reading(zone, zoneinfo.ZoneInfo(zone), zone, text) for zone in zones]


@lru_cache(maxsize=1024)
def _offsets_seen(zone: tzinfo) -> frozenset[int]:
    """Every offset the zone had in January and July over the past 20 years, or will have
    over the period: a "(UTC+06:00) Astana" written years ago still fits Astana."""
    this_year = date.today().year
    seen = {offset for _, offset in _offsets(zone)}
    for year in range(this_year - 20, this_year + 1):
        for month in (1, 7):
            instant = int(datetime(year, month, 1, tzinfo=UTC).timestamp())
            seen.add(offset_at(zone, instant))
    return frozenset(seen)


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
    offsets = _offsets(reading.zone)
    same = _kartra_by_offsets().get(offsets, [])
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
    data = _tzif(key) if key else None
    alias = int(data is None or data != _tzif(zone))
    region = int(not key or _region(key) != _region(zone))
    return named, alias, region, -_agreed_back(reading.zone, zone), kartra_zones().index(zone)


def _how_mapped(reading: Reading, chosen: str, offsets: Offsets) -> str:
    """The note's words: how the cell's clock and the Kartra zone are the same."""
    key = reading.key or ""
    read = f"read as {reading.label}; " if reading.via else ""
    if key.casefold() == chosen.casefold():
        return f"read as {chosen}" if reading.via else "same name"
    if key and _tzif(key) is not None and _tzif(key) == _tzif(chosen):
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
    spent = _differences(offsets, _offsets(zoneinfo.ZoneInfo(zone)))
    off = sum(abs(delta) * seconds for delta, seconds in spent.items())
    apart = sum(seconds for delta, seconds in spent.items() if delta)
    region = int(not reading.key or _region(reading.key) != _region(zone))
    return off, apart, region, kartra_zones().index(zone)


def _how_differs(offsets: Offsets, zone: str) -> str:
    """E.g. "the same 58% of the time, 1 h behind the rest", "45 min ahead all year"."""
    spent = _differences(offsets, _offsets(zoneinfo.ZoneInfo(zone)))
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


# -- names: abbreviations, Windows and Rails zone names -----------------------------------

# Each abbreviation's usual meaning in the exports this tool reads (North American CRMs
# first). IANA keys win over this table: EST, MST and HST are tzdata zones that keep
# UTC-5, UTC-7 and UTC-10 all year, and CET, EET, WET follow the EU's summer time.
# A standard-time abbreviation of a zone with summer time names that zone, summer
# included (PST is Los Angeles time, not UTC-8 all year), and so does the summer one.
ABBREVIATIONS = """
ET, EDT = America/New_York          # US Eastern
CT, CST, CDT = America/Chicago      # US Central (not China or Cuba Standard Time)
MT, MDT = America/Denver            # US Mountain (MST alone: tzdata's UTC-7 all year)
PT, PST, PDT = America/Los_Angeles  # US Pacific
AKST, AKDT = America/Anchorage      # Alaska
HDT, HAST, HADT = America/Adak      # Hawaii-Aleutian with summer time (HST: Honolulu)
AST, ADT = America/Halifax          # Atlantic (not Arabia Standard Time)
NST, NDT = America/St_Johns         # Newfoundland
SST = Pacific/Pago_Pago             # Samoa Standard Time
CHST = Pacific/Guam                 # Chamorro
BST = Europe/London                 # British Summer Time (not Bangladesh)
IST = Asia/Kolkata                  # India (not Irish or Israel Standard Time)
CEST, MEZ, MESZ = Europe/Berlin     # Central European (CET: the tzdata zone)
EEST = Europe/Athens                # Eastern European summer time (EET: tzdata zone)
WEST = Europe/Lisbon                # Western European summer time (WET: tzdata zone)
MSK = Europe/Moscow
WAT = Africa/Lagos                  # West Africa
CAT = Africa/Maputo                 # Central Africa
SAST = Africa/Johannesburg          # South Africa
EAT = Africa/Nairobi                # East Africa
IDT = Asia/Jerusalem                # Israel
TRT = Europe/Istanbul
GST = Asia/Dubai                    # Gulf (not South Georgia)
IRST, IRDT = Asia/Tehran
AFT = Asia/Kabul
PKT = Asia/Karachi
NPT = Asia/Kathmandu
MMT = Asia/Yangon                   # Myanmar
ICT = Asia/Bangkok                  # Indochina
WIB = Asia/Jakarta
SGT = Asia/Singapore
MYT = Asia/Kuala_Lumpur
HKT = Asia/Hong_Kong
PHT, PHST = Asia/Manila
CCT = Asia/Shanghai                 # China Coast
JST = Asia/Tokyo
KST = Asia/Seoul                    # South Korea
AWST = Australia/Perth
ACST, ACDT = Australia/Adelaide     # the South Australian clock, summer included
AEST, AEDT = Australia/Sydney       # the NSW/Victoria clock (Brisbane: write Brisbane)
NZST, NZDT = Pacific/Auckland
BRT = America/Sao_Paulo
ART = America/Argentina/Buenos_Aires
CLT, CLST = America/Santiago
COT = America/Bogota
PET = America/Lima
VET = America/Caracas
"""

# US names as people write them.
COMMON_NAMES = """
Eastern, Eastern Time, Eastern Standard Time = America/New_York
Central, Central Time = America/Chicago
Mountain, Mountain Time = America/Denver
Pacific, Pacific Time = America/Los_Angeles
Alaska Time, Hawaii Time = America/Anchorage, Pacific/Honolulu
"""

# CLDR windowsZones.xml, each Windows zone's territory-001 IANA zone, with its Windows
# display name ("(UTC-05:00) " taken off: a cell's prefix is checked against the zone).
# "X Daylight Time" is read like "X Standard Time" (.NET's daylight names).
WINDOWS = """
Dateline Standard Time | International Date Line West = Etc/GMT+12
Aleutian Standard Time | Aleutian Islands = America/Adak
Hawaiian Standard Time | Hawaii = Pacific/Honolulu
Marquesas Standard Time | Marquesas Islands = Pacific/Marquesas
Alaskan Standard Time | Alaska = America/Anchorage
Pacific Standard Time (Mexico) | Baja California = America/Tijuana
Pacific Standard Time | Pacific Time (US & Canada) = America/Los_Angeles
US Mountain Standard Time | Arizona = America/Phoenix
Mountain Standard Time (Mexico) | Chihuahua, La Paz, Mazatlan = America/Mazatlan
Mountain Standard Time | Mountain Time (US & Canada) = America/Denver
Yukon Standard Time | Yukon = America/Whitehorse
Central America Standard Time | Central America = America/Guatemala
Central Standard Time | Central Time (US & Canada) = America/Chicago
Easter Island Standard Time | Easter Island = Pacific/Easter
Central Standard Time (Mexico) | Guadalajara, Mexico City, Monterrey = America/Mexico_City
Canada Central Standard Time | Saskatchewan = America/Regina
SA Pacific Standard Time | Bogota, Lima, Quito, Rio Branco = America/Bogota
Eastern Standard Time (Mexico) | Chetumal = America/Cancun
Eastern Standard Time | Eastern Time (US & Canada) = America/New_York
Haiti Standard Time | Haiti = America/Port-au-Prince
Cuba Standard Time | Havana = America/Havana
US Eastern Standard Time | Indiana (East) = America/Indianapolis
Turks And Caicos Standard Time | Turks and Caicos = America/Grand_Turk
Paraguay Standard Time | Asuncion = America/Asuncion
Atlantic Standard Time | Atlantic Time (Canada) = America/Halifax
Venezuela Standard Time | Caracas = America/Caracas
Central Brazilian Standard Time | Cuiaba = America/Cuiaba
SA Western Standard Time | Georgetown, La Paz, Manaus, San Juan = America/La_Paz
Pacific SA Standard Time | Santiago = America/Santiago
Newfoundland Standard Time | Newfoundland = America/St_Johns
Tocantins Standard Time | Araguaina = America/Araguaina
E. South America Standard Time | Brasilia = America/Sao_Paulo
SA Eastern Standard Time | Cayenne, Fortaleza = America/Cayenne
Argentina Standard Time | City of Buenos Aires = America/Buenos_Aires
Greenland Standard Time | Greenland = America/Godthab
Montevideo Standard Time | Montevideo = America/Montevideo
Magallanes Standard Time | Punta Arenas = America/Punta_Arenas
Saint Pierre Standard Time | Saint Pierre and Miquelon = America/Miquelon
Bahia Standard Time | Salvador = America/Bahia
Azores Standard Time | Azores = Atlantic/Azores
Cape Verde Standard Time | Cabo Verde Is. = Atlantic/Cape_Verde
GMT Standard Time | Dublin, Edinburgh, Lisbon, London = Europe/London
Greenwich Standard Time | Monrovia, Reykjavik = Atlantic/Reykjavik
Sao Tome Standard Time | Sao Tome = Africa/Sao_Tome
Morocco Standard Time | Casablanca = Africa/Casablanca
W. Europe Standard Time | Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna = Europe/Berlin
Central Europe Standard Time | Belgrade, Bratislava, Budapest, Ljubljana, Prague = Europe/Budapest
Romance Standard Time | Brussels, Copenhagen, Madrid, Paris = Europe/Paris
Central European Standard Time | Sarajevo, Skopje, Warsaw, Zagreb = Europe/Warsaw
W. Central Africa Standard Time | West Central Africa = Africa/Lagos
Jordan Standard Time | Amman = Asia/Amman
GTB Standard Time | Athens, Bucharest = Europe/Bucharest
Middle East Standard Time | Beirut = Asia/Beirut
Egypt Standard Time | Cairo = Africa/Cairo
E. Europe Standard Time | Chisinau = Europe/Chisinau
Syria Standard Time | Damascus = Asia/Damascus
West Bank Standard Time | Gaza, Hebron = Asia/Hebron
South Africa Standard Time | Harare, Pretoria = Africa/Johannesburg
FLE Standard Time | Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius = Europe/Kiev
Israel Standard Time | Jerusalem = Asia/Jerusalem
South Sudan Standard Time | Juba = Africa/Juba
Kaliningrad Standard Time | Kaliningrad = Europe/Kaliningrad
Sudan Standard Time | Khartoum = Africa/Khartoum
Libya Standard Time | Tripoli = Africa/Tripoli
Namibia Standard Time | Windhoek = Africa/Windhoek
Arabic Standard Time | Baghdad = Asia/Baghdad
Turkey Standard Time | Istanbul = Europe/Istanbul
Arab Standard Time | Kuwait, Riyadh = Asia/Riyadh
Belarus Standard Time | Minsk = Europe/Minsk
Russian Standard Time | Moscow, St. Petersburg = Europe/Moscow
E. Africa Standard Time | Nairobi = Africa/Nairobi
Iran Standard Time | Tehran = Asia/Tehran
Arabian Standard Time | Abu Dhabi, Muscat = Asia/Dubai
Astrakhan Standard Time | Astrakhan, Ulyanovsk = Europe/Astrakhan
Azerbaijan Standard Time | Baku = Asia/Baku
Russia Time Zone 3 | Izhevsk, Samara = Europe/Samara
Mauritius Standard Time | Port Louis = Indian/Mauritius
Saratov Standard Time | Saratov = Europe/Saratov
Georgian Standard Time | Tbilisi = Asia/Tbilisi
Volgograd Standard Time | Volgograd = Europe/Volgograd
Caucasus Standard Time | Yerevan = Asia/Yerevan
Afghanistan Standard Time | Kabul = Asia/Kabul
West Asia Standard Time | Ashgabat, Tashkent = Asia/Tashkent
Ekaterinburg Standard Time | Ekaterinburg = Asia/Yekaterinburg
Pakistan Standard Time | Islamabad, Karachi = Asia/Karachi
Qyzylorda Standard Time | Qyzylorda = Asia/Qyzylorda
India Standard Time | Chennai, Kolkata, Mumbai, New Delhi = Asia/Calcutta
Sri Lanka Standard Time | Sri Jayawardenepura = Asia/Colombo
Nepal Standard Time | Kathmandu = Asia/Katmandu
Central Asia Standard Time = Asia/Bishkek
Bangladesh Standard Time | Dhaka = Asia/Dhaka
Omsk Standard Time | Omsk = Asia/Omsk
Myanmar Standard Time | Yangon (Rangoon) = Asia/Rangoon
SE Asia Standard Time | Bangkok, Hanoi, Jakarta = Asia/Bangkok
Altai Standard Time | Barnaul, Gorno-Altaysk = Asia/Barnaul
W. Mongolia Standard Time | Hovd = Asia/Hovd
North Asia Standard Time | Krasnoyarsk = Asia/Krasnoyarsk
N. Central Asia Standard Time | Novosibirsk = Asia/Novosibirsk
Tomsk Standard Time | Tomsk = Asia/Tomsk
China Standard Time | Beijing, Chongqing, Hong Kong, Urumqi = Asia/Shanghai
North Asia East Standard Time | Irkutsk = Asia/Irkutsk
Singapore Standard Time | Kuala Lumpur, Singapore = Asia/Singapore
W. Australia Standard Time | Perth = Australia/Perth
Taipei Standard Time | Taipei = Asia/Taipei
Ulaanbaatar Standard Time | Ulaanbaatar = Asia/Ulaanbaatar
Aus Central W. Standard Time | Eucla = Australia/Eucla
Transbaikal Standard Time | Chita = Asia/Chita
Tokyo Standard Time | Osaka, Sapporo, Tokyo = Asia/Tokyo
North Korea Standard Time | Pyongyang = Asia/Pyongyang
Korea Standard Time | Seoul = Asia/Seoul
Yakutsk Standard Time | Yakutsk = Asia/Yakutsk
Cen. Australia Standard Time | Adelaide = Australia/Adelaide
AUS Central Standard Time | Darwin = Australia/Darwin
E. Australia Standard Time | Brisbane = Australia/Brisbane
AUS Eastern Standard Time | Canberra, Melbourne, Sydney = Australia/Sydney
West Pacific Standard Time | Guam, Port Moresby = Pacific/Port_Moresby
Tasmania Standard Time | Hobart = Australia/Hobart
Vladivostok Standard Time | Vladivostok = Asia/Vladivostok
Lord Howe Standard Time | Lord Howe Island = Australia/Lord_Howe
Bougainville Standard Time | Bougainville Island = Pacific/Bougainville
Russia Time Zone 10 | Chokurdakh = Asia/Srednekolymsk
Magadan Standard Time | Magadan = Asia/Magadan
Norfolk Standard Time | Norfolk Island = Pacific/Norfolk
Sakhalin Standard Time | Sakhalin = Asia/Sakhalin
Central Pacific Standard Time | Solomon Is., New Caledonia = Pacific/Guadalcanal
Russia Time Zone 11 | Anadyr, Petropavlovsk-Kamchatsky = Asia/Kamchatka
New Zealand Standard Time | Auckland, Wellington = Pacific/Auckland
Fiji Standard Time | Fiji = Pacific/Fiji
Chatham Islands Standard Time | Chatham Islands = Pacific/Chatham
Tonga Standard Time | Nuku'alofa = Pacific/Tongatapu
Samoa Standard Time | Samoa = Pacific/Apia
Line Islands Standard Time | Kiritimati Island = Pacific/Kiritimati
"""

# Rails' ActiveSupport::TimeZone::MAPPING: its names, e.g. "Eastern Time (US & Canada)",
# are those a Rails app exports. Where Windows already names the same place the same
# way, the first entry wins; "International Date Line West" is UTC-12 on Windows and
# UTC-11 (Pacific/Midway) in Rails, so it is read only with a "(UTC-12:00) " prefix or
# the like. "Astana" is read as the city's clock today (Asia/Almaty), not Rails' Dhaka.
RAILS = """
International Date Line West = Pacific/Midway
Midway Island = Pacific/Midway
American Samoa = Pacific/Pago_Pago
Alaska = America/Juneau
Tijuana = America/Tijuana
Chihuahua = America/Chihuahua
Mazatlan = America/Mazatlan
Guadalajara, Mexico City = America/Mexico_City
Monterrey = America/Monterrey
Bogota = America/Bogota
Lima, Quito = America/Lima
La Paz = America/La_Paz
Georgetown = America/Guyana
Puerto Rico = America/Puerto_Rico
Brasilia = America/Sao_Paulo
Buenos Aires = America/Argentina/Buenos_Aires
Mid-Atlantic = Atlantic/South_Georgia
Cape Verde Is. = Atlantic/Cape_Verde
Dublin = Europe/Dublin
Edinburgh, London = Europe/London
Lisbon = Europe/Lisbon
Monrovia = Africa/Monrovia
Belgrade = Europe/Belgrade
Bratislava = Europe/Bratislava
Budapest = Europe/Budapest
Ljubljana = Europe/Ljubljana
Prague = Europe/Prague
Sarajevo = Europe/Sarajevo
Skopje = Europe/Skopje
Warsaw = Europe/Warsaw
Zagreb = Europe/Zagreb
Brussels = Europe/Brussels
Copenhagen = Europe/Copenhagen
Madrid = Europe/Madrid
Paris = Europe/Paris
Amsterdam = Europe/Amsterdam
Berlin = Europe/Berlin
Bern, Zurich = Europe/Zurich
Rome = Europe/Rome
Stockholm = Europe/Stockholm
Vienna = Europe/Vienna
Bucharest = Europe/Bucharest
Helsinki = Europe/Helsinki
Kyiv = Europe/Kiev
Riga = Europe/Riga
Sofia = Europe/Sofia
Tallinn = Europe/Tallinn
Vilnius = Europe/Vilnius
Athens = Europe/Athens
Harare = Africa/Harare
Pretoria = Africa/Johannesburg
Moscow, St. Petersburg = Europe/Moscow
Samara = Europe/Samara
Kuwait = Asia/Kuwait
Riyadh = Asia/Riyadh
Abu Dhabi, Muscat = Asia/Muscat
Islamabad, Karachi = Asia/Karachi
Tashkent = Asia/Tashkent
Chennai, Kolkata, Mumbai, New Delhi = Asia/Kolkata
Astana = Asia/Almaty
Sri Jayawardenepura = Asia/Colombo
Almaty = Asia/Almaty
Rangoon = Asia/Rangoon
Bangkok, Hanoi = Asia/Bangkok
Jakarta = Asia/Jakarta
Beijing = Asia/Shanghai
Chongqing = Asia/Chongqing
Hong Kong = Asia/Hong_Kong
Urumqi = Asia/Urumqi
Kuala Lumpur = Asia/Kuala_Lumpur
Singapore = Asia/Singapore
Osaka, Sapporo, Tokyo = Asia/Tokyo
Canberra, Melbourne = Australia/Melbourne
Sydney = Australia/Sydney
Guam = Pacific/Guam
Port Moresby = Pacific/Port_Moresby
Srednekolymsk = Asia/Srednekolymsk
Solomon Is. = Pacific/Guadalcanal
New Caledonia = Pacific/Noumea
Kamchatka = Asia/Kamchatka
Marshall Is. = Pacific/Majuro
Auckland, Wellington = Pacific/Auckland
Tokelau Is. = Pacific/Fakaofo
Chatham Is. = Pacific/Chatham
"""


def _entries(table: str) -> Iterator[tuple[list[str], list[str]]]:
    """(names, zones) per line of "A, B = Zone" ("A | B = Zone" for Windows; zones may
    be a list matched one to one with the names)."""
    for line in table.splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        names, _, zones = line.rpartition("=")
        separator = "|" if "|" in names else ","
        yield [n.strip() for n in names.split(separator)], [z.strip() for z in zones.split(",")]


@cache
def _names() -> dict[str, tuple[str, ...]]:
    """Name key -> the IANA zones it may mean (one, unless sources disagree)."""
    found: dict[str, tuple[str, ...]] = {}

    def add(name: str, zone: str) -> None:
        key = _name_key(name)
        zones = found.get(key, ())
        if zone not in zones and not any(_same_clock(zone, other) for other in zones):
            found[key] = (*zones, zone)

    for table in (ABBREVIATIONS, COMMON_NAMES, WINDOWS, RAILS):
        for names, zones in _entries(table):
            for name, zone in zip(
                names, zones * len(names) if len(zones) == 1 else zones, strict=True
            ):
                add(name, zone)
                if table is WINDOWS and name.endswith(" Standard Time"):
                    add(name.replace(" Standard Time", " Daylight Time"), zone)
    return found


def _same_clock(a: str, b: str) -> bool:
    return _offsets(zoneinfo.ZoneInfo(a)) == _offsets(zoneinfo.ZoneInfo(b))
