"""Runs no one watches (issue 17): exit codes a scheduler can act on, and a busy sheet
that can be waited for instead of failing."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.journal.files import journal_path
from bulk_loader.journal.store import Journal
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.pipeline.importer import ImportOptions, SilentProgress, run_import
from bulk_loader.sandbox import FaultPlan, RunningSandbox
from bulk_loader.sending.pacing import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
ENV = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
       "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([["email", "first_name"], *rows])
    return path


def test_rows_that_failed_for_passing_reasons_exit_75_and_the_next_run_sends_them(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Every call answered 503 (the server did not act): the valid rows are failed for a
    passing reason, an invalid one aside; exit 75 (EX_TEMPFAIL), not 1: a scheduler
    runs it again later, and that run sends them."""
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"], ["bad", "B"]])

    class ServerDownOnceSending(SilentProgress):
        def start(self, total: int) -> None:
            sandbox.configure(faults=FaultPlan(error_5xx=1.0, seed=1))

    policy = RetryPolicy(base_delay=0.0, max_delay=0.0, rate_limit_wait=0.0, transient_attempts=2)
    options = ImportOptions(sheet=sheet, mode="create", rate=None, policy=policy, verify=0)
    with KartraClient(GOOD, api_url=sandbox.url, timeout=5) as client:
        down = run_import(options, client, ServerDownOnceSending())
        assert down.exit_code == 75 and down.retried_later == 1
        # The cause is counted, not only 'Failed: 1' (a 503 has no Kartra type).
        assert down.errors == {"server_error": 1, "invalid_email": 1}
        sandbox.configure(faults=FaultPlan())
        up = run_import(options, client)
    assert up.statuses["created"] == 1 and up.exit_code == 1  # the invalid row is left


def test_a_busy_sheet_is_exit_75_or_waited_for(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """Another run holds the sheet's journal: exit 75 with one line naming --wait; with
    --wait, the run waits for it to let go, then imports."""
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    identity = {"sheet": "s.csv", "worksheet": "", **KartraClient(GOOD).account_identity()}
    identity["api_host"] = sandbox.url.split("//")[1].split("/")[0]
    held = Journal.open(journal_path(sheet, identity), identity)
    args = ["run", str(sheet), "--api-url", sandbox.url, "--rate", "0", "--no-memory"]
    try:
        busy = CliRunner().invoke(cli, args, env=ENV)
        assert busy.exit_code == 75, busy.output
        assert "(or run with --wait SECONDS)" in busy.stderr
        release = threading.Timer(0.5, held.close)
        release.start()
        waited = CliRunner().invoke(cli, [*args, "--wait", "120"], env=ENV)
        release.join()
    finally:
        held.close()
    assert waited.exit_code == 0, waited.output
    assert sandbox.stats.by_cmd["create_lead"] == 1


@pytest.mark.parametrize("results", ["s.results.xlsx", "s.results.csv"])
def test_a_results_file_is_never_taken_for_a_sheet(tmp_path: Path, results: str) -> None:
    """A `for f in drop/*.xlsx` loop meets the results of the last night's run: one
    line, exit 3, nothing read as leads (and no s.results.results.xlsx)."""
    sheet = write(tmp_path / "s.csv", [["ana@example.com", "Ana"]])
    made = CliRunner().invoke(
        cli, ["run", str(sheet), "--dry-run", "--results", str(tmp_path / results)]
    )
    assert made.exit_code == 0, made.output
    again = CliRunner().invoke(cli, ["run", str(tmp_path / results), "--dry-run"])
    assert again.exit_code == 3
    assert again.stderr == (
        f"error: {tmp_path / results}: this is a results file bulk-loader wrote (its first "
        "column is result_status), not a sheet to import: run the sheet it came from, or its "
        "failed-rows file\n"
    )
    summary = [results.replace(".csv", ".summary.csv")] if results.endswith(".csv") else []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.csv", results, *summary])
