"""Dates: a text custom field with `date = "%m/%d"` sends its cells in that format, and a
column without one whose XLSX cells a spreadsheet turned into dates gets a warning.

Mailchimp's birthday is `MM/DD` text; a spreadsheet that opens the CSV and saves it as
XLSX turns `12/01` into a date (2026-12-01, shown as 12/1, 1-Dec or 2026-12-01 by its
number format). A cell that cannot be read as a date is sent as written, with a warning.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_transforms import sheet as csv_sheet
from test_transforms import template_problems, write

from bulk_loader import Credentials, KartraClient, Loader, RowStatus
from bulk_loader.outcomes import WARNINGS, Problem, ProblemCode
from bulk_loader.sandbox import serve_in_thread
from bulk_loader.sheets.excel_text import DateText
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.template.mapping import load_template
from bulk_loader.template.model import CustomFieldMap, Template
from bulk_loader.validation.dates import (
    DATE_ORDERS,
    DateOrder,
    Reading,
    date_format_problem,
    default_order,
    format_date,
    read_date,
    send_date,
)
from bulk_loader.validation.transforms import RowTransforms
from bulk_loader.validation.validator import LeadRow, Validator

ROOT = Path(__file__).resolve().parent.parent
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
MakeXlsx = Callable[..., Path]  # the conftest fixture

BIRTHDAY = """
[fields]
email = "Email"
[custom_fields.birthday]
column = "Birthday"
type = "input_field"
date = "%m/%d"
"""
HEADERS = ["Email", "Birthday"]


def validate(
    tmp_path: Path, template: str, path: Path
) -> tuple[dict[int, dict[str, object]], list[Problem]]:
    """Each valid row's Kartra payload by row number, and every problem and warning."""
    loaded = load_template(write(tmp_path, "t.toml", template))
    leads: list[LeadRow] = []
    problems: list[Problem] = []
    with open_sheet(path) as opened:
        validator = Validator(loaded, opened, "upsert")
        for chunk in opened.chunks(2):
            valid, found = validator.validate(chunk)
            leads += valid
            problems += found
        validator.close()
    return {lead.row: lead.lead for lead in leads}, problems


def customs(lead: dict[str, object]) -> dict[str, object]:
    entries = lead.get("custom_fields", [])
    assert isinstance(entries, list)
    return {entry["field_identifier"]: entry["field_value"] for entry in entries}


# -- the template ----------------------------------------------------------------------


def test_a_text_custom_field_may_name_a_date_format(tmp_path: Path) -> None:
    """The order ambiguous cells are read in follows the format, unless it is named."""
    template = load_template(
        write(
            tmp_path,
            "t.toml",
            BIRTHDAY
            + '[custom_fields.joined]\ncolumn = "Joined"\ntype = "text_area"\n'
            + 'date = "%d.%m.%Y"\n'
            + '[custom_fields.renewal]\ncolumn = "Renewal"\ntype = "input_field"\n'
            + 'date = "%Y-%m-%d"\ndate_order = "dmy"\n'
            + '[custom_fields.notes]\ncolumn = "Notes"\ntype = "input_field"\n',
        )
    )
    by_id = {c.identifier: c for c in template.custom_fields}
    assert (by_id["birthday"].date, by_id["birthday"].date_order) == ("%m/%d", "MDY")
    assert (by_id["joined"].date, by_id["joined"].date_order) == ("%d.%m.%Y", "DMY")
    assert (by_id["renewal"].date, by_id["renewal"].date_order) == ("%Y-%m-%d", "DMY")
    assert (by_id["notes"].date, by_id["notes"].date_order) == (None, None)


@pytest.mark.parametrize(
    ("fmt", "order"),
    [
        ("%m/%d", "MDY"),
        ("%-m/%-d/%Y", "MDY"),
        ("%d/%m", "DMY"),
        ("%d-%b-%Y", "DMY"),
        ("%B %-d, %Y", "MDY"),
        ("%Y-%m-%d", "YMD"),
        ("%y%m%d", "YMD"),
        ("%Y", "MDY"),
        ("%b", "MDY"),
    ],
)
def test_the_default_date_order_is_the_formats_own(fmt: str, order: DateOrder) -> None:
    assert date_format_problem(fmt) is None
    assert default_order(fmt) == order


