"""Time zones: any way a sheet writes one is sent as Kartra's zone of the same clock.

Kartra takes 76 values for lead_preferred_time_zone. A cell is read as a clock (an IANA
zone or link, an abbreviation, a Windows or Rails name, a fixed offset) and sent as the
Kartra zone whose UTC offset is the same at every moment over the coming five years; a
clock no Kartra zone keeps is a problem whose message names the closest and how it
differs. The clocks here are compared hour by hour, apart from how the module does it.
"""

from __future__ import annotations

import csv
import zoneinfo
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from functools import cache
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.cli.app import cli
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.template.mapping import default_template
from bulk_loader.validation.time_zones import (
    kartra_time_zone,
    kartra_zones,
    map_time_zone,
    period,
)
from bulk_loader.validation.validator import Validator

IANA = sorted(zoneinfo.available_timezones())
KARTRA = kartra_zones()


@cache
def hourly(zone: tzinfo) -> tuple[timedelta | None, ...]:
    """The zone's UTC offset at each hour of the compared period (the test's own oracle)."""
    start, end = period()
    return tuple(datetime.fromtimestamp(t, zone).utcoffset() for t in range(start, end, 3600))


def same_clock(zone: tzinfo, kartra: str) -> bool:
    return hourly(zone) == hourly(zoneinfo.ZoneInfo(kartra))


@cache
def kartra_equals(zone: tzinfo) -> frozenset[str]:
    return frozenset(k for k in KARTRA if same_clock(zone, k))


def fixed(hours: float) -> timezone:
    return timezone(timedelta(hours=hours))


def test_kartra_accepts_76_zones_and_each_is_a_zone_zoneinfo_knows() -> None:
    assert len(set(KARTRA)) == 76
    assert set(KARTRA) <= set(IANA)


# -- what each way of writing a zone becomes ------------------------------------------


@pytest.mark.parametrize(
    ("cell", "sent", "clock"),
    [
        # IANA zones Kartra lacks: one of Kartra's with the same offsets, same region first
        ("Europe/Paris", "Europe/Brussels", "Europe/Paris"),
        ("Europe/Berlin", "Europe/Brussels", "Europe/Berlin"),
        ("America/Toronto", "America/New_York", "America/Toronto"),
        ("America/Denver", "America/Boise", "America/Denver"),
        ("Asia/Singapore", "Asia/Kuala_Lumpur", "Asia/Singapore"),
        # legacy links, any case, spaces for underscores
        ("US/Eastern", "America/New_York", "America/New_York"),
        ("america/new_york", "America/New_York", "America/New_York"),
        ("  America / New York ", "America/New_York", "America/New_York"),
        ("Asia/Calcutta", "Asia/Kolkata", "Asia/Kolkata"),
        # abbreviations: EST is tzdata's UTC-5 all year; PST is Los Angeles time
        ("EST", "America/Bogota", fixed(-5)),
        ("est", "America/Bogota", fixed(-5)),
        ("PST", "America/Los_Angeles", "America/Los_Angeles"),
        ("CST", "America/Chicago", "America/Chicago"),
        ("EDT", "America/New_York", "America/New_York"),
        ("AKST", "America/Juneau", "America/Anchorage"),
        ("HST", "Pacific/Honolulu", fixed(-10)),
        ("BST", "Europe/London", "Europe/London"),
        ("CET", "Europe/Brussels", "Europe/Paris"),
        ("IST", "Asia/Kolkata", "Asia/Kolkata"),
        ("JST", "Asia/Tokyo", "Asia/Tokyo"),
        ("AEST", "Australia/Sydney", "Australia/Sydney"),
        # Windows and Rails names, with or without the offset in front
        ("Eastern Time (US & Canada)", "America/New_York", "America/New_York"),
        ("(GMT-05:00) Eastern Time (US & Canada)", "America/New_York", "America/New_York"),
        ("(UTC-08:00) Pacific Time (US & Canada)", "America/Los_Angeles", "America/Los_Angeles"),
        ("Pacific Standard Time", "America/Los_Angeles", "America/Los_Angeles"),
        ("W. Europe Standard Time", "Europe/Brussels", "Europe/Berlin"),
        ("w europe standard time", "Europe/Brussels", "Europe/Berlin"),
        ("Brussels, Copenhagen, Madrid, Paris", "Europe/Brussels", "Europe/Paris"),
        ("Paris", "Europe/Brussels", "Europe/Paris"),
        ("(UTC-12:00) International Date Line West", "Etc/GMT+12", fixed(-12)),
        # fixed offsets that a Kartra zone keeps all year
        ("UTC+1", "Africa/Algiers", fixed(1)),  # Algeria keeps UTC+1 all year
        ("GMT-05:00", "America/Bogota", fixed(-5)),
        ("+05:30", "Asia/Kolkata", fixed(5.5)),
        ("utc + 5:45", "Asia/Kathmandu", fixed(5.75)),
        ("UTC\u22123", "America/Argentina/Buenos_Aires", fixed(-3)),
    ],
)
def test_a_clock_kartra_has_is_sent_as_kartra_s_zone(
    cell: str, sent: str, clock: str | tzinfo
) -> None:
    zone = zoneinfo.ZoneInfo(clock) if isinstance(clock, str) else clock
    match = map_time_zone(cell)
    assert match.kartra == sent
    assert same_clock(zone, sent)
    assert kartra_time_zone(cell) == sent


