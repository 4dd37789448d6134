"""Which account a run writes to (issue 17, point 1): named on the terminal, in the
Summary sheet, in CSV results' summary and in the journal; a template that pins its
account stops a run with other credentials before any call; a person at a terminal
confirms the account and rows before the first row is sent."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.journal.files import find_journals
from bulk_loader.journal.store import Journal
from bulk_loader.sandbox import RunningSandbox

ROOT = Path(__file__).resolve().parent.parent
ENV = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
       "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([["email", "first_name"], *rows])
    return path


def run(sandbox: RunningSandbox, *args: str, stdin: str | None = None) -> object:
    env = {**ENV, "KARTRA_API_URL": sandbox.url}
    return CliRunner().invoke(cli, ["run", *args, "--verify", "0"], env=env, input=stdin)


def host(sandbox: RunningSandbox) -> str:
    return sandbox.url.removeprefix("http://").removesuffix("/api")


def test_a_run_names_its_account_on_the_terminal_in_the_summary_and_the_journal(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    result = run(sandbox, str(sheet))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    account = f"app sandbox-app at {host(sandbox)}"
    assert result.stderr.splitlines()[0] == f"account: {account}"  # type: ignore[attr-defined]
    assert result.stdout.splitlines()[0] == f"Account:   {account}"  # type: ignore[attr-defined]
    book = openpyxl.load_workbook(tmp_path / "s.csv.results.xlsx", read_only=True)
    lines = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert lines["Account"] == (f"{account}: checked custom fields, options, tags and lists")
    [kept] = find_journals(sheet)
    journal = Journal.open_readonly(kept)
    try:
        assert journal.meta()["account"] == account
    finally:
        journal.close()
    # `results` rebuilds from that journal and says whose it is.
    rebuilt = CliRunner().invoke(cli, ["results", str(sheet)])
    assert rebuilt.stdout.splitlines()[0] == f"Account:   {account}"


def test_csv_results_keep_their_summary_with_the_account_beside_them(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"], ["bad", "B"]])
    result = run(sandbox, str(sheet), "--results", str(tmp_path / "out.csv"))
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    with (tmp_path / "out.summary.csv").open(encoding="utf-8-sig", newline="") as file:
        lines = list(csv.reader(file))
    assert ["Account", f"app sandbox-app at {host(sandbox)}: checked custom fields, options, "
            "tags and lists"] in lines  # fmt: skip
    assert ["Rows read", "2"] in lines and ["Invalid", "1"] in lines
    assert ["Rows by status"] in lines and ["", "created", "1"] in lines
    # The results rows stay the input's rows, one for one.
    assert len((tmp_path / "out.csv").read_text(encoding="utf-8-sig").splitlines()) == 3


def test_a_template_pinned_to_another_account_stops_before_any_call(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    template = tmp_path / "acme.toml"
    template.write_text('[template]\naccount = "acme"\n\n[fields]\nemail = "email"\n')
    # A host that never resolves (RFC 2606): stopped before any call, or no call can go.
    elsewhere = "https://kartra.invalid/api"
    for dry in ([], ["--dry-run"]):
        result = CliRunner().invoke(
            cli,
            ["run", str(sheet), "--template", str(template), "--api-url", elsewhere, *dry],
            env=ENV,
        )
        assert result.exit_code == 3, result.output
        assert result.stderr.splitlines()[-1] == (
            f"error: {template}: this template is for account 'acme', and the credentials "
            "given are app sandbox-app at kartra.invalid: nothing sent; run with "
            "--profile acme (or acme's credentials)"
        )
    # A sandbox on this machine is a rehearsal, not an account: the pinned template runs.
    rehearsal = CliRunner().invoke(
        cli, ["run", str(sheet), "--template", str(template), "--sandbox", "--verify", "0"]
    )
    assert rehearsal.exit_code == 0, rehearsal.output
    # Pinned to this App's id, it runs.
    template.write_text('[template]\naccount = "sandbox-app"\n\n[fields]\nemail = "email"\n')
    result = run(sandbox, str(sheet), "--template", str(template))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]


def test_a_person_at_a_terminal_confirms_account_and_rows_before_the_first_call(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bulk_loader.cli.run.on_terminal", lambda: True)
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"], ["bad", "B"]])
    said_no = run(sandbox, str(sheet), stdin="n\n")
    assert said_no.exit_code == 4, said_no.output  # type: ignore[attr-defined]
    assert sandbox.stats.by_cmd.get("create_lead", 0) == 0
    err = said_no.stderr  # type: ignore[attr-defined]
    assert f"Account:   app sandbox-app at {host(sandbox)}\n" in err
    assert f"Sheet:     {sheet}: 1 rows to send; 1 invalid rows left out\n" in err
    assert "Mode:      upsert\n" in err
    assert "Send 1 rows to this account? [y/N]: n\n" in err
    assert err.splitlines()[-1] == "error: nothing sent: the run was not confirmed"
    said_yes = run(sandbox, str(sheet), stdin="y\n")
    assert said_yes.exit_code == 1 and "Created:   1" in said_yes.stdout  # type: ignore[attr-defined]
    # --yes asks nothing.
    again = run(sandbox, str(write(tmp_path / "t.csv", [["bo@example.com", "Bo"]])), "--yes")
    assert again.exit_code == 0 and "[y/N]" not in again.stderr  # type: ignore[attr-defined]