NOT_A_FORMAT = 'must be a date format in strftime codes, e.g. date = "%m/%d"'


def test_every_date_mistake_is_reported_with_its_key(tmp_path: Path) -> None:
    def field(name: str, extra: str, kind: str = "input_field") -> str:
        return f'[custom_fields.{name}]\ncolumn = "{name}"\ntype = "{kind}"\n{extra}\n'

    text = "\n".join(
        [
            field("unknown_code", 'date = "%m/%q"'),
            field("time_code", 'date = "%m/%d %H:%M"'),
            field("no_part", 'date = "birthday"'),
            field("lone_percent", 'date = "%m/%d %"'),
            field("too_long", f'date = "{"%m/%d " * 12}"'),
            field("not_text", "date = 1201"),
            field("empty", 'date = " "'),
            field("choice", 'date = "%m/%d"\noptions = { a = 1 }', "drop_down"),
            field("bad_order", 'date = "%m/%d"\ndate_order = "MD"'),
            field("order_alone", 'date_order = "DMY"'),
            field("both_wrong", 'date = "%Q"\ndate_order = 3'),
            field("dat", 'dat = "%m/%d"'),
        ]
    )
    problems = template_problems(tmp_path, text)
    assert problems == {
        "custom_fields.unknown_code.date": "%q is not a date code: use %d %-d %m %-m %b %B "
        "%y %Y %a %A %j %-j %%",
        "custom_fields.time_code.date": "%H is not a date code (a date is sent without a "
        "time): use %d %-d %m %-m %b %B %y %Y %a %A %j %-j %%",
        "custom_fields.no_part.date": "names no part of a date: give a day, month or year, "
        "e.g. %m/%d",
        "custom_fields.lone_percent.date": "ends with a lone %: write %% for a percent sign",
        "custom_fields.too_long.date": "at most 50 characters, not 72",
        "custom_fields.not_text.date": NOT_A_FORMAT,
        "custom_fields.empty.date": NOT_A_FORMAT,
        "custom_fields.choice.date": "only a text field (input_field, text_area) takes a "
        "date format",
        "custom_fields.bad_order.date_order": "'MD' is not a date order: one of MDY, DMY, YMD "
        "(how the month, day and year of a cell such as 3/4 are read)",
        "custom_fields.order_alone.date_order": "orders the day and month of dates: give the "
        'date format too, e.g. date = "%m/%d"',
        "custom_fields.both_wrong.date": "%Q is not a date code: use %d %-d %m %-m %b %B %y "
        "%Y %a %A %j %-j %%",
        "custom_fields.both_wrong.date_order": "3 is not a date order: one of MDY, DMY, YMD "
        "(how the month, day and year of a cell such as 3/4 are read)",
        "custom_fields.dat.dat": "unknown key (did you mean 'date'?)",
    }


def test_kartra_lead_fields_hold_no_dates(tmp_path: Path) -> None:
    """Kartra has no date lead field: a date format goes on a text custom field."""
    problems = template_problems(
        tmp_path, '[fields]\nemail = "Email"\nzip = { column = "Zip", date = "%m/%d" }\n'
    )
    assert problems == {"fields.zip.date": "unknown key"}


# -- reading a date ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "order", "sent"),
    [
        # what an XLSX date cell reads as (excel_text.py): ISO, with its time when it has one
        ("2026-12-01", "MDY", "12/01"),
        ("2026-12-01 14:30:00", "DMY", "12/01"),
        ("2026-12-01T09:05", "MDY", "12/01"),
        # text in common shapes
        ("12/01", "MDY", "12/01"),
        ("12/1", "MDY", "12/01"),
        ("12-01", "MDY", "12/01"),
        ("12/1/2026", "MDY", "12/01"),
        ("12/01/26", "MDY", "12/01"),
        ("1/12/2026", "DMY", "12/01"),
        ("01.12.2026", "DMY", "12/01"),
        ("2026/12/1", "DMY", "12/01"),
        ("1-Dec", "MDY", "12/01"),
        ("1 Dec", "DMY", "12/01"),
        ("Dec 1", "MDY", "12/01"),
        ("December 1", "MDY", "12/01"),
        ("december 1st", "MDY", "12/01"),
        ("Dec. 1, 2026", "MDY", "12/01"),
        ("1-Dec-26", "MDY", "12/01"),
        ("1 December 2026", "MDY", "12/01"),
        ("Tuesday, December 1, 2026", "MDY", "12/01"),
        ("2026-Dec-01", "MDY", "12/01"),
        ("  12/01  ", "MDY", "12/01"),
        ("Sept 30", "MDY", "09/30"),
        ("02/29", "MDY", "02/29"),
        # the order decides only what is ambiguous
        ("3/4", "MDY", "03/04"),
        ("3/4", "DMY", "04/03"),
        ("3/4", "YMD", "03/04"),
    ],
)
def test_a_date_in_a_common_shape_is_sent_in_the_format(
    written: str, order: DateOrder, sent: str
) -> None:
    assert send_date(written, "%m/%d", order).text == sent
    assert send_date(written, "%m/%d", order).warning is None


