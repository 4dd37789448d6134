"""What a person opens after a run (issue 13, items 3-5), checked on the CLI's exact
output and on the files written.

3. A failed-rows file edited since a run wrote it is never replaced: the next run's
   list goes beside it, and the run says so.
4. The failed-rows file says why: each row's number and problem in two last columns
   that a run of the file ignores.
5. The results workbook opens on the outcome: result columns first and frozen, an
   autofilter, fitted widths, numbers as numbers, one Summary layout with a chart; a
   real run's terminal summary lists each problem with its rows and an example.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from bulk_loader import Loader
from bulk_loader.cli.app import cli
from bulk_loader.results.failed_rows import FAILED_META
from bulk_loader.results.workbook import NOTE_COLUMNS, ResultsWriter, is_note_column
from bulk_loader.sandbox import RunningSandbox, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = ROOT / "samples" / "account.toml"
ROWS = [
    ["ana@example.com", "Ana"],
    ["bo@example", "Bo"],  # row 3: invalid_email
    ["maria.lopez@example.com", "Maria"],  # row 4: the account has her; create fails 244
]

FIRST_RUN = """\
Account:   app sandbox-app at 127.0.0.1:PORT
Rows read: 3
Valid:     2
Invalid:   1
Created:   1
Failed:    1
Sent:      2 rows this run; 6 calls to 127.0.0.1:PORT
Pace:      no limit (--rate 0); 0 calls answered 429 (sent again)
Read back: 1 lead, as sent; 1 call (--verify)
Top problems:
  invalid_email       1  row 3
                         e.g. row 3: email: 'bo@example' is not a valid email address
  244                 1  row 4
                         e.g. row 4: Lead already exists
Note:      leads created through the API carry no GDPR consent in Kartra: on an account with GDPR on, they may get no email until they fill in a Kartra form (read back: gdpr_lead_status 0 and blacklisted 0: row 2)
Results:   leads.csv.results.xlsx
To fix or retry: leads.failed.csv (run it like the original sheet)
Journal:   JOURNAL
           (kept until `bulk-loader forget leads.csv` deletes it)
"""  # noqa: E501

RUN_AFTER_THE_EDIT = """\
Account:   app sandbox-app at 127.0.0.1:PORT
Rows read: 3
Valid:     2
Invalid:   1
Created:   1
Failed:    1
Resumed:   2 rows done by an earlier run; 0 settled by search first
Sent:      0 rows this run; 3 calls to 127.0.0.1:PORT
Pace:      no limit (--rate 0); 0 calls answered 429 (sent again)
Top problems:
  invalid_email       1  row 3
                         e.g. row 3: email: 'bo@example' is not a valid email address
  244                 1  row 4
                         e.g. row 4: Lead already exists
Results:   leads.csv.results.xlsx
Note:      leads.failed.csv was edited since the last run: kept; this run's failed rows are in leads.failed-2.csv
To fix or retry: leads.failed-2.csv (run it like the original sheet)
Journal:   JOURNAL
           (kept until `bulk-loader forget leads.csv` deletes it)
"""  # noqa: E501


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RunningSandbox]:
    """A sandbox, its App's credentials and URL in the environment (a dry run checks its
    account too), and tmp_path as the folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KARTRA_APP_ID", "sandbox-app")
    monkeypatch.setenv("KARTRA_API_KEY", "sandbox-key")
    monkeypatch.setenv("KARTRA_API_PASSWORD", "sandbox-password")
    with serve_in_thread(ACCOUNT, rate=None) as running:
        monkeypatch.setenv("KARTRA_API_URL", running.url)
        yield running


def write_csv(
    path: Path, rows: list[list[str]], header: tuple[str, ...] = ("email", "first_name")
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([header, *rows])
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        return list(csv.reader(file))


def run(sandbox: RunningSandbox, sheet: str, *more: str) -> Result:
    """`bulk-loader run SHEET` against the sandbox, keeping its journal beside the sheet."""
    args = ["run", sheet, "--rate", "0", "--no-memory", *more]
    return CliRunner().invoke(cli, args)


def shown(result: Result) -> str:
    """stdout with what changes from run to run (the port, the journal's path) named."""
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", result.stdout)
    return re.sub(r"(?m)^Journal:   .*\.journal\.sqlite$", "Journal:   JOURNAL", text)


def failed_file_notes(result: Result) -> list[str]:
    """The notes about failed-rows files (a kept one, ...): not the run's other notes."""
    return [
        line
        for line in result.stdout.splitlines()
        if line.startswith("Note:") and ".failed" in line
    ]


def cells(path: Path, sheet: str = "Results") -> list[tuple[object, ...]]:
    return list(openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True))


