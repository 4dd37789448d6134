"""`bulk-loader run --dry-run` end to end on the samples: output, results, exit codes."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from bulk_loader.cli.app import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
EXAMPLE = str(ROOT / "templates" / "example.toml")

LEADS_SUMMARY = """\
Account:   none: not checked (no credentials): set KARTRA_APP_ID, KARTRA_API_KEY and KARTRA_API_PASSWORD (or use --sandbox) to check custom fields, options, tags and lists
Rows read: 50
Valid:     45
Invalid:   5
Top problems:
  unknown_option       2  rows 20, 25
                          e.g. row 20: Plan: 'premium': not an option of plan (basic, pro, enterprise)
  invalid_email        1  row 9
                          e.g. row 9: Email: 'hugo.hartfield@example' is not a valid email address
  invalid_url          1  row 32
                          e.g. row 32: Website: a web address starting with https:// or http://
  duplicate_lead       1  row 43
                          e.g. row 43: Email: the same email as row 3
Note:      time zone Europe/Paris -> Europe/Brussels (same UTC offsets): 1 row
"""  # noqa: E501


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def copy_sample(tmp_path: Path, name: str) -> Path:
    return Path(shutil.copy(SAMPLES / name, tmp_path / name))


@pytest.mark.parametrize("name", ["leads.xlsx", "leads.csv"])
def test_sample_with_problems_exits_1(tmp_path: Path, name: str) -> None:
    """The sample's deliberate problems are summarised; some rows invalid: exit 1."""
    sheet = copy_sample(tmp_path, name)
    result = invoke("run", str(sheet), "--template", EXAMPLE, "--dry-run")
    # leads.csv and leads.xlsx side by side never write the same results file.
    results = (
        tmp_path
        / {"leads.xlsx": "leads.results.xlsx", "leads.csv": "leads.csv.results.xlsx"}[sheet.name]
    )
    assert result.stdout == LEADS_SUMMARY + f"Results:   {results}\n"
    assert result.stderr == ""
    assert result.exit_code == 1
    assert openpyxl.load_workbook(results)["Results"]["AA9"].value is None


@pytest.mark.parametrize(
    ("name", "template"),
    [("clean.xlsx", EXAMPLE), ("clean.csv", None)],
)
def test_clean_samples_exit_0(tmp_path: Path, name: str, template: str | None) -> None:
    """Every row valid: exit 0 (clean.csv needs no template: Kartra names as headers)."""
    sheet = copy_sample(tmp_path, name)
    args = ["run", str(sheet), "--dry-run"] + (["--template", template] if template else [])
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:4] == ["Rows read: 12", "Valid:     12", "Invalid:   0"]


def test_clean_xlsx_phone_and_zip_reach_the_results_as_seen_in_excel(tmp_path: Path) -> None:
    """A phone stored as a float and a zip formatted 00000 come through as text."""
    sheet = copy_sample(tmp_path, "clean.xlsx")
    invoke("run", str(sheet), "--template", EXAMPLE, "--dry-run")
    results = openpyxl.load_workbook(tmp_path / "clean.results.xlsx")["Results"]
    assert (results["E1"].value, results["H1"].value) == ("Email", "Phone")
    assert results["H2"].value == "14155550100"
    assert results["N2"].value == "02134"


def test_csv_results_when_asked(tmp_path: Path) -> None:
    """--results ending in .csv writes CSV with the result columns."""
    out = tmp_path / "out.csv"
    result = invoke("run", str(SAMPLES / "leads.csv"), "--template", EXAMPLE, "--dry-run",
                    "--results", str(out))  # fmt: skip
    assert result.exit_code == 1
    with out.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0][:5] == ["result_status", "result_lead_id", "result_error_type",
                           "result_message", "Email"]  # fmt: skip
    assert rows[8][:3] == ["invalid", "", "invalid_email"]
    assert len(rows) == 51


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_formulas_in_the_sheet_stay_inert(tmp_path: Path, suffix: str) -> None:
    """A first name `=HYPERLINK(...)` is text in XLSX results and escaped in CSV results."""
    sheet = tmp_path / "s.csv"
    sheet.write_text('email,first_name\na@example.com,"=HYPERLINK(""https://x.example"")"\n')
    out = tmp_path / f"out{suffix}"
    assert invoke("run", str(sheet), "--dry-run", "--results", str(out)).exit_code == 0
    if suffix == ".xlsx":
        cell = openpyxl.load_workbook(out)["Results"]["F2"]
        assert (cell.value, cell.data_type) == ('=HYPERLINK("https://x.example")', "s")
    else:
        assert "'=HYPERLINK" in out.read_text(encoding="utf-8-sig")


def test_run_without_credentials_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real run needs the App's credentials: one line naming what is missing, exit 3."""
    for name in ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    result = invoke("run", str(SAMPLES / "clean.csv"))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(
        "error: missing environment variable KARTRA_APP_ID, KARTRA_API_KEY, KARTRA_API_PASSWORD"
    )
    assert result.stderr.count("\n") == 1


def test_every_template_problem_on_its_own_line_exit_3(tmp_path: Path) -> None:
    """A broken template: a count line, then one indented line per problem, exit 3;
    what the sheet's headers make of it too (no email column mapped), not later."""
    template = tmp_path / "t.toml"
    template.write_text('[template]\nmode = "merge"\n[fields]\nfrist_name = "First Name"\n')
    result = invoke("run", str(SAMPLES / "clean.csv"), "--template", str(template), "--dry-run")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[:4] == [
        f"error: {template}: 3 problems",
        "  template.mode: 'merge' is not one of create, edit, upsert",
        "  fields.frist_name: not a Kartra lead field (did you mean 'first_name'?)",
        "  fields.email: upsert mode needs an email column",
    ]


