"""The results file: inert text, highlighted problem cells, OWASP-escaped CSV, owner-only."""

from __future__ import annotations

import csv
import re
import stat
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_loader.errors import InputError
from bulk_loader.outcomes import Problem
from bulk_loader.results.background import BackgroundResultsWriter, open_results
from bulk_loader.results.sinks import escape_csv_cell
from bulk_loader.results.workbook import ResultsWriter
from bulk_loader.sheets.csv_file import unescape_csv_cell
from bulk_loader.sheets.sheet import clean_text

FORMULA = '=HYPERLINK("https://evil.example.com","click")'
HEADERS = ["Email", "First Name", "Phone"]


def write(path: Path, *, attempts: bool = False) -> Path:
    problem = Problem(3, "Email", "bad@@x", "invalid_email", "'bad@@x' is not a valid email")
    with ResultsWriter(path, HEADERS, attempts_column=attempts) as writer:
        writer.add(2, ["a@example.com", FORMULA, "+14155550100"], "valid", attempts=1)
        writer.add(3, ["bad@@x", "@SUM(A1)", "-5"], "invalid", problems=[problem])
        writer.add(5, ["c@example.com", "Cy", ""], "valid")
        writer.close({"Rows read": 3, "Top problems": [("problem", "count"), ("x", 1)]})
    return path


def test_xlsx_keeps_formulas_as_text(tmp_path: Path) -> None:
    """A first name `=HYPERLINK(...)` is stored as a string, never as a formula."""
    sheet = openpyxl.load_workbook(write(tmp_path / "r.xlsx"))["Results"]
    assert sheet["F2"].value == FORMULA and sheet["F2"].data_type == "s"
    assert sheet["F3"].value == "@SUM(A1)" and sheet["F3"].data_type == "s"
    assert sheet["G2"].value == "+14155550100" and sheet["G2"].data_type == "s"


def test_xlsx_columns_and_row_alignment(tmp_path: Path) -> None:
    """The result columns, then the input columns in order; rows keep their input numbers."""
    sheet = openpyxl.load_workbook(write(tmp_path / "r.xlsx"))["Results"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "result_status",
        "result_lead_id",
        "result_error_type",
        "result_message",
        *HEADERS,
    )
    assert rows[2][:4] == (
        "invalid",
        None,
        "invalid_email",
        "Email: 'bad@@x' is not a valid email",
    )
    assert rows[3] == (None,) * 7  # row 4 was blank in the input
    assert rows[4][4] == "c@example.com"


def test_xlsx_problem_cells_are_highlighted_with_a_comment(tmp_path: Path) -> None:
    """The bad cell is filled and carries the problem as a comment."""
    sheet = openpyxl.load_workbook(write(tmp_path / "r.xlsx"))["Results"]
    assert sheet["E3"].comment is not None
    assert sheet["E3"].comment.text == "invalid_email: 'bad@@x' is not a valid email"
    assert sheet["E3"].fill.fgColor.rgb == "FFFFC7CE"
    assert sheet["E2"].comment is None