# -- 3. an edited failed-rows file is kept ----------------------------------------------


def test_an_edited_failed_rows_file_is_kept_and_the_new_list_goes_beside_it(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    write_csv(tmp_path / "leads.csv", ROWS)
    first = run(sandbox, "leads.csv", "--mode", "create")
    assert first.exit_code == 1, first.output
    assert shown(first) == FIRST_RUN
    failed = tmp_path / "leads.failed.csv"
    edited = failed.read_text(encoding="utf-8-sig").replace("bo@example,", "bo@example.com,")
    failed.write_text(edited, encoding="utf-8-sig")  # six emails fixed, say; one here

    again = run(sandbox, "leads.csv", "--mode", "create")  # the original sheet, again
    assert again.exit_code == 1, again.output
    assert shown(again) == RUN_AFTER_THE_EDIT
    assert failed.read_text(encoding="utf-8-sig") == edited  # the fixes are all there
    assert read_csv(tmp_path / "leads.failed-2.csv")[1][:3] == ["bo@example", "Bo", "3"]
    summary = {row[0]: row[1] for row in cells(tmp_path / "leads.csv.results.xlsx", "Summary")}
    assert summary["Failed rows"] == "leads.failed-2.csv"
    assert summary["Failed rows kept"] == (
        "leads.failed.csv was edited since the last run: kept; "
        "this run's failed rows are in leads.failed-2.csv"
    )

    # A third run replaces its own unedited leads.failed-2.csv, and still keeps the edit.
    third = run(sandbox, "leads.csv", "--mode", "create")
    assert "Note:      leads.failed.csv was edited since an earlier run wrote it: kept; " \
        "this run's failed rows are in leads.failed-2.csv\n" in third.stdout  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("leads.failed*")) == [
        "leads.failed-2.csv",
        "leads.failed.csv",
    ]
    assert failed.read_text(encoding="utf-8-sig") == edited

    # The edited file runs as it is: both rows go, and its notes are not sent.
    fixed = run(sandbox, "leads.failed.csv", "--mode", "upsert")
    assert fixed.exit_code == 0, fixed.output
    bo = sandbox.state.find(email="bo@example.com")
    assert bo is not None and bo.fields == {"email": "bo@example.com", "first_name": "Bo"}
    assert bo.custom == {}


