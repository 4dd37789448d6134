"""Value transforms in the template: phones split into calling code and number, countries
as ISO codes, a full name and a Mailchimp address split into fields.

A transform either understands a value or sends it as written with a warning on its
cell: a warning notes the cell and never stops the row.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import phonenumbers
import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader import Credentials, KartraClient, Loader, RowStatus
from bulk_loader.errors import TemplateError
from bulk_loader.outcomes import Problem, ProblemCode
from bulk_loader.sandbox import RunningSandbox
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.template.mapping import load_template
from bulk_loader.template.model import FieldTransform, SplitMap, Template
from bulk_loader.validation.countries import country_code
from bulk_loader.validation.transforms import (
    Phone,
    RowTransforms,
    read_phone,
    split_address,
    split_name,
)
from bulk_loader.validation.validator import LeadRow, Validator

ROOT = Path(__file__).resolve().parent.parent
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")

# The Mailchimp audience export of the report, mapped with every transform.
MAILCHIMP = """
[template]
clear = "#clear"
[fields]
email = "Email Address"
phone = { column = "Phone Number", transform = "phone", region = "US" }
[split.name]
column = "Full Name"
[split.address]
column = "Address"
format = "mailchimp"
"""
HEADERS = ["Email Address", "Full Name", "Phone Number", "Address"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def template_problems(tmp_path: Path, text: str) -> dict[str, str]:
    with pytest.raises(TemplateError) as caught:
        load_template(write(tmp_path, "t.toml", text))
    return {p.key: p.message for p in caught.value.problems}


def sheet(tmp_path: Path, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    path = tmp_path / "audience.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([headers, *rows])
    return path


def validate(
    tmp_path: Path, template: str, headers: Sequence[str], rows: Sequence[Sequence[str]]
) -> tuple[dict[int, dict[str, object]], list[Problem]]:
    """Each valid row's Kartra payload by row number, and every problem and warning."""
    loaded = load_template(write(tmp_path, "t.toml", template))
    leads: list[LeadRow] = []
    problems: list[Problem] = []
    with open_sheet(sheet(tmp_path, headers, rows)) as opened:
        validator = Validator(loaded, opened, "upsert")
        for chunk in opened.chunks(2):
            valid, found = validator.validate(chunk)
            leads += valid
            problems += found
        validator.close()
    return {lead.row: lead.lead for lead in leads}, problems


def payload(tmp_path: Path, template: str, headers: Sequence[str], row: Sequence[str]) -> dict:
    leads, problems = validate(tmp_path, template, headers, [row])
    assert [p.code for p in problems] == []
    return {k: v for k, v in leads[2].items() if k != "email"}


# -- the template ----------------------------------------------------------------------


def test_a_field_may_be_a_table_with_a_transform(tmp_path: Path) -> None:
    """`phone = { column = ..., transform = "phone", region = "US" }`; other fields keep
    mapping a header, and Template.fields stays field -> header."""
    template = load_template(
        write(
            tmp_path,
            "t.toml",
            '[fields]\nemail = "Email"\ncompany = { column = "Org" }\n'
            'phone = { column = "Phone Number", transform = "phone", region = "us" }\n'
            'country = { column = "COUNTRY", transform = "country" }\n'
            '[split.name]\ncolumn = "Full Name"\n',
        )
    )
    assert dict(template.fields) == {
        "email": "Email",
        "company": "Org",
        "phone": "Phone Number",
        "country": "COUNTRY",
    }
    assert dict(template.transforms) == {
        "phone": FieldTransform("phone", "US"),
        "country": FieldTransform("country"),
    }
    assert template.splits == (SplitMap("name", "Full Name"),)
    assert ("split.name.column", "Full Name") in template.columns()
    mailchimp = load_template(write(tmp_path, "m.toml", MAILCHIMP))
    assert mailchimp.splits[1] == SplitMap("address", "Address", "mailchimp")