def test_xlsx_summary_sheet(tmp_path: Path) -> None:
    """The Summary sheet holds the counts given at close."""
    sheet = openpyxl.load_workbook(write(tmp_path / "r.xlsx"))["Summary"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Rows read", 3)
    assert rows[1][0] == "Top problems" and rows[2][:2] == ("problem", "count")


def test_attempts_column_when_asked(tmp_path: Path) -> None:
    """result_attempts is added only on request (a number, as the lead id is)."""
    sheet = openpyxl.load_workbook(write(tmp_path / "r.xlsx", attempts=True))["Results"]
    assert sheet["E1"].value == "result_attempts" and sheet["E2"].value == 1
    assert openpyxl.load_workbook(write(tmp_path / "r.xlsx"))["Results"]["E1"].value == "Email"


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_results_file_is_owner_only(tmp_path: Path, suffix: str) -> None:
    """Results hold personal data: mode 0o600, even over an existing file."""
    path = tmp_path / f"r{suffix}"
    path.write_text("old")
    path.chmod(0o644)
    write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_csv_escapes_formulas_but_not_numbers(tmp_path: Path) -> None:
    """In CSV, formula-looking text gets a leading quote; +14155550100 and -5 do not."""
    path = write(tmp_path / "r.csv")
    with path.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[1][5] == "'" + FORMULA and rows[1][6] == "+14155550100"
    assert rows[2][5] == "'@SUM(A1)" and rows[2][6] == "-5"
    assert rows[3] == [] and rows[4][4] == "c@example.com"


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("+14155550100", "+14155550100"),
        ("-5", "-5"),
        ("-5.25", "-5.25"),
        ("+1e5", "+1e5"),
        ("+1 415 555 0100", "'+1 415 555 0100"),
        ("-5\n", "'-5\n"),
        ("Maria", "Maria"),
        ("", ""),
        (" =1+2", "' =1+2"),
        ("\u00a0=1+2", "'\u00a0=1+2"),
        ("\ufeff@SUM(A1)", "'\ufeff@SUM(A1)"),
        ("\u200b+1+1", "'\u200b+1+1"),
        ("\u3000 -2+3", "'\u3000 -2+3"),
        ("\n=1+2", "'\n=1+2"),
        ("＝1+2", "'＝1+2"),
        ("＋1+1", "'＋1+1"),
        ("－2+3", "'－2+3"),
        ("＠SUM(A1)", "'＠SUM(A1)"),
        ("'＝1", "''＝1"),
        ("' =1", "'' =1"),
        ("\x00=1+2", "'=1+2"),
        ("=1\x01+2\x1f", "'=1+2"),
        ("Ana\ud800", "Ana\ufffd"),
        ("line\tone\x00\r\ntwo", "line\tone\r\ntwo"),
    ],
)
def test_escape_csv_cell(value: str, escaped: str) -> None:
    """OWASP escaping after cleaning, formula characters however hidden, plain numbers left."""
    assert escape_csv_cell(value) == escaped


def test_background_writer_writes_the_same_workbook(tmp_path: Path) -> None:
    """open_results renders XLSX in a child process; the workbook is the same."""
    direct = openpyxl.load_workbook(write(tmp_path / "direct.xlsx"))["Results"]
    with open_results(tmp_path / "bg.xlsx", HEADERS) as writer:
        assert isinstance(writer, BackgroundResultsWriter)
        problem = Problem(3, "Email", "bad@@x", "invalid_email", "'bad@@x' is not a valid email")
        writer.add(2, ["a@example.com", FORMULA, "+14155550100"], "valid")
        writer.add(3, ["bad@@x", "@SUM(A1)", "-5"], "invalid", problems=[problem])
        writer.add(5, ["c@example.com", "Cy", ""], "valid")
        writer.close({"Rows read": 3})
    background = openpyxl.load_workbook(tmp_path / "bg.xlsx")["Results"]
    assert list(background.values) == list(direct.values)
    assert background["E3"].comment is not None
    assert stat.S_IMODE((tmp_path / "bg.xlsx").stat().st_mode) == 0o600


def test_csv_results_are_written_in_process(tmp_path: Path) -> None:
    """CSV is cheap to write: no child process."""
    with open_results(tmp_path / "r.csv", HEADERS) as writer:
        assert isinstance(writer, ResultsWriter)


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_unwritable_results_path_is_an_input_error(tmp_path: Path, suffix: str) -> None:
    """A results path in a missing folder fails at once, as a one-line InputError."""
    with pytest.raises(InputError, match="cannot write the results"):
        open_results(tmp_path / "missing" / f"r{suffix}", HEADERS)


