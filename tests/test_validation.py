"""Validation: each problem code, the Kartra payload of valid rows, cross-row checks."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import pytest

from bulk_loader.errors import SheetError, TemplateError
from bulk_loader.outcomes import Problem
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.template.mapping import default_template, load_template
from bulk_loader.template.model import Mode, Template
from bulk_loader.validation.validator import LeadRow, Validator

TEMPLATE = """
[template]
clear = "#clear"
require_columns = false
[fields]
email = "Email"
{extra}
[custom_fields.color]
column = "Colours"
type = "checkbox"
separator = ";"
options = {{ red = 620, blue = 621 }}
[custom_fields.plan]
column = "Plan"
type = "drop_down"
options = {{ basic = 630, pro = 631 }}
[custom_fields.dish]
column = "Dish"
type = "input_field"
[actions]
tags = {{ column = "Tags" }}
"""


def run(
    tmp_path: Path,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    template: str | Template | None = None,
    mode: Mode = "upsert",
    chunk_rows: int = 2,
) -> tuple[list[LeadRow], list[Problem]]:
    """Validate rows written as a CSV, in small chunks so cross-chunk logic is exercised."""
    sheet_path = tmp_path / "s.csv"
    with sheet_path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([headers, *rows])
    with open_sheet(sheet_path) as sheet:
        if isinstance(template, str):
            (tmp_path / "t.toml").write_text(template, encoding="utf-8")
            template = load_template(tmp_path / "t.toml")
        validator = Validator(template or default_template(sheet.headers), sheet, mode)
        leads: list[LeadRow] = []
        problems: list[Problem] = []
        for chunk in sheet.chunks(chunk_rows):
            valid, found = validator.validate(chunk)
            leads += valid
            problems += found
        problems += validator.finish()
        validator.close()
    return leads, problems


def codes(problems: Sequence[Problem]) -> list[tuple[int, str]]:
    return [(p.row, p.code) for p in problems]


def test_clear_marker_clears_the_phone_country_code(tmp_path: Path) -> None:
    """The marker is not a code to prefix with "+": it clears the field."""
    leads, problems = run(
        tmp_path,
        ["Email", "Code"],
        [["a@example.com", "#clear"], ["b@example.com", "40"], ["c@example.com", "0040"]],
        template=TEMPLATE.format(extra='phone_country_code = "Code"'),
    )
    assert problems == []
    assert [lead.lead["phone_country_code"] for lead in leads] == ["", "+40", "+40"]


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("email", "maria@@example.com", "invalid_email"),
        ("email", "maria@example", "invalid_email"),
        ("email", "maria@example..com", "invalid_email"),
        ("email", ".maria@example.com", "invalid_email"),
        ("new_email", "not-an-email", "invalid_email"),
        ("id", "12a", "invalid_id"),
        ("id", "12\n3", "invalid_id"),
        ("lead_preferred_time_zone", "Mars/Olympus", "unknown_time_zone"),
        ("lead_preferred_time_zone", "UTC", "unknown_time_zone"),  # no Kartra zone keeps UTC
        ("ip", "300.1.1.1", "invalid_ip"),
        ("website", "www.example.com", "invalid_url"),
        ("lead_picture", "ftp://example.com/x.png", "invalid_url"),
        ("facebook", "https://exa mple.com", "invalid_url"),
        ("phone_country_code", "+40a", "invalid_phone_country_code"),
        ("phone_country_code", "+040", "invalid_phone_country_code"),
        ("phone_country_code", "0", "invalid_phone_country_code"),
        ("business_type", "2.5", "invalid_business_type"),
        ("first_name", "x" * 256, "too_long"),
    ],
)
def test_each_bad_value_has_its_code(tmp_path: Path, header: str, value: str, code: str) -> None:
    """A bad value in a standard field is one problem with the field's stable code."""
    headers, cells = ["email", header], ["a@example.com", value]
    if header == "email":
        headers, cells = ["email"], [value]
    leads, problems = run(tmp_path, headers, [cells])
    assert leads == []
    assert codes(problems) == [(2, code)]
    assert problems[0].column == header and problems[0].value == value


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("email", "  Maria.Lopez@Example.COM "),
        ("email", "zoë@exämple.de"),
        ("lead_preferred_time_zone", "America/Argentina/Buenos_Aires"),
        ("lead_preferred_time_zone", "Europe/Paris"),  # sent as a Kartra zone of its clock
        ("lead_preferred_time_zone", "america/new_york"),
        ("ip", "2001:db8::1"),
        ("website", "HTTPS://example.com/a?b=c"),
        ("phone_country_code", "+40"),
        ("business_type", "3"),
        ("first_name", "x" * 255),
        ("first_name", '=HYPERLINK("https://example.com")'),
    ],
)
def test_good_values_pass(tmp_path: Path, header: str, value: str) -> None:
    """Values Kartra accepts raise no problem."""
    headers, cells = (
        (["email"], [value]) if header == "email" else (["email", header], ["a@example.com", value])
    )
    leads, problems = run(tmp_path, headers, [cells])
    assert problems == []
    assert len(leads) == 1