def test_every_transform_mistake_is_reported_with_its_key(tmp_path: Path) -> None:
    found = template_problems(
        tmp_path,
        """
        [fields]
        email = "Email"
        phone = { column = "Phone", transform = "phonenumber", region = "US" }
        country = { column = "Country", transform = "phone" }
        city = { column = "City", region = "US" }
        zip = { transform = "country", colour = 1 }
        first_name = "First"
        [split.name]
        column = "Name"
        [split.address]
        column = "Address"
        [split.phone]
        column = "Phones"
        """,
    )
    assert found == {
        "fields.phone.transform": "'phonenumber' is not a transform: one of phone, country "
        "(did you mean 'phone'?)",
        "fields.country.transform": "the phone transform fits fields.phone only",
        "fields.city.region": 'only transform = "phone" takes a region',
        "fields.zip.colour": "unknown key (did you mean 'column'?)",
        "fields.zip.column": "is required",
        "fields.zip.transform": "the country transform fits fields.country only",
        "split.address.format": "is required: one of mailchimp",
        "split.phone": "not a split: one of name, address",
    }


@pytest.mark.parametrize(
    ("region", "fragment"),
    [
        ('"USA"', "'USA' is not a two-letter ISO country code, e.g. \"US\" (did you mean 'US'?)"),
        ('"United States"', "(did you mean 'US'?)"),
        ('"ZZ"', "'ZZ' is not a two-letter ISO country code"),
        ("1", "1 is not a two-letter ISO country code"),
        ('"AQ"', "AQ has no telephone numbering plan of its own"),
    ],
)
def test_a_region_is_an_iso_code_with_a_numbering_plan(
    tmp_path: Path, region: str, fragment: str
) -> None:
    text = f'[fields]\nphone = {{ column = "P", transform = "phone", region = {region} }}'
    assert fragment in template_problems(tmp_path, text)["fields.phone.region"]


def test_a_region_fits_the_phone_transform_only(tmp_path: Path) -> None:
    text = '[fields]\ncountry = { column = "C", transform = "country", region = "US" }'
    assert template_problems(tmp_path, text) == {
        "fields.country.region": 'only transform = "phone" takes a region'
    }


def test_a_split_column_is_not_used_twice(tmp_path: Path) -> None:
    text = '[fields]\ncompany = "Full Name"\n[split.name]\ncolumn = "Full Name"'
    assert template_problems(tmp_path, text) == {
        "split.name.column": "column 'Full Name' is already used by fields.company"
    }


def test_a_split_address_takes_a_known_format(tmp_path: Path) -> None:
    text = '[split.address]\ncolumn = "Address"\nformat = "hubspot"'
    assert template_problems(tmp_path, text) == {
        "split.address.format": "'hubspot' is not an address format: one of mailchimp"
    }


# -- phones ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "code", "phone"),
    [
        ("+1 (415) 555-0100", "+1", "4155550100"),
        ("tel:+14155550105", "+1", "4155550105"),
        ("+44 20 7946 0005", "+44", "2079460005"),
        ("0044 20 7946 0005", "+44", "2079460005"),  # 00: the international prefix
        ("+39 06 1234 5678", "+39", "0612345678"),  # Italy keeps its leading zero
        ("+1 415 555 0100 ext. 7", "+1", "4155550100 ext. 7"),
    ],
)
def test_a_phone_with_its_code_is_split_into_code_and_number(
    written: str, code: str, phone: str
) -> None:
    assert read_phone(written) == Phone(phone, code)


def test_the_phones_of_the_report_reach_kartra_apart(tmp_path: Path) -> None:
    """No country column: the template's region reads a number without its code."""
    rows = [
        ["a@example.com", "", "+1 (415) 555-0100", ""],
        ["b@example.com", "", "tel:+14155550105", ""],
        ["c@example.com", "", "+44 20 7946 0005", ""],
        ["d@example.com", "", "(415) 555-0102", ""],
    ]
    leads, problems = validate(tmp_path, MAILCHIMP, HEADERS, rows)
    assert problems == []
    sent = [(lead["phone_country_code"], lead["phone"]) for lead in leads.values()]
    assert sent == [
        ("+1", "4155550100"),
        ("+1", "4155550105"),
        ("+44", "2079460005"),
        ("+1", "4155550102"),
    ]