def test_a_dead_writer_process_is_reported(tmp_path: Path) -> None:
    """If the child dies, closing raises InputError instead of hanging."""
    writer = open_results(tmp_path / "r.xlsx", HEADERS)
    assert isinstance(writer, BackgroundResultsWriter)
    writer._child.kill()
    writer._child.wait()
    with pytest.raises(InputError, match="cannot write the results"):
        for row in range(2, 5000):
            writer.add(row, ["a@example.com", "A", "1"], "valid")
        writer.close({})


# Any text, surrogates included, weighted towards what hides or starts a formula.
cell_values = st.text(
    st.sampled_from("=+-@＝＋－＠'\t\r\n \u00a0\u3000\ufeff\u200b\u2060\x00\x1f\ud800.5eE")
    | st.characters(exclude_categories=())
)
RUNS_AS_FORMULA = re.compile(r"[\t\r]|[\s\ufeff\u200b-\u200d\u2060\u180e]*[=+\-@＝＋－＠]")
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


@given(cell_values)
def test_escaped_csv_cells_never_start_a_formula(value: str) -> None:
    """After escaping, a cell runs as a formula only if it is a plain number; none is unsafe."""
    escaped = escape_csv_cell(value)
    assert escaped in (clean_text(value), "'" + clean_text(value))
    assert not UNSAFE.search(escaped)
    if RUNS_AS_FORMULA.match(escaped):
        assert re.fullmatch(r"[+-][0-9.]+(?:[eE][+-]?[0-9]+)?", escaped)


@given(cell_values)
def test_reading_an_escaped_cell_gives_back_the_value(value: str) -> None:
    """What the CSV writer escapes, the CSV reader unescapes: failed rows run again as is."""
    assert unescape_csv_cell(escape_csv_cell(value)) == clean_text(value)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_every_string_written_is_cleaned(tmp_path: Path, suffix: str) -> None:
    """Every string a results file holds (cells, ids, messages, notes) is cleaned first."""
    path = tmp_path / f"r{suffix}"
    problem = Problem(2, "Email", "a\x00", "invalid_email", "'a\x00\ud800' is bad\x07")
    with ResultsWriter(path, ["Email", "First\x01 Name", "Phone"]) as writer:
        writer.add(2, ["a\x00", "Ana\ud800", "\x0b=1+1"], "failed", lead_id="7\x1f",
                   message="Kartra said \x00\x1b[31m", problems=[problem])  # fmt: skip
        writer.close({"Rows\x00 read": "1\ud800"})
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as file:
            cells = [cell for row in csv.reader(file) for cell in row]
        assert cells[7:11] == ["failed", "7", "invalid_email", "Kartra said [31m"]
        assert cells[11:14] == ["a", "Ana\ufffd", "'=1+1"]
    else:
        with zipfile.ZipFile(path) as archive:  # cell text and comments (VML ids look escaped)
            names = [n for n in archive.namelist() if re.match(r"xl/(work|shared|comments)", n)]
            cells = [archive.read(name).decode() for name in names]
        assert any("Ana\ufffd" in part for part in cells)
        assert any("is bad" in part for part in cells)  # the comment on the Email cell
    for cell in cells:
        assert not UNSAFE.search(cell) and not re.search("_x00(?:0[0-8BCEF]|1[0-9A-F])_", cell)


@pytest.mark.parametrize(
    ("status", "highlighted"),
    [("would_fail", True), ("failed", True), ("would_create", False), ("created", False)],
)
def test_result_status_cells_a_person_must_read_are_highlighted(
    tmp_path: Path, status: str, highlighted: bool
) -> None:
    """--dry-run --lookup's would_fail stands out like failed; good outcomes do not."""
    with ResultsWriter(tmp_path / "r.xlsx", HEADERS) as writer:
        writer.add(2, ["a@example.com", "A", ""], status, error_type="244")
        writer.close()
    cell = openpyxl.load_workbook(tmp_path / "r.xlsx")["Results"]["A2"]
    assert cell.value == status
    assert (cell.fill.fgColor.rgb == "FFFFC7CE") is highlighted
