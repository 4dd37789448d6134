"""XLSX sheets: every cell reads as the text a person sees in Excel."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.errors import SheetError
from bulk_loader.sheets.excel_text import number_converter, number_text
from bulk_loader.sheets.opening import open_sheet
from bulk_loader.sheets.sheet import Chunk

MakeXlsx = Callable[..., Path]  # the conftest fixture


def read_all(path: Path, sheet: str | None = None) -> tuple[list[str], list[Chunk]]:
    with open_sheet(path, sheet) as opened:
        return opened.headers, list(opened.chunks())


def one_cell(make_xlsx: MakeXlsx, value: object, number_format: str | None = None) -> str:
    """The text read back from cell A2 holding `value` in `number_format`."""
    formats = {"A2": number_format} if number_format else {}
    _, chunks = read_all(make_xlsx([["Value"], [value]], formats=formats))
    return chunks[0].rows[0][0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(14155550100.0, "14155550100", id="phone stored as float"),
        pytest.param(14155550100, "14155550100", id="phone stored as int"),
        pytest.param(123456789012345, "123456789012345", id="15-digit int"),
        pytest.param(12345678901234567.0, "12345678901234600", id="float beyond 15 digits"),
        pytest.param(0.1 + 0.2, "0.3", id="binary float noise"),
        pytest.param(2.675, "2.675", id="decimal fraction"),
        pytest.param(-5.0, "-5", id="negative whole"),
        pytest.param(-12.25, "-12.25", id="negative fraction"),
        pytest.param(0.00001, "0.00001", id="small, no exponent"),
        pytest.param(1.5e-12, "1.5E-12", id="tiny keeps Excel's exponent"),
        pytest.param(True, "TRUE", id="true"),
        pytest.param(False, "FALSE", id="false"),
        pytest.param("  text as is ", "  text as is ", id="text"),
        pytest.param("NA", "NA", id="Namibia stays"),
    ],
)
def test_general_cells_read_as_excel_shows_them(
    make_xlsx: MakeXlsx, value: object, expected: str
) -> None:
    """General-format numbers: whole without .0, at most 15 significant digits otherwise."""
    assert one_cell(make_xlsx, value) == expected


@pytest.mark.parametrize(
    ("value", "number_format", "expected"),
    [
        pytest.param(2134, "00000", "02134", id="zip keeps leading zero"),
        pytest.param(2134.0, "00000", "02134", id="zip stored as float"),
        pytest.param(123456789, "0000000000", "0123456789", id="ten-digit id"),
        pytest.param(21340000, "00000-0000", "02134-0000", id="zip+4"),
        pytest.param(12345678, "000-00-0000", "012-34-5678", id="SSN special format"),
        pytest.param(4155550100, "(###) ###-####", "(415) 555-0100", id="phone mask"),
        pytest.param(2134, "@", "2134", id="text format"),
        pytest.param(0.125, "0%", "13%", id="percent rounds half up"),
        pytest.param(0.12345, "0.00%", "12.35%", id="percent with decimals"),
        pytest.param(12.5, "0.00", "12.50", id="fixed decimals"),
        pytest.param(1234567.891, "#,##0.00", "1234567.89", id="no grouping commas"),
        pytest.param(1234, '"$"#,##0', "1234", id="no currency symbol"),
        pytest.param(-3.14159, "[Red]0.00;[Blue]-0.00", "-3.14", id="colour sections"),
        pytest.param(123456, "0.00E+00", "123456", id="scientific reads in full"),
    ],
)
def test_number_formats_shape_the_text(
    make_xlsx: MakeXlsx, value: object, number_format: str, expected: str
) -> None:
    """The cell's number format decides leading zeros, masks, decimals and percents."""
    assert one_cell(make_xlsx, value, number_format) == expected