@pytest.mark.parametrize(
    ("written", "order", "why"),
    [
        ("soon", "MDY", "is not a date"),
        ("13/04", "MDY", "is not a month/day/year date (date_order MDY)"),
        ("04/13", "DMY", "is not a day/month/year date (date_order DMY)"),
        ("02/30", "MDY", "is not a month/day/year date (date_order MDY)"),
        ("12/01/2026 25:00", "MDY", "is not a month/day/year date (date_order MDY)"),
        ("0000-12-01", "MDY", "is not a month/day/year date (date_order MDY)"),
        ("Dec 2026", "MDY", "is not a date"),
        ("Dec 32", "MDY", "is not a date"),
        ("Monday, December 1, 2026", "MDY", "is not a date"),  # 2026-12-01 is a Tuesday
        ("1dec", "MDY", "is not a date"),
        ("46357", "MDY", "is not a date"),  # a date's serial number, written as text
        ("1er décembre", "MDY", "is not a date"),
        ("12/01 or 12/02", "MDY", "is not a date"),
    ],
)
def test_a_cell_that_is_no_date_is_sent_as_written_with_a_warning(
    written: str, order: DateOrder, why: str
) -> None:
    assert send_date(written, "%m/%d", order).text == written
    assert send_date(written, "%m/%d", order).warning == f"{written!r} {why}; sent as written"


def test_a_format_that_needs_the_year_does_not_invent_one() -> None:
    """12/01 has no year: "%Y" or a weekday cannot be written; "%m/%d" can."""
    for fmt in ("%Y-%m-%d", "%d.%m.%y", "%a %m/%d", "%j"):
        sent = send_date("12/01", fmt, "MDY")
        why = f"has no year, and the date format {fmt!r} needs one"
        assert (sent.text, sent.warning) == ("12/01", f"'12/01' {why}; sent as written")
    assert send_date("12/01", "%-d %B", "MDY").text == "1 December"


def test_every_date_code_is_written_in_english_whatever_the_locale() -> None:
    reading = Reading(2026, 3, 4)
    fmt = "%d %-d %m %-m %b %B %y %Y %a %A %j %-j 100%%"
    assert format_date(reading, fmt) == "04 4 03 3 Mar March 26 2026 Wed Wednesday 063 63 100%"
    assert format_date(Reading(5, 1, 2), "%Y/%y") == "0005/05"


def test_two_digit_years_are_read_as_excel_reads_them() -> None:
    assert read_date("1/1/29") == Reading(2029, 1, 1)
    assert read_date("1/1/30") == Reading(1930, 1, 1)
    assert read_date("26/12/01", "YMD") == Reading(2026, 12, 1)
    assert read_date("26/12/01", "DMY") == Reading(2001, 12, 26)


# -- a CSV -------------------------------------------------------------------------------


def test_csv_text_dates_are_sent_in_the_format(tmp_path: Path) -> None:
    rows = [
        ["a@example.com", "12/01"],
        ["b@example.com", "1-Dec"],
        ["c@example.com", "December 1, 2026"],
        ["d@example.com", "next week"],
        ["e@example.com", ""],
        ["f@example.com", "#clear"],
    ]
    template = '[template]\nclear = "#clear"\n' + BIRTHDAY
    leads, problems = validate(tmp_path, template, csv_sheet(tmp_path, HEADERS, rows))
    assert sorted(leads) == [2, 3, 4, 5, 6, 7]  # a warning never stops a row
    assert [customs(leads[row]).get("birthday") for row in sorted(leads)] == [
        "12/01",
        "12/01",
        "12/01",
        "next week",
        None,
        "",  # the clear marker clears the field
    ]
    assert [(p.row, p.column, p.value, p.code, p.message) for p in problems] == [
        (
            5,
            "Birthday",
            "next week",
            ProblemCode.DATE_NOT_READ,
            "'next week' is not a date; sent as written",
        )
    ]