def test_time_zone_message_suggests_the_closest(tmp_path: Path) -> None:
    """The message names the closest of Kartra's 76 zones."""
    _, problems = run(tmp_path, ["email", "lead_preferred_time_zone"],
                      [["a@example.com", "America/New_Yrok"]])  # fmt: skip
    assert problems[0].message.endswith("closest: America/New_York")


def test_payload_of_a_valid_row(tmp_path: Path) -> None:
    """Email trimmed with its domain lower-cased, options as ids, empty cells omitted."""
    leads, problems = run(
        tmp_path,
        ["Email", "First", "Colours", "Plan", "Dish", "Tags", "Code"],
        [[" Maria.Lopez@Example.COM ", "", "Red; BLUE", "631", "paella", "VIP; News;VIP", "40"]],
        template=TEMPLATE.format(extra='first_name = "First"\nphone_country_code = "Code"'),
    )
    assert problems == []
    (lead,) = leads
    assert lead.lead == {
        "email": "Maria.Lopez@example.com",
        "phone_country_code": "+40",
        "custom_fields": [
            {"field_identifier": "color", "field_value": [620, 621]},
            {"field_identifier": "plan", "field_value": 631},
            {"field_identifier": "dish", "field_value": "paella"},
        ],
    }
    assert lead.tags == ("VIP", "News")
    assert lead.key == "maria.lopez@example.com"
    assert lead.row == 2 and lead.cells[0] == " Maria.Lopez@Example.COM "


def test_clear_marker_sends_empty_string(tmp_path: Path) -> None:
    """A cell holding exactly the clear marker clears the field; no check applies to it."""
    leads, problems = run(
        tmp_path,
        ["Email", "Zone", "Plan", "Dish"],
        [["a@example.com", "#clear", "#clear", "#clear"]],
        template=TEMPLATE.format(extra='lead_preferred_time_zone = "Zone"'),
    )
    assert problems == []
    assert leads[0].lead == {
        "email": "a@example.com",
        "lead_preferred_time_zone": "",
        "custom_fields": [
            {"field_identifier": "plan", "field_value": ""},
            {"field_identifier": "dish", "field_value": ""},
        ],
    }


@pytest.mark.parametrize(
    ("column", "value"), [("Plan", "gold"), ("Plan", "red"), ("Colours", "red;pink")]
)
def test_unknown_option(tmp_path: Path, column: str, value: str) -> None:
    """A choice that is not an option of its custom field is unknown_option."""
    headers = ["Email", "Colours", "Plan"]
    row = ["a@example.com", "", ""]
    row[headers.index(column)] = value
    _, problems = run(tmp_path, headers, [row], template=TEMPLATE.format(extra=""))
    assert codes(problems) == [(2, "unknown_option")]
    assert "not an option" in problems[0].message


def test_choices_without_options_keep_their_labels(tmp_path: Path) -> None:
    """With no options in the template the labels go on, for the account check."""
    template = TEMPLATE.format(extra="")
    template = template.replace("options = { red = 620, blue = 621 }", "")
    template = template.replace("options = { basic = 630, pro = 631 }", "")
    leads, problems = run(tmp_path, ["Email", "Colours", "Plan"],
                          [["a@example.com", "red;mauve", "gold"]], template=template)  # fmt: skip
    assert problems == []
    assert leads[0].lead["custom_fields"] == [
        {"field_identifier": "color", "field_value": ["red", "mauve"]},
        {"field_identifier": "plan", "field_value": "gold"},
    ]


@pytest.mark.parametrize(
    ("mode", "headers", "row", "code"),
    [
        ("create", ["email", "first_name"], ["", "Ana"], "missing_email"),
        ("upsert", ["email", "first_name"], ["", "Ana"], "missing_email"),
        ("edit", ["email", "first_name"], ["", "Ana"], "missing_email"),
    ],
)
def test_the_identifier_the_mode_needs(
    tmp_path: Path, mode: Mode, headers: list[str], row: list[str], code: str
) -> None:
    """Create and upsert need an email; edit needs the template's match key."""
    _, problems = run(tmp_path, headers, [row], mode=mode)
    assert codes(problems) == [(2, code)]