@pytest.mark.parametrize(
    ("value", "number_format", "expected"),
    [
        pytest.param(datetime(2024, 3, 5), "yyyy-mm-dd", "2024-03-05", id="date at midnight"),
        pytest.param(date(2024, 3, 5), "dd/mm/yyyy", "2024-03-05", id="date, local format"),
        pytest.param(
            datetime(2024, 3, 5, 14, 30), "m/d/yy h:mm", "2024-03-05 14:30:00", id="datetime"
        ),
        pytest.param(time(14, 30), "h:mm", "14:30:00", id="time"),
        pytest.param(timedelta(hours=27, minutes=5), "[h]:mm:ss", "27:05:00", id="duration"),
    ],
)
def test_dates_read_in_iso_form(
    make_xlsx: MakeXlsx, value: object, number_format: str, expected: str
) -> None:
    """Dates and times read as ISO text, whatever their display format."""
    assert one_cell(make_xlsx, value, number_format) == expected


@pytest.mark.parametrize("error", ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!"])
def test_error_cells_keep_their_text_and_are_problems(make_xlsx: MakeXlsx, error: str) -> None:
    """An error cell reads as its text and is reported as an excel_error problem."""
    _, chunks = read_all(make_xlsx([["Email", "Zip"], ["a@x.ro", error]]))
    assert chunks[0].rows == [["a@x.ro", error]]
    [problem] = chunks[0].problems
    assert (problem.row, problem.column, problem.value, problem.code) == (
        2,
        "Zip",
        error,
        "excel_error",
    )


def test_formula_without_cached_value_reads_empty(make_xlsx: MakeXlsx) -> None:
    """A formula never calculated (openpyxl-written) has no value to show: ""."""
    _, chunks = read_all(make_xlsx([["Email", "Total"], ["a@x.ro", "=1+2"]]))
    assert chunks[0].rows == [["a@x.ro", ""]]


def test_trailing_empty_rows_and_columns_are_ignored(make_xlsx: MakeXlsx) -> None:
    """Styled but empty cells to the right and below the data add nothing."""
    rows = [["Email", "Name", None, None], ["a@x.ro", "Ann", None, None], [None] * 4]
    path = make_xlsx(rows, formats={"F30": "00000", "A40": "0.00"})
    headers, chunks = read_all(path)
    assert headers == ["Email", "Name"]
    assert [c.rows for c in chunks] == [[["a@x.ro", "Ann"]]]


def test_row_numbers_count_skipped_blank_rows(make_xlsx: MakeXlsx) -> None:
    """Blank rows are skipped but later rows keep the number Excel shows."""
    path = make_xlsx([["Email"], ["a@x.ro"], [None], [None], ["b@x.ro"]])
    _, chunks = read_all(path)
    assert chunks[0].row_numbers == [2, 5]


def with_dimension(path: Path, ref: str) -> Path:
    """Rewrite the first worksheet's recorded dimension, as careless writers do."""
    fixed = path.with_name("dimension.xlsx")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(fixed, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="{ref}"'.encode(), data)
            dst.writestr(item, data)
    return fixed


@pytest.mark.parametrize("ref", ["A1:XFD1048576", "A1:A1", "C3:D4"])
def test_a_wrong_recorded_dimension_is_not_trusted(make_xlsx: MakeXlsx, ref: str) -> None:
    """Rows and columns are what the cells say, not the dimension the writer recorded."""
    path = with_dimension(make_xlsx([["Email", "Name"], ["a@x.ro", "Ann"], ["b@x.ro", "Bo"]]), ref)
    headers, chunks = read_all(path)
    assert headers == ["Email", "Name"]
    assert chunks[0].rows == [["a@x.ro", "Ann"], ["b@x.ro", "Bo"]]


def test_headers_are_trimmed_and_may_be_numbers(make_xlsx: MakeXlsx) -> None:
    """Header cells become trimmed text; a blank header is ""."""
    headers, _ = read_all(make_xlsx([[" Email ", None, 2024, "Zip"]]))
    assert headers == ["Email", "", "2024", "Zip"]


@pytest.mark.parametrize(
    ("sheet", "email"),
    [(None, "first@x.ro"), ("Leads", "second@x.ro"), (" leads ", "second@x.ro")],
)
def test_worksheet_is_picked_by_name(make_xlsx: MakeXlsx, sheet: str | None, email: str) -> None:
    """--sheet names a worksheet (exactly, else trimmed any-case); default is the first."""
    path = make_xlsx(
        [["Email"], ["first@x.ro"]], title="Intro", sheets={"Leads": [["Email"], ["second@x.ro"]]}
    )
    _, chunks = read_all(path, sheet)
    assert chunks[0].rows == [[email]]


def test_unknown_worksheet_lists_the_available_ones(make_xlsx: MakeXlsx) -> None:
    """A wrong --sheet is a SheetError that lists the worksheet names."""
    path = make_xlsx([["Email"]], title="Intro", sheets={"Leads": [["Email"]]})
    with pytest.raises(SheetError, match=r"no worksheet named 'Lead'; .*'Intro', 'Leads'"):
        open_sheet(path, "Lead")


def test_empty_worksheet_has_no_header_row(make_xlsx: MakeXlsx) -> None:
    """A worksheet without cells is a SheetError, not an empty read."""
    with pytest.raises(SheetError, match="no header row"):
        open_sheet(make_xlsx([]))


def test_content_decides_the_format(make_xlsx: MakeXlsx, tmp_path: Path) -> None:
    """A workbook under an odd extension still reads as a workbook; other files as CSV."""
    workbook = make_xlsx([["Email"], ["a@x.ro"]]).rename(tmp_path / "export.dat")
    text = tmp_path / "export.txt"
    text.write_text("Email\nb@x.ro\n")
    assert read_all(workbook)[1][0].rows == [["a@x.ro"]]
    assert read_all(text)[1][0].rows == [["b@x.ro"]]


def truncated(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[:1500])
    return path


def zip_without_workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return path


@pytest.mark.parametrize(
    ("name", "build", "message"),
    [
        ("a.xlsx", lambda p: p.write_text("Email\n"), "not an XLSX workbook"),
        ("a.xlsx", zip_without_workbook, "cannot be read"),
        (
            "a.xls",
            lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
            ".xls",
        ),
        (
            "a.xlsx",
            lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 99),
            "pass",
        ),
        ("a.xls", lambda p: p.write_text("<html>old export</html>"), "save it"),
    ],
    ids=["text named .xlsx", "zip without workbook", "old .xls", "password-protected", "html .xls"],
)
def test_unusable_workbooks_are_sheet_errors(
    tmp_path: Path, name: str, build: object, message: str
) -> None:
    """Corrupt, old-format or encrypted files are a SheetError naming the file."""
    path = tmp_path / name
    assert callable(build)
    build(path)
    with pytest.raises(SheetError, match=re.escape(message)) as caught:
        open_sheet(path)
    assert str(path) in str(caught.value)


def test_truncated_workbook_is_a_sheet_error(make_xlsx: MakeXlsx) -> None:
    """A workbook cut short (a broken download) is a SheetError, not a zipfile traceback."""
    path = truncated(make_xlsx([["Email"], ["a@x.ro"]]))
    with pytest.raises(SheetError) as caught, open_sheet(path) as sheet:
        list(sheet.chunks())
    assert str(path) in str(caught.value)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_general_numbers_keep_excels_15_digits(value: float) -> None:
    """Any double reads back as the number Excel shows: itself to 15 significant digits."""
    assert float(number_text(value)) == float(f"{value:.15g}")


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=12))
def test_zero_masks_pad_without_losing_digits(value: int, width: int) -> None:
    """A `000...` format pads to its width and never drops a digit."""
    text = number_converter("0" * width)(value)
    assert int(text) == value
    assert len(text) == max(width, len(str(value)))