def test_a_csv_never_warns_of_date_cells(tmp_path: Path) -> None:
    """A CSV has no date cells: text that reads like a date is text."""
    template = '[fields]\nemail = "Email"\nzip = "Zip"\n'
    rows = [["a@example.com", "2026-12-01"]]
    leads, problems = validate(tmp_path, template, csv_sheet(tmp_path, ["Email", "Zip"], rows))
    assert leads[2]["zip"] == "2026-12-01"
    assert problems == []


# -- an XLSX -----------------------------------------------------------------------------

# Number formats a date cell may carry, as spreadsheet apps write them.
DATE_FORMATS = [
    "m/d",
    "d-mmm",
    "yyyy-mm-dd",
    "mm-dd-yy",  # built-in 14: the system's short date
    "dd/mm/yyyy",
    "mmmm d",
    "m/d/yy h:mm",
    "[$-409]mmmm d, yyyy;@",
]


def test_xlsx_date_cells_in_any_number_format_are_sent_in_the_format(
    tmp_path: Path, make_xlsx: MakeXlsx
) -> None:
    moments: list[object] = [datetime(2026, 12, 1)] * (len(DATE_FORMATS) - 1)
    moments.insert(DATE_FORMATS.index("m/d/yy h:mm"), datetime(2026, 12, 1, 14, 30))
    rows: list[list[object]] = [HEADERS]
    rows += [[f"lead{n}@example.com", moment] for n, moment in enumerate(moments)]
    rows += [["text@example.com", "12/01"], ["iso@example.com", date(2026, 12, 1)]]
    formats = {f"B{n + 2}": fmt for n, fmt in enumerate(DATE_FORMATS)}
    formats[f"B{len(rows)}"] = "d-mmm"
    path = make_xlsx(rows, formats=formats)
    leads, problems = validate(tmp_path, BIRTHDAY, path)
    assert len(leads) == len(rows) - 1
    assert {customs(lead)["birthday"] for lead in leads.values()} == {"12/01"}
    assert problems == []  # a column mapped as a date is never noted as holding dates


def test_the_reader_keeps_which_cells_are_dates(make_xlsx: MakeXlsx, tmp_path: Path) -> None:
    """Dates (any date number format, a date and time too) are DateText; numbers in
    other formats, times, durations and text are plain text."""
    rows: list[list[object]] = [
        ["a", "b", "c", "d", "e", "f", "g", "h"],
        [
            datetime(2026, 12, 1),
            datetime(2026, 12, 1, 14, 30),
            2134,
            46357,
            0.5,
            time(14, 30),
            timedelta(hours=30),
            "2026-12-01",
        ],
    ]
    formats = {"A2": "d-mmm", "B2": "m/d/yy h:mm", "C2": "00000", "D2": "General", "E2": "0.00"}
    path = make_xlsx(rows, formats=formats)
    with open_sheet(path) as opened:
        (chunk,) = list(opened.chunks())
    cells = chunk.rows[0]
    assert cells == [
        "2026-12-01",
        "2026-12-01 14:30:00",
        "02134",
        "46357",
        "0.50",
        "14:30:00",
        "30:00:00",
        "2026-12-01",
    ]
    assert [type(cell) is DateText for cell in cells] == [True, True] + [False] * 6
    first = cells[0]
    assert isinstance(first, DateText)
    assert first.moment == datetime(2026, 12, 1)
    again = pickle.loads(pickle.dumps(first))  # as the results process gets it
    assert (type(again), again, again.moment) == (DateText, first, first.moment)
    # A workbook storing dates as ISO text in a date cell (t="d") is read the same way.
    book = openpyxl.Workbook(iso_dates=True)
    sheet = book.active
    assert sheet is not None
    sheet.append(["a"])
    sheet.append([datetime(2026, 12, 1)])
    iso = tmp_path / "iso.xlsx"
    book.save(iso)
    with open_sheet(iso) as opened:
        (chunk,) = list(opened.chunks())
    assert type(chunk.rows[0][0]) is DateText and chunk.rows[0][0] == "2026-12-01"


