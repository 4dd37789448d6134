"""The journal: what a re-run sends again, what it keeps, and who may read it."""

from __future__ import annotations

import csv
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from bulk_loader.cli import cli
from bulk_loader.importer import ImportOptions, run_import
from bulk_loader.journal import find_journals
from bulk_loader.kartra import Credentials, KartraClient
from bulk_loader.pacing import RetryPolicy
from bulk_loader.sandbox import RunningSandbox, serve_in_thread
from bulk_loader.summary import ImportSummary, rebuild_results

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[KartraClient]:
    with KartraClient(CREDENTIALS, api_url=sandbox.url, timeout=5) as kartra:
        yield kartra


def write(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([("email", "first_name"), *rows])
    return path


def run(client: KartraClient, sheet: Path, mode: str = "create", **more: Any) -> ImportSummary:
    options = ImportOptions(sheet=sheet, mode=mode, rate=None, policy=RetryPolicy.instant(), **more)  # type: ignore[arg-type]
    return run_import(options, client)


def outcomes(summary: ImportSummary) -> list[tuple[str, str]]:
    assert summary.results is not None
    book = openpyxl.load_workbook(summary.results, read_only=True)
    header, *rows = book["Results"].iter_rows(values_only=True)
    status = header.index("result_status")
    return [(row[0], row[status]) for row in rows]


def test_changed_row_is_sent_again_and_unchanged_rows_are_not(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Only the row whose content changed goes to Kartra on the re-run."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "Ann"], ["b@example.com", "Bob"]])
    run(client, sheet, "upsert")
    write(sheet, [["a@example.com", "Anna"], ["b@example.com", "Bob"]])
    before = sandbox.stats.calls_total
    again = run(client, sheet, "upsert")
    assert sandbox.stats.calls_total - before == 3 + 1  # look-ups, then one edit
    assert outcomes(again) == [("a@example.com", "updated"), ("b@example.com", "created")]
    lead = sandbox.state.find(email="a@example.com")
    assert lead is not None and lead.fields["first_name"] == "Anna"


def test_rows_are_known_by_their_lead_not_their_row_number(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Inserting and deleting rows between runs resends nothing; deleted rows leave."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"], ["b@example.com", "B"]])
    run(client, sheet)
    write(sheet, [["c@example.com", "C"], ["b@example.com", "B"]])
    again = run(client, sheet)
    assert sandbox.stats.by_cmd["create_lead"] == 3
    assert outcomes(again) == [("c@example.com", "created"), ("b@example.com", "created")]
    assert again.resumed == 1


def test_a_new_mode_sends_the_rows_again(tmp_path: Path, client: KartraClient) -> None:
    """A create that failed (lead exists) goes again as an upsert, in the same journal."""
    sheet = write(
        tmp_path / "s.csv", [["maria.lopez@example.com", "Maria"], ["n@example.com", "N"]]
    )
    assert [s for _, s in outcomes(run(client, sheet, "create"))] == ["failed", "created"]
    assert [s for _, s in outcomes(run(client, sheet, "upsert"))] == ["updated", "updated"]
    assert len(find_journals(sheet)) == 1


def test_a_fixed_template_keeps_what_earlier_runs_did(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Mapping one more column after a run: upsert edits the leads it wrote, in one call."""
    sheet = tmp_path / "s.csv"
    sheet.write_text("email,first_name,City\na@example.com,A,Oslo\n")
    first = tmp_path / "first.toml"
    first.write_text('[fields]\nemail = "email"\nfirst_name = "first_name"\n')
    second = tmp_path / "second.toml"
    second.write_text('[fields]\nemail = "email"\nfirst_name = "first_name"\ncity = "City"\n')
    run(client, sheet, "upsert", template_path=first)
    before = sandbox.stats.calls_total
    assert outcomes(run(client, sheet, "upsert", template_path=second)) == [
        ("a@example.com", "updated")
    ]
    assert sandbox.stats.calls_total - before == 3 + 1  # look-ups, then one edit
    lead = sandbox.state.find(email="a@example.com")
    assert lead is not None and lead.fields["city"] == "Oslo"


def test_create_mode_never_edits_a_lead_an_earlier_run_wrote(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """Switching to create after an upsert: existing leads fail with 244, none is edited."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet, "upsert")
    assert outcomes(run(client, sheet, "create")) == [("a@example.com", "failed")]
    assert sandbox.stats.by_cmd["edit_lead"] == 0


def test_restart_forgets_what_was_done(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """--restart sends every row again (here: creates that now fail as existing)."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet)
    again = run(client, sheet, restart=True)
    assert outcomes(again) == [("a@example.com", "failed")]
    assert sandbox.stats.by_cmd["create_lead"] == 2


def test_journal_and_its_companions_are_readable_by_the_owner_only(
    tmp_path: Path, client: KartraClient
) -> None:
    """The journal holds personal data: mode 600, its WAL files too."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    summary = run(client, sheet)
    files = [p for p in tmp_path.iterdir() if ".journal.sqlite" in p.name]
    assert summary.journal in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_results_are_rebuilt_from_the_journal(tmp_path: Path, client: KartraClient) -> None:
    """`bulk-loader results SHEET` rewrites the workbook from the journal alone (exit 1, as
    `run` would: one row is invalid)."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"], ["bad", "B"]])
    first = run(client, sheet)
    assert first.results is not None
    first.results.unlink()
    rebuilt = rebuild_results(sheet)
    assert outcomes(rebuilt) == [("a@example.com", "created"), ("bad", "invalid")]
    result = CliRunner().invoke(cli, ["results", str(sheet)])
    assert result.exit_code == 1
    assert "Created:   1\n" in result.stdout and "Invalid:   1\n" in result.stdout


def test_results_without_a_journal_is_one_clear_line(tmp_path: Path) -> None:
    """No run yet: say so and how to start one, exit 3."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    result = CliRunner().invoke(cli, ["results", str(sheet)])
    assert result.exit_code == 3
    assert result.stderr == (
        f"error: {sheet}: no journal beside it; `bulk-loader run {sheet}` keeps one there\n"
    )


def test_two_runs_never_share_a_journal(tmp_path: Path, client: KartraClient) -> None:
    """While one run holds the journal, a second one stops before sending, naming it."""
    from bulk_loader.errors import ConfigError
    from bulk_loader.journal import Journal, journal_path

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    identity = {"sheet": str(sheet.resolve()), "worksheet": "", **client.account_identity()}
    held = Journal.open(journal_path(sheet, identity), identity)
    try:
        with pytest.raises(ConfigError, match=r"another bulk-loader run \(pid \d+\)"):
            run(client, sheet)
    finally:
        held.close()
    assert outcomes(run(client, sheet)) == [("a@example.com", "created")]
