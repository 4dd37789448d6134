"""Warnings note a cell and still send its row; problems stop it. Both are shown apart."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulk_loader import Credentials, KartraClient, Loader, Problem, ProblemCode, RowStatus
from bulk_loader.cli.app import cli
from bulk_loader.outcomes import Report
from bulk_loader.sandbox import RunningSandbox
from bulk_loader.sheets.sheet import Chunk
from bulk_loader.validation.validator import LeadRow, Validator

ROOT = Path(__file__).resolve().parent.parent
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
NOTED = "could not be read as a phone number; sent as written"


@pytest.fixture
def noted_phones(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row whose phone cell holds 'call me' gets a warning on that cell."""
    validate = Validator.validate

    def with_warnings(self: Validator, chunk: Chunk) -> tuple[list[LeadRow], list[Problem]]:
        valid, problems = validate(self, chunk)
        at = 2  # the sheet's phone column
        for number, cells in zip(chunk.row_numbers, chunk.rows, strict=True):
            if cells[at] == "call me":
                problems.append(
                    Problem(number, "phone", cells[at], ProblemCode.PHONE_NOT_PARSED, NOTED)
                )
        return valid, problems

    monkeypatch.setattr(Validator, "validate", with_warnings)


def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    with path.open("w", newline="") as out:
        csv.writer(out).writerows(
            [
                ("email", "first_name", "phone"),
                ("ana@example.com", "Ana", "call me"),
                ("bo@example.com", "Bo", "4155550100"),
                ("not-an-email", "Cy", "call me"),
            ]
        )
    return path


def test_a_warning_counts_no_row_as_invalid() -> None:
    report = Report()
    report.add_rows(2)
    report.add_problems(
        [
            Problem(2, "phone", "x", ProblemCode.PHONE_NOT_PARSED, NOTED),
            Problem(3, "email", "y", ProblemCode.INVALID_EMAIL, "not an email"),
        ]
    )
    assert (report.rows_valid, report.rows_invalid) == (1, 1)
    assert [code for code, *_ in report.top()] == ["invalid_email"]
    assert [code for code, *_ in report.top(warnings=True)] == ["phone_not_parsed"]


@pytest.mark.usefixtures("noted_phones")
def test_the_dry_run_keeps_a_noted_row_valid_and_lists_warnings_apart(tmp_path: Path) -> None:
    path = sheet(tmp_path)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(cli, ["run", str(path), "--dry-run", "--results", str(out)])
    assert result.exit_code == 1  # the bad email, not the noted phones
    assert "Valid:     2\nInvalid:   1\n" in result.output
    assert "Warnings (sent as written):\n  phone_not_parsed       2  rows 2, 4" in result.output
    with out.open(newline="", encoding="utf-8-sig") as file:
        rows = {row["email"]: row for row in csv.DictReader(file)}
    assert rows["ana@example.com"]["result_status"] == "valid"
    assert rows["ana@example.com"]["result_message"] == f"phone: {NOTED}"
    assert rows["not-an-email"]["result_status"] == "invalid"


@pytest.mark.usefixtures("noted_phones")
def test_a_run_sends_the_noted_row_and_says_so(tmp_path: Path, sandbox: RunningSandbox) -> None:
    path = sheet(tmp_path)
    with KartraClient(GOOD, api_url=sandbox.url) as client:
        summary = Loader(path, mode="create").run(client, rate=None, memory=False)
    assert summary.statuses[RowStatus.CREATED] == 2
    assert summary.statuses[RowStatus.INVALID] == 1
    # Row 4's warning counts too: once its email is fixed, its phone is still unread.
    assert summary.warnings == {"phone_not_parsed": 2}
    assert summary.errors == {"invalid_email": 1}
    assert sandbox.state.find(email="ana@example.com") is not None
    assert summary.report.rows_invalid == 1