NOTES = """
[fields]
email = "Email"
zip = "Zip"
phone = "Phone"
[custom_fields.favorite_dish]
column = "Notes"
type = "input_field"
"""


def test_date_cells_in_a_column_without_a_date_format_are_noted(
    tmp_path: Path, make_xlsx: MakeXlsx
) -> None:
    """Each date cell of a text column gets a warning saying what was sent and what to
    do; numbers that are not dates (a phone, a zip formatted 00000) get none."""
    rows: list[list[object]] = [
        ["Email", "Zip", "Phone", "Notes"],
        ["a@example.com", 2134, 14155550100, datetime(2026, 12, 1)],
        ["b@example.com", datetime(2026, 3, 4), 4155550100.0, "12/01"],
        ["c@example.com", "02134", "415 555 0100", 42],
    ]
    path = make_xlsx(rows, formats={"B2": "00000", "D2": "m/d", "B3": "m/d/yyyy"})
    leads, problems = validate(tmp_path, NOTES, path)
    assert sorted(leads) == [2, 3, 4]  # warnings: every row is sent
    assert customs(leads[2]) == {"favorite_dish": "2026-12-01"}
    assert leads[3]["zip"] == "2026-03-04"
    assert [(p.row, p.column, p.value, p.code) for p in problems] == [
        (2, "Notes", "2026-12-01", ProblemCode.CELL_IS_A_DATE),
        (3, "Zip", "2026-03-04", ProblemCode.CELL_IS_A_DATE),
    ]
    assert all(p.is_warning for p in problems)
    notes, zip_code = (p.message for p in problems)
    assert notes == (
        "the spreadsheet stores this cell as a date, so it is sent as '2026-12-01'; if the "
        'column holds dates, name the format to send them in: date = "%m/%d" in '
        "[custom_fields.favorite_dish] (strftime codes); if it is text, format the column "
        "as Text in the spreadsheet and type it again"
    )
    assert zip_code == (
        "the spreadsheet stores this cell as a date, so it is sent as '2026-03-04'; if it "
        "is text (such as 12/01), format the column as Text in the spreadsheet and type it "
        "again, or load the original CSV export, which holds the text"
    )


def test_a_column_read_as_dates_by_one_key_is_never_noted(
    tmp_path: Path, make_xlsx: MakeXlsx
) -> None:
    """The date field copies a mapped field's column: it holds dates on purpose."""
    template = BIRTHDAY.replace("[custom_fields.", 'zip = "Birthday"\n[custom_fields.')
    rows: list[list[object]] = [HEADERS, ["a@example.com", datetime(2026, 12, 1)]]
    leads, problems = validate(tmp_path, template, make_xlsx(rows, formats={"B2": "m/d"}))
    assert (leads[2]["zip"], customs(leads[2])) == ("2026-12-01", {"birthday": "12/01"})
    assert problems == []


def test_a_date_cell_in_an_unmapped_column_is_not_noted(
    tmp_path: Path, make_xlsx: MakeXlsx
) -> None:
    rows: list[list[object]] = [
        ["Email", "Birthday", "Signed up"],
        ["a@example.com", "12/01", datetime(2024, 1, 1)],
    ]
    leads, problems = validate(tmp_path, BIRTHDAY, make_xlsx(rows))
    assert customs(leads[2]) == {"birthday": "12/01"}
    assert problems == []


def test_the_new_codes_are_warnings() -> None:
    assert {ProblemCode.DATE_NOT_READ, ProblemCode.CELL_IS_A_DATE} <= WARNINGS


# -- a real run against the sandbox ------------------------------------------------------


