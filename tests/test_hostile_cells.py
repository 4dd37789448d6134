"""Hostile cells: text no output can carry makes its row invalid, never the run.

XLSX stores characters XML cannot hold as `_xHHHH_`, so a cell can decode to a lone
UTF-16 surrogate (`_xD800_`: not text, UTF-8 cannot encode it) or to NUL and other
control characters (`_x0000_=1+1`). A CSV can hold control characters too (NUL makes the
whole file binary: test_sheets_csv). Such a cell arrives cleaned (U+FFFD for a
surrogate, control characters dropped), its row gets `unrepresentable_text` or
`control_character` whichever column holds it, and every results file is written.
"""

from __future__ import annotations

import csv
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_loader.cli.app import cli
from bulk_loader.errors import SheetError
from bulk_loader.outcomes import Problem
from bulk_loader.results.workbook import ResultsWriter
from bulk_loader.sheets.opening import open_sheet

MakeXlsx = Callable[..., Path]  # the conftest fixture
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
HEADER = ["email", "first_name", "notes"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def read(path: Path) -> tuple[list[list[str]], list[Problem]]:
    with open_sheet(path) as sheet:
        chunks = list(sheet.chunks())
    return [row for c in chunks for row in c.rows], [p for c in chunks for p in c.problems]


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


def xlsx_rows(path: Path) -> list[list[str]]:
    """Rows as a re-run reads them (the `_xHHHH_` escapes xlsxwriter writes decoded)."""
    with open_sheet(path) as sheet:
        return [sheet.headers] + [row for chunk in sheet.chunks() for row in chunk.rows]


def text_parts(path: Path) -> Iterator[str]:
    """The parts of a workbook that hold cell text and comments (VML ids look like escapes)."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if re.fullmatch(r"xl/(worksheets/sheet\d+|sharedStrings|comments\d+)\.xml", name):
                yield archive.read(name).decode("utf-8")


# ---------------------------------------------------------------- reading


def test_a_lone_surrogate_escape_is_shown_as_fffd_and_is_a_problem(make_xlsx: MakeXlsx) -> None:
    """`_xD800_` reads as U+FFFD, with an unrepresentable_text problem naming its column."""
    path = make_xlsx([HEADER, ["a@example.com", "Ana_xD800_", ""]])
    rows, problems = read(path)
    assert rows == [["a@example.com", "Ana\ufffd", ""]]
    [problem] = problems
    assert (problem.row, problem.column, problem.code) == (2, "first_name", "unrepresentable_text")
    assert "U+D800" in problem.message and "retype" in problem.message


def test_a_surrogate_pair_written_as_two_escapes_reads_as_one_character(
    make_xlsx: MakeXlsx,
) -> None:
    """`_xD83D__xDE00_` is one emoji, as Excel shows it: no problem."""
    rows, problems = read(make_xlsx([HEADER, ["a@example.com", "Ana _xD83D__xDE00_", ""]]))
    assert rows == [["a@example.com", "Ana \U0001f600", ""]] and problems == []


def test_a_nul_escape_is_dropped_and_is_a_problem(make_xlsx: MakeXlsx) -> None:
    """`_x0000_=1+1` reads as `=1+1`, with a control_character problem naming U+0000."""
    rows, problems = read(make_xlsx([HEADER, ["a@example.com", "_x0000_=1+1", ""]]))
    assert rows == [["a@example.com", "=1+1", ""]]
    [problem] = problems
    assert (problem.column, problem.code, problem.value) == (
        "first_name",
        "control_character",
        "=1+1",
    )
    assert "U+0000" in problem.message


def test_control_characters_are_dropped_but_tab_line_feed_and_carriage_return_kept(
    make_xlsx: MakeXlsx,
) -> None:
    """TAB, LF and CR are text; U+0001 to U+001F besides them go, with one problem a cell."""
    cell = "_x0001_A_x0009_B_x000D__x000A_C_x000B__x001F_"
    rows, problems = read(make_xlsx([HEADER, ["a@example.com", cell, ""]]))
    assert rows == [["a@example.com", "A\tB\r\nC", ""]]
    assert [(p.column, p.code) for p in problems] == [("first_name", "control_character")]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "utf-16"])
def test_a_control_character_deep_in_a_csv_is_a_problem(tmp_path: Path, encoding: str) -> None:
    """A CSV's control character (here past the first 256 KB read) is found in its row."""
    path = tmp_path / "leads.csv"
    lines = [f"lead{n}@example.com,Name {n},x" for n in range(2, 10_000)]
    text = ",".join(HEADER) + "\n" + "\n".join(lines) + "\nz@example.com,Zoë\x1b[31m,\n"
    path.write_bytes(text.encode(encoding))
    assert path.stat().st_size > 256 * 1024
    rows, problems = read(path)
    assert rows[-1] == ["z@example.com", "Zoë[31m", ""]
    assert [(p.row, p.code) for p in problems] == [(10_000, "control_character")]


@pytest.mark.parametrize("header", ["Email_xD800_", "Email_x0007_"])
def test_a_header_no_output_can_show_is_one_clean_line(make_xlsx: MakeXlsx, header: str) -> None:
    """A header with a lone surrogate or a control character: SheetError naming the column."""
    path = make_xlsx([["Name", header], ["Ana", "a@example.com"]])
    with pytest.raises(SheetError, match=r"row 1, column 'B': the header .* retype it") as caught:
        read(path)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------- whole runs


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_dry_run_of_a_lone_surrogate_exits_1_with_the_row_invalid(
    make_xlsx: MakeXlsx, tmp_path: Path, suffix: str
) -> None:
    """The `_xD800_` sheet: exit 1, not 70; the results show U+FFFD and the problem code."""
    sheet = make_xlsx([HEADER, ["a@example.com", "Ana_xD800_", ""], ["b@example.com", "Bo", ""]])
    out = tmp_path / f"out{suffix}"
    result = invoke("run", str(sheet), "--dry-run", "--results", str(out))
    assert result.exit_code == 1, result.output
    assert "unrepresentable_text" in result.stdout and result.stderr == ""
    rows = csv_rows(out) if suffix == ".csv" else xlsx_rows(out)
    assert rows[1][4:] == ["a@example.com", "Ana\ufffd", ""]
    assert rows[1][:3] == ["invalid", "", "unrepresentable_text"]
    assert rows[1][3].startswith("first_name: ")
    assert rows[2][0] == "valid"


def test_dry_run_of_a_nul_escape_keeps_the_formula_out_of_the_csv(
    make_xlsx: MakeXlsx, tmp_path: Path
) -> None:
    """`_x0000_=1+1`: the row is invalid and the CSV cell is `'=1+1`, escaped after cleaning."""
    sheet = make_xlsx([HEADER, ["a@example.com", "_x0000_=1+1", ""]])
    out = tmp_path / "out.csv"
    assert invoke("run", str(sheet), "--dry-run", "--results", str(out)).exit_code == 1
    rows = csv_rows(out)
    assert rows[1][5] == "'=1+1" and rows[1][:3] == ["invalid", "", "control_character"]
    assert "\x00" not in out.read_text(encoding="utf-8-sig")


def test_a_hostile_cell_in_a_column_the_template_ignores_still_makes_the_row_invalid(
    make_xlsx: MakeXlsx, tmp_path: Path
) -> None:
    """`notes` is not sent, but the results could not show it as the sheet has it."""
    sheet = make_xlsx([HEADER, ["a@example.com", "Ana", "see _xDFFF_ here"]])
    out = tmp_path / "out.csv"
    assert invoke("run", str(sheet), "--dry-run", "--results", str(out)).exit_code == 1
    row = csv_rows(out)[1]
    assert row[6] == "see \ufffd here" and row[:3] == ["invalid", "", "unrepresentable_text"]


def test_a_real_run_sends_the_other_rows_and_writes_the_failed_rows_every_time(
    make_xlsx: MakeXlsx, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run and run again against the sandbox: exit 1 both times, never 70.

    A --sandbox run keeps no journal, but remembers the failed-rows file it wrote: the
    second run replaces it while it is untouched; once edited, it is kept and the next
    run writes its own beside it."""
    monkeypatch.chdir(tmp_path)
    sheet = make_xlsx([HEADER, ["a@example.com", "Ana_xD800_", ""], ["b@example.com", "Bo", ""]])
    for failed in ("leads.failed.xlsx", "leads.failed.xlsx", "leads.failed-2.xlsx"):
        if failed.endswith("-2.xlsx"):  # the person fixes the first file's row
            book = openpyxl.load_workbook(tmp_path / "leads.failed.xlsx")
            book.active["B2"] = "Ana"
            book.save(tmp_path / "leads.failed.xlsx")
        result = invoke("run", str(sheet), "--sandbox", "--yes")
        assert result.exit_code == 1, result.output
        assert "Top problems:\n  unrepresentable_text       1  row 2\n" in result.stdout
        assert f"To fix or retry: {tmp_path / failed} (" in result.stdout
        results = xlsx_rows(tmp_path / "leads.results.xlsx")
        assert [row[0] for row in results[1:]] == ["invalid", "created"]
        rows = xlsx_rows(tmp_path / failed)
        assert rows[1][:4] == ["a@example.com", "Ana\ufffd", "", "2"]
        assert rows[1][4].startswith("unrepresentable_text: first_name: ")
        assert sorted(p.name for p in tmp_path.glob("leads.failed*")) == sorted(
            {"leads.failed.xlsx", failed}
        )
    assert (
        "Note:      leads.failed.xlsx was edited since the last run: kept; this run's failed"
        " rows are in leads.failed-2.xlsx\n"
    ) in result.stdout


# ---------------------------------------------------------------- any escape at all


escaped_text = st.lists(
    st.integers(0, 0xFFFF).map(lambda unit: f"_x{unit:04X}_") | st.sampled_from(["a", "=", " "]),
    max_size=6,
).map("".join)


@settings(max_examples=60)  # the rest from the CI profile (tests/conftest.py)
@given(cells=st.lists(escaped_text, min_size=3, max_size=3))
def test_any_escaped_cell_reads_and_writes_cleanly(cells: list[str]) -> None:
    """Whatever `_xHHHH_` escapes a row holds, it reads and both results files are written."""
    with tempfile.TemporaryDirectory() as folder:
        book = openpyxl.Workbook()
        for row in (HEADER, ["a@example.com", *cells]):
            book.active.append(row)
        book.save(Path(folder, "in.xlsx"))
        with open_sheet(Path(folder, "in.xlsx")) as sheet:
            [chunk] = list(sheet.chunks())
        for suffix in (".csv", ".xlsx"):
            with ResultsWriter(Path(folder, f"r{suffix}"), HEADER) as writer:
                writer.add(2, chunk.rows[0], "invalid", problems=chunk.problems)
        assert not any(UNSAFE.search(cell) for cell in chunk.rows[0])
        assert not UNSAFE.search(Path(folder, "r.csv").read_text(encoding="utf-8-sig"))
        for part in text_parts(Path(folder, "r.xlsx")):
            assert not UNSAFE.search(part)
            assert not re.search("_x00(?:0[0-8BCEF]|1[0-9A-F])_", part)