def test_a_kartra_value_spelled_as_kartra_spells_it_is_sent_unchanged() -> None:
    for zone in KARTRA:
        match = map_time_zone(zone)
        assert (match.kartra, match.exact) == (zone, True)


@pytest.mark.parametrize(
    ("cell", "why"),
    [
        ("Europe/Paris", "same UTC offsets"),
        ("america/new_york", "same name"),
        ("US/Eastern", "the same zone"),  # a link to America/New_York
        ("EST", "both UTC-05:00 all year"),
        ("PST", "read as America/Los_Angeles"),
        ("W. Europe Standard Time", "read as Europe/Berlin; same UTC offsets"),
    ],
)
def test_a_mapping_says_how_the_clocks_are_the_same(cell: str, why: str) -> None:
    assert map_time_zone(cell).why == why


@pytest.mark.parametrize(
    ("cell", "what", "closest"),
    [
        ("UTC", "no Kartra zone keeps UTC+00:00 all year", ("Atlantic/Azores", "Europe/London")),
        ("GMT", "no Kartra zone keeps UTC+00:00 all year", ("Atlantic/Azores", "Europe/London")),
        ("Etc/UTC", "no Kartra zone keeps UTC+00:00 all year", ("Atlantic/Azores",)),
        ("UTC-8", "no Kartra zone keeps UTC-08:00 all year", ("America/Juneau",)),
        ("UTC+14", "no Kartra zone keeps UTC+14:00 all year", ("Pacific/Tongatapu",)),
        (
            "Pacific/Chatham",
            "no Kartra zone has the UTC offsets of Pacific/Chatham",
            ("Pacific/Tongatapu", "Pacific/Auckland"),
        ),
    ],
)
def test_a_clock_no_kartra_zone_keeps_is_not_mapped_and_the_closest_are_named(
    cell: str, what: str, closest: tuple[str, ...]
) -> None:
    """No silent guess: the message says there is no equal, and how the nearest differ."""
    match = map_time_zone(cell)
    assert match.kartra is None and match.reading is not None
    assert match.suggestion == closest[0]
    assert what in match.why
    positions = [match.why.index(f"{zone} (") for zone in closest]
    assert positions == sorted(positions)


def test_the_closest_to_utc_is_said_with_how_much_it_differs() -> None:
    """Azores is UTC+0 in summer and UTC-1 in winter; London UTC+0 and UTC+1."""
    why = map_time_zone("UTC").why
    assert "Atlantic/Azores (the same " in why and "1 h behind the rest" in why
    assert "Europe/London (the same " in why and "1 h ahead the rest" in why