def test_edit_by_id_needs_a_numeric_id(tmp_path: Path) -> None:
    """With match = id, edit needs an id in every row; an email is not enough."""
    template = '[template]\nmatch = "id"\n[fields]\nid = "id"\nemail = "email"'
    rows = [["", "a@example.com"], ["77", ""]]
    leads, problems = run(tmp_path, ["id", "email"], rows, template=template, mode="edit")
    assert codes(problems) == [(2, "missing_id")]
    assert leads[0].key == "77" and leads[0].lead == {"id": "77"}


def test_a_mode_without_its_identifier_column_is_a_template_error(tmp_path: Path) -> None:
    """Create mode on a sheet without an email column cannot start."""
    with pytest.raises(TemplateError) as caught:
        run(tmp_path, ["first_name"], [["Ana"]], mode="create")
    assert [p.key for p in caught.value.problems] == ["fields.email"]


def test_template_header_missing_from_the_sheet(tmp_path: Path) -> None:
    """Every header the template names but the sheet lacks is reported."""
    with pytest.raises(TemplateError) as caught:
        template = TEMPLATE.format(extra="").replace("require_columns = false", "")
        run(tmp_path, ["Email"], [["a@example.com"]], template=template)
    assert {p.key for p in caught.value.problems} == {
        "custom_fields.color.column",
        "custom_fields.plan.column",
        "custom_fields.dish.column",
        "actions.tags.column",
    }


def test_duplicate_header_used_by_the_template(tmp_path: Path) -> None:
    """A header the template uses that occurs twice is a SheetError naming it."""
    with pytest.raises(SheetError, match=r"(?i)email"):
        run(tmp_path, ["email", "Email"], [["a@example.com", "b@example.com"]])


def test_duplicate_email_across_chunks(tmp_path: Path) -> None:
    """The later row of a repeated email is invalid and names the first row."""
    rows = [["a@example.com"], ["b@example.com"], ["c@example.com"], ["A@EXAMPLE.com"]]
    leads, problems = run(tmp_path, ["email"], rows)
    assert codes(problems) == [(5, "duplicate_lead")]
    assert problems[0].message == "the same email as row 2"
    assert [lead.row for lead in leads] == [2, 3, 4]


def test_duplicate_id(tmp_path: Path) -> None:
    """The same lead id twice is a duplicate too."""
    _, problems = run(tmp_path, ["id", "email"],
                      [["5", "a@example.com"], ["5", "b@example.com"]], mode="edit")  # fmt: skip
    assert codes(problems) == [(3, "duplicate_lead")]


def test_a_bad_email_is_not_a_duplicate_key(tmp_path: Path) -> None:
    """Two identical malformed emails are two invalid_email problems, nothing more."""
    _, problems = run(tmp_path, ["email"], [["x@@y"], ["x@@y"]])
    assert codes(problems) == [(2, "invalid_email"), (3, "invalid_email")]


@pytest.mark.parametrize("chunk_rows", [1, 2, 100])
def test_new_email_onto_an_earlier_row_email(tmp_path: Path, chunk_rows: int) -> None:
    """A new_email equal to an earlier row's email is flagged on its own row."""
    rows = [["b@example.com", ""], ["a@example.com", "b@example.com"]]
    _, problems = run(tmp_path, ["email", "new_email"], rows, chunk_rows=chunk_rows)
    assert codes(problems) == [(3, "new_email_conflict")]
    assert "row 2" in problems[0].message


@pytest.mark.parametrize("chunk_rows", [1, 2, 100])
def test_new_email_onto_a_later_row_email(tmp_path: Path, chunk_rows: int) -> None:
    """A new_email equal to a later row's email is found by finish()."""
    rows = [["a@example.com", "B@example.com"], ["c@example.com", ""], ["b@example.com", ""]]
    _, problems = run(tmp_path, ["email", "new_email"], rows, chunk_rows=chunk_rows)
    assert codes(problems) == [(2, "new_email_conflict")]
    assert problems[0].column == "new_email" and "row 4" in problems[0].message


def test_two_rows_renaming_to_the_same_email(tmp_path: Path) -> None:
    """The second row changing an email to the same address is a conflict."""
    rows = [["a@example.com", "n@example.com"], ["b@example.com", "n@example.com"]]
    _, problems = run(tmp_path, ["email", "new_email"], rows)
    assert codes(problems) == [(3, "new_email_conflict")]