def test_kartra_receives_the_birthday_in_the_templates_format(
    tmp_path: Path, make_xlsx: MakeXlsx
) -> None:
    """The export saved as XLSX: birthdays turned into dates (each app its own number
    format), some left as text, one that is no date; a notes column with a date in it."""
    account = tmp_path / "account.toml"
    account.write_text(
        (ROOT / "samples" / "account.toml").read_text(encoding="utf-8")
        + '\n[custom_fields.birthday]\ntype = "input_field"\n',
        encoding="utf-8",
    )
    template = write(
        tmp_path,
        "t.toml",
        BIRTHDAY + '[custom_fields.favorite_dish]\ncolumn = "Notes"\ntype = "input_field"\n',
    )
    rows: list[list[object]] = [
        ["Email", "Birthday", "Notes"],
        ["ana@example.com", datetime(2026, 12, 1), "pho"],
        ["bo@example.com", datetime(2026, 3, 4), datetime(2026, 5, 6)],
        ["cy@example.com", "7/15", "ramen"],
        ["di@example.com", "ask her", ""],
    ]
    path = make_xlsx(rows, formats={"B2": "d-mmm", "B3": "m/d", "C3": "m/d"})
    with (
        serve_in_thread(account, rate=None) as running,
        KartraClient(GOOD, api_url=running.url) as client,
    ):
        summary = Loader(path, template=template, mode="create").run(
            client, rate=None, memory=False
        )
        stored = {}
        for email in ("ana@example.com", "bo@example.com", "cy@example.com", "di@example.com"):
            lead = running.state.find(email=email)
            assert lead is not None
            stored[email] = lead.custom
    assert summary.statuses[RowStatus.CREATED] == 4
    assert summary.warnings == {"date_not_read": 1, "cell_is_a_date": 1}
    assert [custom["birthday"] for custom in stored.values()] == [
        "12/01",
        "03/04",
        "07/15",
        "ask her",  # never held back: sent as written
    ]
    assert stored["bo@example.com"]["favorite_dish"] == "2026-05-06"
    assert summary.results is not None
    book = openpyxl.load_workbook(summary.results, read_only=True)
    results = list(book["Results"].iter_rows(values_only=True))
    email = results[0].index("Email")  # after the result columns
    by_email = {row[email]: dict(zip(results[0], row, strict=True)) for row in results[1:]}
    assert by_email["di@example.com"]["result_status"] == "created"
    assert "Birthday: 'ask her' is not a date" in str(by_email["di@example.com"]["result_message"])
    assert "Notes: the spreadsheet stores this cell as a date" in str(
        by_email["bo@example.com"]["result_message"]
    )
    assert by_email["bo@example.com"]["Notes"] == "2026-05-06"


# -- properties --------------------------------------------------------------------------

ORDERS = st.sampled_from(DATE_ORDERS)
DATE_LIKE = st.one_of(
    st.text(alphabet="0123456789/-.: ,tTdecDECmayMAYst", max_size=24),
    # numbers as dates are written, some out of range: 13/04, 2/30, 12/1/2026 25:00
    st.builds(
        lambda a, sep, b, c, clock: f"{a}{sep}{b}{f'{sep}{c}' if c is not None else ''}{clock}",
        st.integers(0, 13) | st.sampled_from([26, 31, 2026, 999]),
        st.sampled_from("/-."),
        st.integers(0, 32),
        st.none() | st.integers(0, 31) | st.sampled_from([26, 2026, 999]),
        st.sampled_from(["", " 14:30", "T09:05:00", " 25:00", " 2:30 pm"]),
    ),
    # month names with a day and a year or not: 1-Dec, December 1st, 2026
    st.builds(
        lambda weekday, month, day, year, sep: sep.join(
            part for part in (weekday, month, day, year) if part
        ),
        st.sampled_from(["", "Tuesday,", "mon"]),
        st.sampled_from(["Dec", "december", "Sept", "May.", "Foo"]),
        st.sampled_from(["1", "01", "1st", "31", "32", "0"]),
        st.sampled_from(["", "2026", "26", "202"]),
        st.sampled_from([" ", "-", ", "]),
    ),
)
FORMATS = st.sampled_from(["%m/%d", "%Y-%m-%d", "%d.%m.%Y", "%-d %B", "%a %j", "%y"])


@given(st.one_of(st.text(max_size=80), DATE_LIKE), FORMATS, ORDERS)
def test_sending_a_date_never_raises_nor_changes_what_it_cannot_read(
    value: str, fmt: str, order: DateOrder
) -> None:
    sent = send_date(value, fmt, order)
    reading = read_date(value, order)
    if sent.warning is not None:
        assert sent.text == value  # unchanged, to the character
        assert sent.warning.endswith("; sent as written")
    else:
        assert reading is not None
        assert sent.text == format_date(reading, fmt)