@pytest.mark.parametrize(
    ("cell", "why", "suggestion"),
    [
        ("Mars/Olympus", "closest: Asia/Kuala_Lumpur", "Asia/Kuala_Lumpur"),  # by spelling
        ("America/New_Yrok", "closest: America/New_York", "America/New_York"),
        (
            "International Date Line West",  # UTC-12 on Windows, UTC-11 in Rails
            "it may mean Etc/GMT+12 or Pacific/Midway: write one",
            None,
        ),
        (
            "(GMT+01:00) Eastern Time (US & Canada)",
            "GMT+01:00 does not fit Eastern Time (US & Canada) (America/New_York); "
            "without the offset: America/New_York",
            "America/New_York",
        ),
        ("UTC+15", "no clock keeps it: they run from UTC-12 to UTC+14", None),
        ("GMT-05:75", "no clock keeps it: they run from UTC-12 to UTC+14", None),
    ],
)
def test_text_not_read_as_a_clock_is_never_mapped(
    cell: str, why: str, suggestion: str | None
) -> None:
    match = map_time_zone(cell)
    assert (match.kartra, match.reading) == (None, None)
    assert (match.why, match.suggestion) == (why, suggestion)
    assert kartra_time_zone(cell) == cell.strip()  # sent as is: its row is invalid anyway


# -- for any text ---------------------------------------------------------------------


@st.composite
def respelled_zones(draw: st.DrawFn) -> tuple[str, str]:
    """(an IANA key, that key in any case with spaces for underscores and around '/')."""
    key = draw(st.sampled_from(IANA))
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in key.replace("_", " "))
    spaced = cased.replace("/", draw(st.sampled_from(["/", " / "])))
    return key, draw(st.sampled_from([key, spaced]))


@st.composite
def offset_cells(draw: st.DrawFn) -> tuple[timezone | None, str]:
    """(the fixed clock, a way of writing it); None for offsets no clock has."""
    sign = draw(st.sampled_from(["+", "-"]))
    hours, minutes = draw(st.integers(0, 16)), draw(st.sampled_from([0, 15, 30, 45, 61]))
    prefix = draw(st.sampled_from(["", "UTC", "GMT", "utc ", "Gmt "]))
    text = draw(
        st.sampled_from([f"{hours}", f"{hours:02d}:{minutes:02d}", f"{hours:02d}{minutes:02d}"])
    )
    if text == f"{hours}":
        minutes = 0
    total = (hours * 60 + minutes) * (-1 if sign == "-" else 1)
    real = minutes < 60 and -12 * 60 <= total <= 14 * 60
    return (timezone(timedelta(minutes=total)) if real else None), f"{prefix}{sign}{text}"


NAMES = [
    "EST", "edt", "PST", "CET", "cest", "IST", "GMT", "UTC", "Z", "AEST", "NZDT", "MSK",
    "Eastern Time (US & Canada)", "(GMT-05:00) Eastern Time (US & Canada)",
    "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris", "Pacific Standard Time",
    "Pacific Daylight Time", "W. Europe Standard Time", "India Standard Time", "Hawaii",
    "International Date Line West", "(GMT+03:00) Hawaii", "Mid-Atlantic", "Astana",
]  # fmt: skip


@given(cell=st.one_of(st.text(max_size=60), st.sampled_from(NAMES), st.sampled_from(KARTRA)))
def test_any_text_maps_to_a_kartra_zone_of_the_same_clock_or_to_nothing(cell: str) -> None:
    """Never raises; a mapping is always one of the 76 with the same offset every hour,
    from a reading of the cell; what is not read as a clock is never mapped."""
    match = map_time_zone(cell)
    if match.kartra is None:
        assert match.why
        return
    assert match.kartra in KARTRA
    assert match.reading is not None
    assert same_clock(match.reading.zone, match.kartra)


@given(zone=respelled_zones())
def test_every_iana_zone_maps_exactly_when_kartra_has_its_clock(zone: tuple[str, str]) -> None:
    """Mapped iff some Kartra zone keeps the same offset every hour; and then to one."""
    key, cell = zone
    match = map_time_zone(cell)
    equals = kartra_equals(zoneinfo.ZoneInfo(key))
    if equals:
        assert match.kartra in equals
        if key in KARTRA:
            assert match.kartra == key  # its own name first
    else:
        assert match.kartra is None
        assert match.suggestion in KARTRA


@given(written=offset_cells())
def test_a_fixed_offset_maps_exactly_when_a_kartra_zone_keeps_it_all_year(
    written: tuple[timezone | None, str],
) -> None:
    clock, cell = written
    match = map_time_zone(cell)
    if clock is None:
        assert match.kartra is None
    elif kartra_equals(clock):
        assert match.kartra in kartra_equals(clock)
    else:
        assert match.kartra is None and "all year" in match.why