def test_new_email_equal_to_own_email_is_fine(tmp_path: Path) -> None:
    """Renaming a lead to its own address clashes with nothing."""
    _, problems = run(tmp_path, ["email", "new_email"], [["a@example.com", "a@example.com"]])
    assert problems == []


def test_reader_problems_in_mapped_columns_invalidate_the_row(tmp_path: Path) -> None:
    """An Excel error in a mapped column invalidates the row; in an unmapped one it does not."""
    rows = [["#N/A", "x"], ["a@example.com", "#N/A"]]
    leads, problems = run(tmp_path, ["email", "unused"], rows)
    assert codes(problems) == [(2, "excel_error"), (2, "invalid_email")]
    assert [lead.row for lead in leads] == [3]


def test_all_problems_of_a_row_at_once(tmp_path: Path) -> None:
    """Lazy validation: every bad cell of a row is reported, in column order."""
    _, problems = run(tmp_path, ["email", "website", "ip"], [["bad", "nope", "1.2.3"]])
    assert codes(problems) == [(2, "invalid_email"), (2, "invalid_url"), (2, "invalid_ip")]


@pytest.mark.parametrize(
    ("zone", "suggested"),
    [
        ("Europe/Paris", "Europe/Brussels"),  # the same offsets, and longest the same before
        ("America/Denver", "America/Boise"),
        ("Mars/Olympus", "Asia/Kuala_Lumpur"),
        ("America", "America/Nuuk"),  # a folder of zones, not a zone (found by fuzzing)
    ],
)
def test_time_zone_suggestion_keeps_the_clock(zone: str, suggested: str) -> None:
    """A real zone Kartra lacks gets one with the same offsets all year; others by spelling."""
    from bulk_loader.validation.checks import closest_time_zone

    assert closest_time_zone(zone) == suggested


@pytest.mark.parametrize("cell", [";", " ; ", ";;", " ;  ; "])
@pytest.mark.parametrize("template_options", [True, False], ids=["options", "labels"])
def test_a_cell_of_only_separators_is_an_empty_cell(
    tmp_path: Path, cell: str, template_options: bool
) -> None:
    """Checkbox, tags: nothing between the separators sends nothing (never a 271)."""
    template = TEMPLATE.format(extra="")
    if not template_options:
        template = template.replace("options = { red = 620, blue = 621 }", "")
    leads, problems = run(
        tmp_path, ["Email", "Colours", "Tags"], [["a@example.com", cell, cell]], template=template
    )
    assert problems == []
    assert leads[0].lead == {"email": "a@example.com"}
    assert leads[0].tags == ()


def test_matching_by_id_notes_that_the_email_column_is_not_sent(tmp_path: Path) -> None:
    """match = "id" with an email column: edits go by id, and the dry run says so."""
    template = '[template]\nmatch = "id"\n[fields]\nid = "Id"\nemail = "Email"\n'
    (tmp_path / "t.toml").write_text(template, encoding="utf-8")
    path = tmp_path / "s.csv"
    path.write_text("Id,Email\n41,a@example.com\n", encoding="utf-8")
    with open_sheet(path) as sheet:
        validator = Validator(load_template(tmp_path / "t.toml"), sheet, "edit")
        (note,) = validator.notes
        validator.close()
    assert "'Email' column is not sent" in note and "new_email" in note


def test_a_custom_field_identifier_with_a_dot_is_sent_whole(tmp_path: Path) -> None:
    """TOML quotes such a key ("birth.day"); it is one identifier, never cut at the dot."""
    from bulk_loader.sheets.opening import open_sheet
    from bulk_loader.template.mapping import load_template
    from bulk_loader.validation.validator import Validator

    sheet = tmp_path / "s.csv"
    sheet.write_text("email,Birthday\nana@example.com,12/01\n")
    template = tmp_path / "t.toml"
    template.write_text(
        '[fields]\nemail = "email"\n'
        '[custom_fields."birth.day"]\ncolumn = "Birthday"\ntype = "input_field"\n'
    )
    with open_sheet(sheet) as opened:
        validator = Validator(load_template(template), opened, "create")
        [chunk] = list(opened.chunks())
        [lead], problems = validator.validate(chunk)
        validator.close()
    assert problems == []
    assert lead.lead["custom_fields"] == [{"field_identifier": "birth.day", "field_value": "12/01"}]
    assert '"birth' not in lead.lead