def test_an_unedited_failed_rows_file_is_replaced_or_removed(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """The file a run wrote, untouched: the next run writes over it, or removes it when
    no row is left to fix."""
    sheet = write_csv(tmp_path / "leads.csv", ROWS)
    run(sandbox, "leads.csv", "--mode", "create")
    again = run(sandbox, "leads.csv", "--mode", "create")
    assert failed_file_notes(again) == []
    assert "To fix or retry: leads.failed.csv (run it like the original sheet)\n" in again.stdout
    assert not (tmp_path / "leads.failed-2.csv").exists()
    write_csv(sheet, ROWS[:1])  # the bad rows taken out of the sheet
    done = run(sandbox, "leads.csv", "--mode", "create")
    assert done.exit_code == 0, done.output
    assert "To fix" not in done.stdout and failed_file_notes(done) == []
    assert not list(tmp_path.glob("leads.failed*"))


def test_an_edited_failed_rows_file_stays_when_no_row_is_left_to_fix(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write_csv(tmp_path / "leads.csv", ROWS)
    run(sandbox, "leads.csv", "--mode", "create")
    failed = tmp_path / "leads.failed.csv"
    failed.write_text(failed.read_text(encoding="utf-8-sig") + "x@example.com,X,,\n")
    write_csv(sheet, ROWS[:1])
    done = run(sandbox, "leads.csv", "--mode", "create")
    assert done.exit_code == 0, done.output
    assert "Note:      leads.failed.csv was edited since the last run: kept\n" in done.stdout
    assert "x@example.com,X" in failed.read_text(encoding="utf-8-sig")
    assert [p.name for p in tmp_path.glob("leads.failed*")] == ["leads.failed.csv"]


def test_a_file_no_run_remembers_writing_is_kept(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """leads.failed.csv made by hand (or by a journal since forgotten): never written over."""
    write_csv(tmp_path / "leads.csv", ROWS)
    (tmp_path / "leads.failed.csv").write_text("email\nmine@example.com\n")
    (tmp_path / "leads.failed-2.csv").write_text("email\nalso.mine@example.com\n")
    result = run(sandbox, "leads.csv", "--mode", "create")
    assert (
        "Note:      leads.failed.csv was not written by a run this journal remembers: kept; "
        "this run's failed rows are in leads.failed-3.csv\n"
    ) in result.stdout
    assert "To fix or retry: leads.failed-3.csv (" in result.stdout
    assert (tmp_path / "leads.failed.csv").read_text() == "email\nmine@example.com\n"
    assert (tmp_path / "leads.failed-2.csv").read_text() == "email\nalso.mine@example.com\n"


def test_results_rebuilt_from_the_journal_keep_the_record_of_the_file(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """`bulk-loader results` rewrites the failed-rows file the run wrote and remembers
    the new one: the next run still knows it as its own."""
    sheet = write_csv(tmp_path / "leads.csv", ROWS)
    run(sandbox, "leads.csv", "--mode", "create")
    rebuilt = CliRunner().invoke(cli, ["results", "leads.csv"])
    assert rebuilt.exit_code == 1, rebuilt.output
    assert failed_file_notes(rebuilt) == []
    [journal] = Loader(sheet.resolve()).journals()
    with sqlite3.connect(journal) as db:
        query = "SELECT value FROM meta WHERE name = ?"
        record = json.loads(db.execute(query, (FAILED_META,)).fetchone()[0])
    assert record["name"] == "leads.failed.csv" and len(record["sha256"]) == 64
    again = run(sandbox, "leads.csv", "--mode", "create")
    assert failed_file_notes(again) == [] and not (tmp_path / "leads.failed-2.csv").exists()


def test_restart_replaces_its_own_untouched_failed_rows_file(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """--restart forgets what was sent, not which failed-rows file the tool wrote: running
    it twice leaves one list, not failed-2, failed-3 of the same rows."""
    write_csv(tmp_path / "leads.csv", ROWS)
    for _ in range(3):
        result = run(sandbox, "leads.csv", "--mode", "upsert", "--restart", "--yes")
        assert result.exit_code == 1, result.output
        assert failed_file_notes(result) == []
    assert sorted(p.name for p in tmp_path.glob("leads.failed*")) == ["leads.failed.csv"]


def test_results_rebuilt_after_a_run_keep_its_sending_block_and_notes(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """How the last run went (calls, 429s, pace, achieved rate) and its notes are not
    lost when `bulk-loader results` rewrites the workbook from the journal."""
    header = ("email", "first_name", "lead_preferred_time_zone")
    write_csv(tmp_path / "leads.csv", [["ana@example.com", "Ana", "Europe/Paris"]], header)
    run(sandbox, "leads.csv", "--mode", "create")
    note = "time zone Europe/Paris -> Europe/Brussels (same UTC offsets): 1 row"

    def summary_from_sending() -> list[tuple[object, ...]]:
        rows = cells(tmp_path / "leads.csv.results.xlsx", "Summary")
        start = next(n for n, row in enumerate(rows) if row[0] == "Sending")
        return rows[start:]

    ran = summary_from_sending()
    assert "Calls made" in [row[0] for row in ran] and ("Note 1", note) in ran
    rebuilt = CliRunner().invoke(cli, ["results", "leads.csv"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"Note:      {note}\n" in rebuilt.stdout
    assert summary_from_sending() == ran


# -- 4. the failed-rows file says why, and runs again as is ----------------------------


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_failed_rows_file_runs_again_as_it_is(
    tmp_path: Path, sandbox: RunningSandbox, make_xlsx: Callable[..., Path], suffix: str
) -> None:
    """Its notes are neither mapped (built-in template or one requiring its columns),
    nor extra cells, nor sent; the next failed-rows file has them once."""
    rows = [["email", "first_name"], *ROWS]
    if suffix == ".csv":
        write_csv(tmp_path / "leads.csv", ROWS)
    else:
        make_xlsx(rows)
    run(sandbox, f"leads{suffix}", "--mode", "create")
    failed = tmp_path / f"leads.failed{suffix}"
    written = read_csv(failed) if suffix == ".csv" else [list(r) for r in cells(failed, "Rows")]
    why = "invalid_email: email: 'bo@example' is not a valid email address"
    number = str if suffix == ".csv" else int  # a number in a workbook, to sort by
    assert written == [
        ["email", "first_name", *NOTE_COLUMNS],
        ["bo@example", "Bo", number(3), why],
        ["maria.lopez@example.com", "Maria", number(4), "failed 244: Lead already exists"],
    ]

    template = tmp_path / "t.toml"
    template.write_text('[template]\nrequire_columns = true\n[fields]\nemail = "email"\n'
                        'first_name = "first_name"\n')  # fmt: skip
    for more in ((), ("--template", str(template))):
        checked = CliRunner().invoke(cli, ["run", failed.name, "--dry-run", *more])
        assert checked.exit_code == 1, checked.output  # bo's email, still to fix
        assert "Rows read: 2\nValid:     1\nInvalid:   1\nTop problems:\n  invalid_email " \
            in checked.stdout  # fmt: skip
        assert "extra_cells" not in checked.stdout

    again = run(sandbox, failed.name, "--mode", "create")  # nothing fixed: fails again
    assert again.exit_code == 1
    retry = tmp_path / f"leads.failed.failed{suffix}"
    header = read_csv(retry)[0] if suffix == ".csv" else list(cells(retry, "Rows")[0])
    assert header == ["email", "first_name", *NOTE_COLUMNS]  # this run's notes, once
    assert [lead for lead in sandbox.state.leads.values() if lead.custom] == []


def test_note_columns_are_marked_and_not_template_fields() -> None:
    """The marker: the tool's name and a colon, which no Kartra field spells."""
    from bulk_loader.template.fields import ACTIONS, KARTRA_FIELDS
    from bulk_loader.template.mapping import default_template

    assert all(is_note_column(name) for name in NOTE_COLUMNS)
    assert not any(is_note_column(name) for name in [*KARTRA_FIELDS, *ACTIONS, "Bulk Loader"])
    template = default_template(["email", *NOTE_COLUMNS, " Bulk-Loader: row "])
    assert [header for _, header in template.columns()] == ["email"]


@pytest.mark.parametrize("export", [None, "mailchimp_audience_301.csv"])
def test_template_init_proposes_nothing_for_the_note_columns(
    tmp_path: Path, export: str | None
) -> None:
    """A failed-rows file's starter template, plain or from a recognised export."""
    source = ROOT / "samples" / "exports" / export if export else None
    rows = read_csv(source)[:2] if source else [["email"], ["a@example.com"]]
    header = (*rows[0], *NOTE_COLUMNS)
    sheet = write_csv(tmp_path / "leads.failed.csv", [[*rows[1], "3", "why"]], header=header)
    result = CliRunner().invoke(cli, ["template", "init", str(sheet)])
    assert result.exit_code == 0, result.output
    assert "bulk-loader:" not in result.stdout
    assert ("Mailchimp" in result.stdout) is (export is not None)


# -- 5. the results workbook opens on the outcome ---------------------------------------


def test_results_put_the_outcome_first_frozen_filtered_and_fitted(tmp_path: Path) -> None:
    long = "x" * 300
    with ResultsWriter(tmp_path / "r.xlsx", ["Email", "id", "Notes"], attempts_column=True) as w:
        w.add(2, ["a@example.com", "7", long], "created", lead_id="1004", attempts=1)
        w.add(3, ["b@example.com", "", ""], "failed", lead_id="", error_type="244", attempts=2)
        w.add(5, ["c@example.com", "", ""], "would_fail", lead_id="0012", attempts=None)
        w.close()
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    sheet = book["Results"]
    header = [cell.value for cell in sheet[1]]
    assert header == ["result_status", "result_lead_id", "result_error_type", "result_message",
                      "result_attempts", "Email", "id", "Notes"]  # fmt: skip
    assert sheet.freeze_panes == "F2"  # the header row and the five result columns
    assert sheet.auto_filter.ref == "A1:H5"
    # Numbers Kartra and the run gave; the sheet's own "7" and a zero-led id stay text.
    assert (sheet["B2"].value, sheet["E2"].value, sheet["E3"].value) == (1004, 1, 2)
    assert (sheet["G2"].value, sheet["B5"].value) == ("7", "0012")
    widths = {col: sheet.column_dimensions[col].width for col in "ABCDEFGH"}
    assert widths["H"] <= 51  # 300 characters, bounded
    assert widths["F"] >= len("a@example.com") + 1
    assert widths["G"] < 8  # "id" and "7": narrow
    red = "FFFFC7CE"
    assert [sheet[f"A{row}"].fill.fgColor.rgb == red for row in (2, 3, 5)] == [False, True, True]


def summary_labels(path: Path) -> list[object]:
    return [row[0] for row in cells(path, "Summary")]


def test_one_summary_layout_for_dry_and_real_runs(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_csv(tmp_path / "leads.csv", ROWS)
    dry = CliRunner().invoke(cli, ["run", "leads.csv", "--dry-run", "--results", "dry.xlsx"])
    assert dry.exit_code == 1, dry.output  # with the sandbox's credentials in the environment
    with monkeypatch.context() as without:
        for name in ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD"):
            without.delenv(name)
        alone = CliRunner().invoke(cli, ["run", "leads.csv", "--dry-run", "--results", "a.xlsx"])
    assert alone.exit_code == 1, alone.output
    real = run(sandbox, "leads.csv", "--mode", "create")
    assert real.exit_code == 1, real.output

    head = ["Sheet", "Template", "Mode", "Run", "Host", "Account", "Rows read", "Valid",
            "Invalid", "Failed rows", "Journal", None, "Rows by status", "status"]  # fmt: skip
    for name in ("a.xlsx", "leads.csv.results.xlsx"):
        assert summary_labels(tmp_path / name)[: len(head)] == head
    lines = {row[0]: row[1:] for row in cells(tmp_path / "a.xlsx", "Summary")}
    assert lines["Host"][0] == "no account" and lines["Run"][0] == "dry run (nothing sent)"
    assert lines["valid"][0] == 2 and lines["invalid"][0] == 1
    assert lines["invalid_email"] == (1, "3", "email: 'bo@example' is not a valid email address")
    assert lines["Failed rows"][0] == "none (a dry run writes none)"
    assert lines["Problems"] == (None, None, None)
    assert lines["problem"] == ("count", "first rows", "example")
    assert {row[0]: row[1] for row in cells(tmp_path / "dry.xlsx", "Summary")}["Host"] == (
        sandbox.url.split("/")[2]
    )
    real_lines = {row[0]: row[1:] for row in cells(tmp_path / "leads.csv.results.xlsx", "Summary")}
    assert real_lines["created"][0] == 1 and real_lines["failed"][0] == 1
    assert real_lines["244"] == (1, "4", "Lead already exists")
    assert real_lines["Run"][0] == "import"
    assert real_lines["Calls per row"][0] == 1  # ana's create, and maria's refused 244


def test_the_summary_sheet_charts_the_statuses(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """A bar chart beside the status table, drawn from its cells (constant-memory
    xlsxwriter keeps no copy of them for the chart's cache)."""
    write_csv(tmp_path / "leads.csv", ROWS)
    run(sandbox, "leads.csv", "--mode", "create")
    rows = cells(tmp_path / "leads.csv.results.xlsx", "Summary")
    first = rows.index(("status", "rows", None, None)) + 2  # Excel numbers rows from 1
    with zipfile.ZipFile(tmp_path / "leads.csv.results.xlsx") as book:
        chart = book.read("xl/charts/chart1.xml").decode()
        summary_sheet = book.read("xl/worksheets/sheet2.xml").decode()
    assert f"Summary!$A${first}:$A${first + 2}" in chart  # created, failed, invalid
    assert f"Summary!$B${first}:$B${first + 2}" in chart
    assert "<drawing " in summary_sheet


def test_would_fail_is_highlighted_in_a_lookup_dry_run(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    write_csv(tmp_path / "leads.csv", [ROWS[0], ROWS[2]])
    result = run(sandbox, "leads.csv", "--mode", "create", "--dry-run", "--lookup")
    assert result.exit_code == 1, result.output
    sheet = openpyxl.load_workbook(tmp_path / "leads.csv.results.xlsx")["Results"]
    assert (sheet["A2"].value, sheet["A3"].value) == ("would_create", "would_fail")
    assert sheet["A3"].fill.fgColor.rgb == "FFFFC7CE" != sheet["A2"].fill.fgColor.rgb


def test_csv_results_put_the_result_columns_first_too(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "leads.csv", ROWS)
    result = CliRunner().invoke(cli, ["run", str(sheet), "--dry-run", "--results",
                                      str(tmp_path / "r.csv")])  # fmt: skip
    assert result.exit_code == 1
    assert read_csv(tmp_path / "r.csv")[:3] == [
        ["result_status", "result_lead_id", "result_error_type", "result_message", "email",
         "first_name"],
        ["valid", "", "", "", "ana@example.com", "Ana"],
        ["invalid", "", "invalid_email", "email: 'bo@example' is not a valid email address",
         "bo@example", "Bo"],
    ]  # fmt: skip