def test_a_national_number_is_read_in_the_rows_country(tmp_path: Path) -> None:
    """The row's country, a code or a name, beats the template's region."""
    template = """
    [fields]
    email = "Email"
    phone = { column = "Phone", transform = "phone", region = "US" }
    country = "Country"
    """
    rows = [
        ["a@example.com", "030 123456", "DE"],
        ["b@example.com", "030 123456", "Deutschland"],
        ["c@example.com", "(415) 555-0100", ""],  # no country: the template's region
    ]
    leads, problems = validate(tmp_path, template, ["Email", "Phone", "Country"], rows)
    assert problems == []
    assert [(lead["phone_country_code"], lead["phone"]) for lead in leads.values()] == [
        ("+49", "30123456"),
        ("+49", "30123456"),
        ("+1", "4155550100"),
    ]
    assert leads[3]["country"] == "Deutschland"  # no country transform: sent as written


def test_a_filled_phone_country_code_is_kept_and_the_phone_read_in_it(tmp_path: Path) -> None:
    template = """
    [fields]
    email = "Email"
    phone = { column = "Phone", transform = "phone", region = "US" }
    phone_country_code = "Code"
    """
    rows = [
        ["a@example.com", "020 7946 0005", "44"],
        ["b@example.com", "(415) 555-0100", ""],  # empty: the phone's own code is sent
        ["c@example.com", "+49 30 123456", "+44"],  # another code: left as written
    ]
    leads, problems = validate(tmp_path, template, ["Email", "Phone", "Code"], rows)
    assert (leads[2]["phone_country_code"], leads[2]["phone"]) == ("+44", "2079460005")
    assert (leads[3]["phone_country_code"], leads[3]["phone"]) == ("+1", "4155550100")
    assert (leads[4]["phone_country_code"], leads[4]["phone"]) == ("+44", "+49 30 123456")
    assert [(p.row, p.code) for p in problems] == [(4, ProblemCode.PHONE_NOT_PARSED)]
    assert "has the code +49, not the row's phone_country_code" in problems[0].message


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("call me after 5", "is not written as a phone number"),
        ("1-800-FLOWERS", "is not written as a phone number"),
        ("030 123456", "has no country code (+...) and no country to read it in"),
        ("+1 555", "is too short for a phone number of +1"),
        ("+999 123456", "could not be read as a phone number"),
    ],
)
def test_a_phone_that_cannot_be_read_is_sent_as_written_with_a_warning(
    written: str, why: str
) -> None:
    assert read_phone(written) == Phone(written, None, f"{written!r} {why}; sent as written")


def test_a_warning_never_stops_the_row(tmp_path: Path) -> None:
    """The unreadable phone goes as written and its cell is noted; the row is valid."""
    leads, problems = validate(
        tmp_path, MAILCHIMP, HEADERS, [["a@example.com", "Ana Lima", "ask reception", ""]]
    )
    assert leads[2]["phone"] == "ask reception"
    assert "phone_country_code" not in leads[2]
    assert [(p.row, p.column, p.value, p.code, p.is_warning) for p in problems] == [
        (2, "Phone Number", "ask reception", ProblemCode.PHONE_NOT_PARSED, True)
    ]


def test_a_row_already_invalid_gets_its_warnings_too(tmp_path: Path) -> None:
    """Every problem at once: the bad email stops the row, the phone is noted."""
    leads, problems = validate(tmp_path, MAILCHIMP, HEADERS, [["not-an-email", "", "x", ""]])
    assert leads == {}
    assert [p.code for p in problems] == [ProblemCode.INVALID_EMAIL, ProblemCode.PHONE_NOT_PARSED]


def test_the_clear_marker_clears_a_transformed_field(tmp_path: Path) -> None:
    row = ["a@example.com", "#clear", "#clear", "#clear"]
    assert payload(tmp_path, MAILCHIMP, HEADERS, row) == {
        "phone": "",
        **dict.fromkeys(["first_name", "last_name"], ""),
        **dict.fromkeys(["address", "city", "state", "zip", "country"], ""),
    }


# -- countries -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("United States", "US"),
        ("usa", "US"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("United States of America", "US"),
        ("us", "US"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d’Ivoire", "CI"),
        ("Republic of Korea", "KR"),
        ("The Netherlands", "NL"),
        ("St. Lucia", "LC"),
    ],
)
def test_a_country_name_or_code_becomes_its_iso_code(written: str, code: str) -> None:
    assert country_code(written) == code