# Formats a person may name, each read back in its own order.
ROUND_TRIP = [
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%-m/%-d/%Y",
    "%d-%b-%Y",
    "%-d %B %Y",
    "%B %-d, %Y",
    "%A, %B %-d, %Y",
    "%b %d %Y",
    "%m/%d/%y",
    "%y/%m/%d",
    "%m/%d",
    "%d/%m",
    "%-d-%b",
    "%B %d",
]


@given(st.dates(date(1930, 1, 1), date(2029, 12, 31)), st.sampled_from(ROUND_TRIP))
def test_a_date_written_in_a_format_reads_back_the_same(moment: date, fmt: str) -> None:
    written = format_date(Reading(moment.year, moment.month, moment.day), fmt)
    sent = send_date(written, fmt, default_order(fmt))
    assert sent == send_date(written, fmt, default_order(fmt))
    assert (sent.text, sent.warning) == (written, None)


@given(st.dates(date(1900, 3, 1), date(9999, 12, 31)), ORDERS)
def test_every_date_cell_reads_as_its_date(moment: date, order: DateOrder) -> None:
    """What the XLSX reader gives for a date cell, with or without a time."""
    expected = Reading(moment.year, moment.month, moment.day)
    assert read_date(moment.isoformat(), order) == expected
    assert read_date(f"{moment.isoformat()} 14:30:00", order) == expected


@settings(max_examples=40)  # a workbook per example; the rest from the CI profile
@given(
    st.lists(
        st.tuples(
            st.datetimes(datetime(1930, 1, 1), datetime(2029, 12, 31)).map(
                lambda moment: moment.replace(microsecond=0)  # Excel keeps milliseconds
            ),
            st.sampled_from(DATE_FORMATS),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["%m/%d", "%Y-%m-%d", "%-d %b %Y"]),
)
def test_any_xlsx_date_cell_is_sent_in_the_format(
    tmp_path_factory: pytest.TempPathFactory,
    cells: list[tuple[datetime, str]],
    fmt: str,
) -> None:
    folder = tmp_path_factory.mktemp("dates")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS)
    for n, (moment, number_format) in enumerate(cells, start=2):
        sheet.append([f"lead{n}@example.com", moment])
        sheet[f"B{n}"].number_format = number_format
    path = folder / "dates.xlsx"
    book.save(path)
    template = BIRTHDAY.replace('"%m/%d"', f'"{fmt}"')
    leads, problems = validate(folder, template, path)
    assert problems == []
    for n, (moment, _) in enumerate(cells, start=2):
        day = Reading(moment.year, moment.month, moment.day)  # the time is dropped
        assert customs(leads[n]) == {"birthday": format_date(day, fmt)}


CELL = st.one_of(
    st.text(max_size=20),
    st.dates(date(1930, 1, 1), date(2029, 12, 31)).map(lambda d: DateText(d.isoformat(), d)),
)


@given(st.lists(CELL, min_size=4, max_size=4), ORDERS)
def test_the_date_notes_of_a_row_never_raise_and_fall_on_date_cells_alone(
    cells: list[str], order: DateOrder
) -> None:
    template = Template(
        fields={"zip": "Z"},
        custom_fields=(
            CustomFieldMap("birthday", "B", "input_field", date="%m/%d", date_order=order),
            CustomFieldMap("notes", "N", "text_area"),
        ),
    )
    bound = {
        "fields.zip": (0, "Z"),
        "custom_fields.birthday.column": (1, "B"),
        "custom_fields.notes.column": (2, "N"),
    }
    _, noted = RowTransforms(template, bound).apply(2, cells)
    assert all(p.is_warning for p in noted)
    dated = {p.column for p in noted if p.code == ProblemCode.CELL_IS_A_DATE}
    assert dated == {h for i, h in ((0, "Z"), (2, "N")) if type(cells[i]) is DateText}
    unread = [p for p in noted if p.code == ProblemCode.DATE_NOT_READ]
    written = cells[1].strip()
    assert [p.column for p in unread] == (
        ["B"] if written and send_date(written, "%m/%d", order).warning else []
    )
