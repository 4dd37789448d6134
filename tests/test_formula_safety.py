"""Formula safety across every output a person may open in a spreadsheet.

The classic payloads stay inert text in the results and failed-rows files, in XLSX and
in CSV, and in the starter template; phone numbers and negative numbers stay as typed.
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.utils import get_column_letter

from bulk_loader.cli.app import cli
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.sandbox import serve_in_thread
from bulk_loader.sending.pacing import RetryPolicy
from bulk_loader.sheets.opening import open_sheet

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ["=cmd|' /C calc'!A0", "@SUM(1+1)", "+1+1", "-2+3", "\t=1+1", "\r=1+1",
            " =1+1", "\u00a0@SUM(1+1)", "\u200b+1+1", "\ufeff-2+3", "＝1+1", "＋1+1", "－2+3",
            "＠SUM(1+1)"]  # fmt: skip
NUMBERS = ["+14155550100", "-5"]
# What a spreadsheet may run: these first, also behind spaces and invisible characters.
DANGEROUS = re.compile(r"[\t\r]|[\s\u200b\ufeff]*[=+\-@＝＋－＠]")


@pytest.fixture
def client() -> Iterator[KartraClient]:
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as sandbox:
        credentials = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
        with KartraClient(credentials, api_url=sandbox.url) as kartra:
            yield kartra


def write_sheet(path: Path) -> Path:
    """One row per payload, in the company column; an unknown tag keeps each one back."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "company", "phone", "tags"])
        for n, value in enumerate(PAYLOADS + NUMBERS):
            writer.writerow([f"p{n}@example.com", value, NUMBERS[n % 2], "NoSuchTag"])
    return path


def import_to(client: KartraClient, sheet: Path, results: Path) -> Path:
    """Run the import; return the failed-rows file (every row fails preflight)."""
    options = ImportOptions(sheet=sheet, mode="create", rate=None, results_path=results,
                            policy=RetryPolicy.instant())  # fmt: skip
    summary = run_import(options, client)
    assert summary.failed is not None
    return summary.failed


def xlsx_cells(path: Path) -> list[openpyxl.cell.cell.Cell]:
    book = openpyxl.load_workbook(path)
    return [cell for row in book.worksheets[0].iter_rows() for cell in row]


@pytest.mark.parametrize("sheet_suffix", ["xlsx", "csv"])
def test_xlsx_outputs_hold_payloads_as_text_never_formulas(
    tmp_path: Path, client: KartraClient, sheet_suffix: str
) -> None:
    """Results and failed rows in XLSX: every payload a text cell, exactly as typed."""
    sheet = write_sheet(tmp_path / "in.csv")
    if sheet_suffix == "xlsx":  # an XLSX input gives an XLSX failed-rows file
        book = openpyxl.Workbook()
        for row in csv.reader(sheet.open(encoding="utf-8")):
            book.active.append(row)
        for row in book.active.iter_rows():
            for cell in row:
                cell.data_type = "s"  # typed text, as Excel keeps a cell typed with '
        sheet = tmp_path / "in.xlsx"
        book.save(sheet)
    failed = import_to(client, sheet, tmp_path / "results.xlsx")
    for path in [tmp_path / "results.xlsx", *([failed] if failed.suffix == ".xlsx" else [])]:
        cells = xlsx_cells(path)
        # The lead id and attempts (B, E), and the failed-rows file's row number (its
        # last column but one) are this tool's numbers; every other cell is text.
        last_but_one = get_column_letter(max(c.column for c in cells) - 1)
        ours = {"B", "E"} if path.name == "results.xlsx" else {last_but_one}
        written = [cell for cell in cells if cell.value is not None]
        assert all(c.data_type == "s" for c in written if c.column_letter not in ours), path
        assert all(c.data_type == "n" for c in written if c.column_letter in ours and c.row > 1)
        with open_sheet(path) as opened:  # what Excel shows, and what a re-run reads
            values = {value for chunk in opened.chunks() for row in chunk.rows for value in row}
        # openpyxl saved the XLSX input's carriage return raw, and XML reads it as a line
        # feed; from a CSV input it survives (as _x000D_ on disk).
        expected = {v.replace("\r", "\n") if sheet_suffix == "xlsx" else v for v in PAYLOADS}
        assert expected | set(NUMBERS) <= values, path


def test_csv_outputs_escape_payloads_and_leave_numbers_alone(
    tmp_path: Path, client: KartraClient
) -> None:
    """Results and failed rows in CSV: payloads start with a quote, numbers stay as typed."""
    failed = import_to(client, write_sheet(tmp_path / "in.csv"), tmp_path / "results.csv")
    for path in (tmp_path / "results.csv", failed):
        with path.open(newline="", encoding="utf-8-sig") as out:
            cells = [cell for row in csv.reader(out) for cell in row]
        for cell in cells:
            if DANGEROUS.match(cell):
                assert cell in NUMBERS, (path.name, cell)
        assert {"'" + payload for payload in PAYLOADS} <= set(cells), path.name
        assert set(NUMBERS) <= set(cells), path.name


def test_template_init_keeps_payload_headers_inside_toml_strings(tmp_path: Path) -> None:
    """Headers that look like formulas come out quoted; no line starts with one."""
    sheet = tmp_path / "headers.csv"
    sheet.write_text(",".join(['"' + p.replace('"', '""') + '"' for p in PAYLOADS]) + "\n")
    result = CliRunner().invoke(cli, ["template", "init", str(sheet)])
    assert result.exit_code == 0, result.output
    for line in result.stdout.splitlines():
        assert not DANGEROUS.match(line), line
    tomllib.loads(result.stdout)  # valid as printed


def _escape_slowly(value: str) -> str:
    """escape_csv_cell without its fast path: the rules as written."""
    from bulk_loader.results.sinks import _FORMULA, _LOOKS_ESCAPED, _PLAIN_NUMBER
    from bulk_loader.sheets.sheet import clean_text

    value = clean_text(value)
    if _FORMULA.match(value) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    if value.startswith("'") and _LOOKS_ESCAPED.match(value):
        return "'" + value
    return value


@given(st.text() | st.sampled_from(["", "a", "=1", "'=1", " =1", "+1", "Ana", "\x00x"]))
def test_the_fast_path_of_csv_escaping_changes_nothing(value: str) -> None:
    from bulk_loader.results.sinks import escape_csv_cell

    assert escape_csv_cell(value) == _escape_slowly(value)