def test_template_header_not_in_the_sheet_exit_3(tmp_path: Path) -> None:
    """The example template on a sheet without its headers: every missing one listed."""
    result = invoke("run", str(SAMPLES / "clean.csv"), "--template", EXAMPLE, "--dry-run")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: {EXAMPLE}: 15 problems\n")
    first = "  fields.first_name: no column 'First Name' in the sheet (did you mean 'first_name'?)"
    assert first + "\n" in result.stderr


@pytest.mark.parametrize(
    ("content", "name"),
    [(None, "missing.csv"), (b"not a zip", "broken.xlsx")],
)
def test_unreadable_sheet_exit_3(tmp_path: Path, content: bytes | None, name: str) -> None:
    """A sheet that cannot be read: one line on stderr, no traceback, exit 3."""
    sheet = tmp_path / name
    if content is not None:
        sheet.write_bytes(content)
    result = invoke("run", str(sheet), "--dry-run")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: {sheet}")
    assert result.stderr.count("\n") == 1


def test_bad_mode_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown --mode is a usage error: exit 2."""
    result = invoke("run", str(SAMPLES / "clean.csv"), "--mode", "merge", "--dry-run")
    assert result.exit_code == 2


def test_mode_option_overrides_the_template(tmp_path: Path) -> None:
    """--mode edit with match = email still validates the clean sample."""
    sheet = copy_sample(tmp_path, "clean.csv")
    assert invoke("run", str(sheet), "--mode", "edit", "--dry-run").exit_code == 0


def test_unwritable_results_path_exit_3(tmp_path: Path) -> None:
    """A results path that cannot be written: one line, exit 3."""
    out = tmp_path / "missing" / "r.xlsx"
    result = invoke("run", str(SAMPLES / "clean.csv"), "--dry-run", "--results", str(out))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: cannot write the results to {out}")
    assert result.stderr.count("\n") == 1


def test_a_late_new_email_clash_is_counted_and_written(tmp_path: Path) -> None:
    """A new_email that a later row uses as email: that row is invalid, counted once."""
    sheet = tmp_path / "s.csv"
    sheet.write_text(
        "email,new_email,website\n"
        "a@example.com,b@example.com,nope\n"
        "c@example.com,d@example.com,\n"
        "b@example.com,,\n"
        "d@example.com,,\n"
    )
    out = tmp_path / "r.csv"
    result = invoke("run", str(sheet), "--mode", "edit", "--dry-run", "--results", str(out))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:4] == ["Rows read: 4", "Valid:     2", "Invalid:   2"]
    with out.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[1][:3] == ["invalid", "", "invalid_url, new_email_conflict"]
    assert rows[2][0] == "invalid" and rows[2][2] == "new_email_conflict"
    assert [r[0] for r in rows[3:]] == ["valid", "valid"]


def test_no_email_column_without_a_template_exit_3(tmp_path: Path) -> None:
    """Without a template, a sheet lacking an email column: the file, the fix, its headers."""
    sheet = tmp_path / "s.csv"
    sheet.write_text("Name\nAna\n")
    result = invoke("run", str(sheet), "--dry-run")
    assert result.exit_code == 3
    assert result.stderr == (
        f"error: {sheet}: 1 problem\n"
        "  fields.email: upsert mode needs an email column: "
        f"name a column 'email', or pass --template (`bulk-loader template init {sheet}` "
        "writes one)\n"
        "  (s.csv row 1 holds the headers: 'Name')\n"
    )


def test_ctrl_c_exits_4(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during a dry run: one line and exit 4, no traceback."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("bulk_loader.api.Loader.check", interrupted)
    result = invoke("run", str(SAMPLES / "clean.csv"), "--dry-run")
    assert result.exit_code == 4
    assert result.stderr == ("error: stopped; nothing was sent, the results file is incomplete\n")


def test_the_resume_command_never_repeats_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Following the printed command must carry on, not start over."""
    from bulk_loader.cli.common import this_command

    monkeypatch.setattr(
        "sys.argv",
        [
            "bulk-loader",
            "run",
            "s.csv",
            "--restart",
            "--yes",
            "--api-url",
            "https://u:secret@example.com/api",
        ],
    )
    assert this_command() == "bulk-loader run s.csv --api-url 'https://***@example.com/api'"


def test_a_dry_run_with_an_account_finds_what_the_account_lacks(tmp_path: Path) -> None:
    """With credentials (here the sandbox's), a tag the account lacks makes the row invalid
    in a plain dry run: three read-only look-ups, no call per row."""
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,tags\nana@example.com,VIP\nbo@example.com,Nope\n")
    result = invoke("run", str(sheet), "--dry-run", "--sandbox")
    assert result.exit_code == 1, result.output
    assert "Valid:     1\nInvalid:   1\n" in result.stdout
    assert "  unknown_tag       1  row 3\n" in result.stdout
    assert "Account:   app sandbox-app at 127.0.0.1:" in result.stdout


def test_a_dry_run_without_credentials_says_what_it_did_not_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("KARTRA_APP_ID", "KARTRA_API_KEY", "KARTRA_API_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,tags\nana@example.com,Nope\n")
    result = invoke("run", str(sheet), "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        "Account:   none: not checked (no credentials): set KARTRA_APP_ID, KARTRA_API_KEY and "
        "KARTRA_API_PASSWORD (or use --sandbox) to check custom fields, options, tags and lists\n"
    ) in result.stdout