# -- in the validator, the dry run and the run ----------------------------------------


def write_sheet(path: Path, zones: Sequence[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        rows = [[f"lead{n}@example.com", zone] for n, zone in enumerate(zones)]
        csv.writer(file).writerows([["email", "lead_preferred_time_zone"], *rows])
    return path


SHEET = [
    "Europe/Paris", "Europe/Paris", "europe/paris ", "US/Eastern", "America/New_York",
    "UTC", "Eastern Time (US & Canada)", "Europe/Paris",
]  # fmt: skip
NOTES = [
    "time zone Europe/Paris -> Europe/Brussels (same UTC offsets): 4 rows",
    "time zone Eastern Time (US & Canada) -> America/New_York (read as America/New_York): 1 row",
    "time zone US/Eastern -> America/New_York (the same zone): 1 row",
]


def test_the_payload_carries_kartra_s_zone_and_the_notes_count_the_rows(tmp_path: Path) -> None:
    path = write_sheet(tmp_path / "s.csv", SHEET)
    with open_sheet(path) as sheet:
        validator = Validator(default_template(sheet.headers), sheet, "upsert")
        leads, problems = [], []
        for chunk in sheet.chunks(3):  # the counts run across chunks
            valid, found = validator.validate(chunk)
            leads += valid
            problems += found
        notes = validator.time_zone_notes()
        validator.close()
    sent = {lead.row: lead.lead["lead_preferred_time_zone"] for lead in leads}
    assert sent == {
        2: "Europe/Brussels", 3: "Europe/Brussels", 4: "Europe/Brussels",
        5: "America/New_York", 6: "America/New_York", 8: "America/New_York",
        9: "Europe/Brussels",
    }  # fmt: skip
    assert [(p.row, p.code) for p in problems] == [(7, "unknown_time_zone")]
    assert problems[0].message.startswith("'UTC' is not one of Kartra's 76 time zones; no ")
    assert notes == NOTES  # the exact America/New_York is no note


def test_the_dry_run_shows_one_note_per_mapping(tmp_path: Path) -> None:
    path = write_sheet(tmp_path / "leads.csv", SHEET)
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 1, result.output  # the UTC row
    shown = [line for line in result.stdout.splitlines() if line.startswith("Note:")]
    assert shown == [f"Note:      {note}" for note in NOTES]
    summary = openpyxl.load_workbook(tmp_path / "leads.csv.results.xlsx")["Summary"]
    notes = [
        row[1] for row in summary.iter_rows(values_only=True) if str(row[0]).startswith("Note")
    ]
    assert notes == NOTES


def test_a_real_run_sends_kartra_s_zone_and_notes_it(tmp_path: Path) -> None:
    """Through the sandbox, which keeps only Kartra's 76 values (as Kartra does)."""
    from bulk_loader.kartra.client import Credentials, KartraClient
    from bulk_loader.pipeline.importer import ImportOptions, run_import
    from bulk_loader.sandbox import serve_in_thread

    account = Path(__file__).resolve().parent.parent / "samples" / "account.toml"
    path = write_sheet(tmp_path / "leads.csv", ["Europe/Paris", "PST", "America/Chicago"])
    credentials = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
    with (
        serve_in_thread(account, rate=None) as sandbox,
        KartraClient(credentials, api_url=sandbox.url, timeout=5) as client,
    ):
        summary = run_import(ImportOptions(sheet=path, mode="create", rate=None), client)
        stored = []
        for n in range(3):
            lead = sandbox.state.find(email=f"lead{n}@example.com")
            assert lead is not None
            stored.append(lead.fields.get("lead_preferred_time_zone"))
    assert stored == ["Europe/Brussels", "America/Los_Angeles", "America/Chicago"]
    assert summary.report.notes == [
        "time zone Europe/Paris -> Europe/Brussels (same UTC offsets): 1 row",
        "time zone PST -> America/Los_Angeles (read as America/Los_Angeles): 1 row",
        "leads created through the API carry no GDPR consent in Kartra: on an account with "
        "GDPR on, they may get no email until they fill in a Kartra form",
    ]