def test_the_country_transform_sends_iso_codes_and_notes_the_rest(tmp_path: Path) -> None:
    template = '[fields]\nemail = "E"\ncountry = { column = "COUNTRY", transform = "country" }'
    rows = [["a@example.com", "United States"], ["b@example.com", "Atlantis"]]
    leads, problems = validate(tmp_path, template, ["E", "COUNTRY"], rows)
    assert [lead["country"] for lead in leads.values()] == ["US", "Atlantis"]
    assert [(p.row, p.code, p.message) for p in problems] == [
        (
            3,
            ProblemCode.COUNTRY_NOT_RECOGNISED,
            "'Atlantis' is not a country name or ISO code; sent as written",
        )
    ]


# -- splits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "fields"),
    [
        ("John Smith", {"first_name": "John", "last_name": "Smith"}),
        ("Anna van der Berg", {"first_name": "Anna", "last_name": "van der Berg"}),
        ("Smith, John Paul", {"first_name": "John Paul", "last_name": "Smith"}),
        ("  Madonna ", {"first_name": "Madonna"}),
        ("Smith,", {"first_name": "Smith"}),
        ("", {}),
    ],
)
def test_a_full_name_is_split_into_first_and_last(written: str, fields: dict) -> None:
    assert split_name(written) == fields


@pytest.mark.parametrize(
    ("written", "fields"),
    [
        (
            "1 Main St  Springfield  MA  01776  US",
            {"address": "1 Main St", "city": "Springfield", "state": "MA", "zip": "01776"},
        ),
        (
            "512 Means St.  Suite 404  Atlanta  GA  30318  USA",
            {"address": "512 Means St., Suite 404", "city": "Atlanta", "state": "GA"}
            | {"zip": "30318"},
        ),
        (  # an empty part keeps its place: no state
            "10 Downing St  London    SW1A 2AA  United Kingdom",
            {"address": "10 Downing St", "city": "London", "zip": "SW1A 2AA"},
        ),
    ],
)
def test_a_mailchimp_address_is_split_into_its_fields(written: str, fields: dict) -> None:
    parts = split_address(written)
    assert parts is not None
    assert {k: v for k, v in parts.items() if k != "country"} == fields
    assert parts["country"] in ("US", "GB")


@pytest.mark.parametrize(
    "written",
    [
        "1 Main St, Springfield, MA 01776",  # one line, commas
        "1 Main St  Springfield  MA  01776",  # no country
        "1 Main St  Springfield  MA  01776  Atlantis",  # the last part is no country
        "1 Main St  a  b  c  d  e  US",  # too many parts
    ],
)
def test_an_address_that_does_not_fit_is_sent_whole_with_a_warning(
    tmp_path: Path, written: str
) -> None:
    assert split_address(written) is None
    leads, problems = validate(tmp_path, MAILCHIMP, HEADERS, [["a@example.com", "", "", written]])
    assert leads[2] == {"email": "a@example.com", "address": written}
    assert [(p.column, p.code) for p in problems] == [("Address", ProblemCode.ADDRESS_NOT_SPLIT)]


def test_the_mailchimp_export_row_of_the_report(tmp_path: Path) -> None:
    row = [
        "ana@example.com",
        "Ana Lima",
        "+1 (415) 555-0100",
        "1 Main St  Springfield  MA  01776  US",
    ]
    assert payload(tmp_path, MAILCHIMP, HEADERS, row) == {
        "first_name": "Ana",
        "last_name": "Lima",
        "address": "1 Main St",
        "city": "Springfield",
        "state": "MA",
        "zip": "01776",
        "country": "US",
        "phone": "4155550100",
        "phone_country_code": "+1",
    }


def test_the_address_country_reads_the_phone(tmp_path: Path) -> None:
    """A country from the split address is the row's country for the phone."""
    row = ["a@example.com", "", "030 123456", "Hauptstr. 1  Berlin    10115  DE"]
    sent = payload(tmp_path, MAILCHIMP, HEADERS, row)
    assert (sent["phone_country_code"], sent["phone"], sent["country"]) == ("+49", "30123456", "DE")


def test_a_split_part_over_255_characters_stops_the_row(tmp_path: Path) -> None:
    name = "Ana " + "L" * 256
    leads, problems = validate(tmp_path, MAILCHIMP, HEADERS, [["a@example.com", name, "", ""]])
    assert leads == {}
    assert [(p.column, p.code) for p in problems] == [("Full Name", ProblemCode.TOO_LONG)]
    assert problems[0].message == "last_name 256 characters; Kartra keeps at most 255"


# -- a real run against the sandbox ------------------------------------------------------


def test_kartra_receives_the_phone_and_its_code_apart(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    rows = [
        [
            "ana@example.com",
            "Lima, Ana",
            "+1 (415) 555-0100",
            "1 Main St  Springfield  MA  01776  US",
        ],
        ["bo@example.com", "Bo Berg", "+44 20 7946 0005", ""],
        ["cy@example.com", "Cy", "reception desk", "somewhere nice"],
    ]
    path = sheet(tmp_path, HEADERS, rows)
    template = write(tmp_path, "t.toml", MAILCHIMP)
    with KartraClient(GOOD, api_url=sandbox.url) as client:
        summary = Loader(path, template=template, mode="create").run(
            client, rate=None, memory=False
        )
    assert summary.statuses[RowStatus.CREATED] == 3
    assert summary.warnings == {"phone_not_parsed": 1, "address_not_split": 1}
    stored = {}
    for email in ("ana@example.com", "bo@example.com", "cy@example.com"):
        lead = sandbox.state.find(email=email)
        assert lead is not None
        stored[email] = lead.fields
    ana, bo, cy = stored.values()
    assert (ana["phone_country_code"], ana["phone"]) == ("+1", "4155550100")
    assert (ana["first_name"], ana["last_name"], ana["city"], ana["country"]) == (
        "Ana",
        "Lima",
        "Springfield",
        "US",
    )
    assert (bo["phone_country_code"], bo["phone"]) == ("+44", "2079460005")
    # Not understood: sent as written, never blocked.
    assert (cy.get("phone_country_code", ""), cy["phone"]) == ("", "reception desk")
    assert cy["address"] == "somewhere nice"
    assert summary.results is not None
    book = openpyxl.load_workbook(summary.results, read_only=True)
    results = list(book["Results"].iter_rows(values_only=True))
    by_email = {row[5]: dict(zip(results[0], row, strict=True)) for row in results[1:]}
    assert results[0][5] == "Email Address"  # after the five result columns
    assert by_email["cy@example.com"]["result_status"] == "created"
    assert "Phone Number: 'reception desk'" in str(by_email["cy@example.com"]["result_message"])


# -- properties ------------------------------------------------------------------------

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
PHONE_LIKE = st.text(alphabet="0123456789 +-().x#:;tel", max_size=30)


@given(st.one_of(st.text(max_size=60), PHONE_LIKE), st.sampled_from([None, *REGIONS]))
def test_reading_a_phone_never_raises_nor_changes_what_it_cannot_read(
    value: str, region: str | None
) -> None:
    read = read_phone(value, region)
    if read.code is None:
        assert read.phone == value and read.warning
    else:
        assert read.warning is None
        assert read.code[0] == "+" and read.code[1:].isdigit()
        number, _, extension = read.phone.partition(" ext. ")
        assert number.isdigit() and (extension == "" or extension.isdigit())


@given(
    st.sampled_from(REGIONS),
    st.sampled_from(
        [
            phonenumbers.PhoneNumberFormat.E164,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.RFC3966,
        ]
    ),
)
def test_a_number_written_any_standard_way_reads_back_the_same(region: str, style: int) -> None:
    number = phonenumbers.example_number(region)
    if number is None:  # a region with no example number
        return
    written = phonenumbers.format_number(number, style)
    expected = Phone(phonenumbers.national_significant_number(number), f"+{number.country_code}")
    assert read_phone(written, region) == expected


@given(st.text(max_size=60))
def test_a_country_is_an_iso_code_or_nothing(value: str) -> None:
    code = country_code(value)
    assert code is None or pycountry.countries.get(alpha_2=code) is not None


@given(
    st.sampled_from(list(pycountry.countries)),
    st.sampled_from(["alpha_2", "alpha_3", "name"]),
    st.sampled_from([str.lower, str.upper, str.title, str]),
)
def test_every_iso_country_reads_back(country: object, field: str, case: object) -> None:
    written = case(getattr(country, field))  # type: ignore[operator]
    assert country_code(written) == country.alpha_2  # type: ignore[attr-defined]


def _letters(text: str) -> Counter[str]:
    return Counter(char for char in text if not char.isspace() and char != ",")


@given(st.text(max_size=60))
def test_a_name_split_loses_nothing(value: str) -> None:
    fields = split_name(value)
    assert set(fields) <= {"first_name", "last_name"}
    assert _letters("".join(fields.values())) == _letters(value)
    if len(value.split()) == 1 and "," not in value:
        assert fields == {"first_name": value.strip()}


ADDRESS_PART = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Z")), max_size=12
).map(str.strip)


@given(
    ADDRESS_PART.filter(bool),
    ADDRESS_PART,
    ADDRESS_PART,
    ADDRESS_PART,
    ADDRESS_PART,
    st.sampled_from(list(pycountry.countries)),
)
def test_a_mailchimp_address_reads_back_its_parts(
    street: str, line2: str, city: str, state: str, zip_code: str, country: object
) -> None:
    alpha_2 = country.alpha_2  # type: ignore[attr-defined]
    written = "  ".join([street, *([line2] if line2 else []), city, state, zip_code, alpha_2])
    parts = split_address(written)
    assert parts is not None
    expected = {
        "address": f"{street}, {line2}" if line2 else street,
        "city": city,
        "state": state,
        "zip": zip_code,
        "country": alpha_2,
    }
    assert parts == {name: text for name, text in expected.items() if text}


@given(st.text(max_size=80), st.text(max_size=30), st.text(max_size=30), st.text(max_size=20))
def test_the_transforms_of_a_row_never_raise_and_note_what_they_leave(
    name: str, phone: str, address: str, country: str
) -> None:
    template = Template(
        fields={"phone": "P", "country": "C"},
        transforms={"phone": FieldTransform("phone", "US"), "country": FieldTransform("country")},
        splits=(SplitMap("name", "N"),),
    )
    bound = {"split.name.column": (0, "N"), "fields.phone": (1, "P"), "fields.country": (3, "C")}
    cells = [name, phone, address, country]
    out, noted = RowTransforms(template, bound).apply(2, cells)
    codes = {p.column: p.code for p in noted}
    if "P" in codes:
        assert out["phone"] == phone.strip() and "phone_country_code" not in out
    if "C" in codes:
        assert "country" not in out  # the converter sends the cell as written
    assert all(p.is_warning for p in noted)


def test_a_field_the_split_fills_may_be_mapped_as_its_fallback(tmp_path: Path) -> None:
    """Mailchimp's typed Address fills country; its CC is used when the Address is empty,
    and a phone without its code is then read in that country."""
    template = load_template(
        write(
            tmp_path,
            "t.toml",
            '[fields]\nemail = "Email"\n'
            'phone = { column = "Phone", transform = "phone", region = "US" }\n'
            'country = { column = "CC", transform = "country" }\nstate = "REGION"\n'
            '[split.address]\ncolumn = "Address"\nformat = "mailchimp"\n',
        )
    )
    names = ("fields.email", "fields.phone", "fields.country", "fields.state")
    names += ("split.address.column",)
    headers = ("Email", "Phone", "CC", "REGION", "Address")
    bound = {key: (i, header) for i, (key, header) in enumerate(zip(names, headers, strict=True))}
    transforms = RowTransforms(template, bound)
    typed = "1 Main St  Springfield  MA  01776  US"
    from_address, _ = transforms.apply(2, ["a@example.com", "", "gb", "ENG", typed])
    assert from_address["country"] == "US"  # the typed address wins over the IP's guess
    fallback, _ = transforms.apply(3, ["b@example.com", "020 7946 0028", "gb", "ENG", ""])
    assert fallback == {"country": "GB", "phone": "2079460028", "phone_country_code": "+44"}
