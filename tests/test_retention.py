"""What the journal keeps, for how long, and how to forget it (issue 16)."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.journal.files import find_journals
from bulk_loader.kartra.client import Credentials, KartraClient
from bulk_loader.outcomes import Problem
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.results.summary import ImportSummary
from bulk_loader.sandbox import RunningSandbox
from bulk_loader.sending.pacing import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
HEADER = ("email", "first_name", "city", "tags")


def write(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([header, *rows])
    return path


def run(client: KartraClient, sheet: Path, **more: Any) -> ImportSummary:
    options = ImportOptions(
        sheet=sheet, mode="upsert", rate=None, policy=RetryPolicy.instant(), **more
    )  # type: ignore[arg-type]
    return run_import(options, client)


def journal_text(sheet: Path) -> str:
    """Every value the journal holds, as one string (the file is checkpointed first)."""
    (path,) = find_journals(sheet)
    db = sqlite3.connect(path)
    try:
        parts = [
            json.dumps(row)
            for table in ("rows", "leads")
            for row in db.execute(f"SELECT * FROM {table}")
        ]
    finally:
        db.close()
    return "\n".join(parts)


ROWS = [
    ["ann@example.com", "Annabel", "Trondheim", "VIP"],
    ["bo@example.com", "Bo", "Bergen", "VIP"],
]


def test_a_keys_only_run_keeps_no_other_cell_value_in_its_journal(
    tmp_path: Path, client: KartraClient
) -> None:
    """--results-columns keys: emails, digests and outcomes, never a name or a city."""
    sheet = write(tmp_path / "s.csv", ROWS)
    run(client, sheet, keys_only=True)
    kept = journal_text(sheet)
    assert "ann@example.com" in kept
    for value in ("Annabel", "Trondheim", "Bergen"):
        assert value not in kept


def test_a_keys_only_journal_still_resumes_and_resends_changed_rows(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """The values come back from the sheet: unchanged rows stay done, changed ones go."""
    sheet = write(tmp_path / "s.csv", ROWS)
    run(client, sheet, keys_only=True)
    calls = sandbox.stats.calls_total
    write(sheet, [ROWS[0], ["bo@example.com", "Bo", "Oslo", "VIP"]])
    run(client, sheet, keys_only=True)
    lead = sandbox.state.find(email="bo@example.com")
    assert lead is not None and lead.fields["city"] == "Oslo"
    assert sandbox.stats.by_cmd["edit_lead"] == 1 and sandbox.stats.calls_total - calls <= 6


def test_leads_removed_from_the_sheet_keep_only_their_key(
    tmp_path: Path, client: KartraClient
) -> None:
    """A row deleted from the sheet: its lead's values leave the journal at the next run."""
    sheet = write(tmp_path / "s.csv", ROWS)
    run(client, sheet)
    assert "Bergen" in journal_text(sheet)
    write(sheet, ROWS[:1])
    run(client, sheet)
    kept = journal_text(sheet)
    assert "Bergen" not in kept and "bo@example.com" in kept and "Trondheim" in kept


def test_keys_only_results_do_not_repeat_cell_values_in_messages(tmp_path: Path) -> None:
    """A bad time zone in a keys-only dry run: the message names no value but the key."""
    header = ("email", "lead_preferred_time_zone")
    sheet = write(tmp_path / "s.csv", [["ann@example.com", "Mars/Olympus"]], header=header)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(
        cli, ["run", str(sheet), "--dry-run", "--results-columns", "keys", "--results", str(out)]
    )
    assert result.exit_code == 1, result.output
    text = out.read_text()
    assert "unknown_time_zone" in text and "ann@example.com" in text
    assert "Mars" not in text


def test_without_value_takes_every_quoted_form_out() -> None:
    """'premium', "premium" and the value itself leave the message; the code stays."""
    from bulk_loader.outcomes import without_value

    problem = Problem(3, "plan", " premium ", "unknown_option", "'premium' is not an option")
    assert without_value(problem) == Problem(
        3, "plan", "", "unknown_option", "the value is not an option"
    )


def test_forget_deletes_a_sheet_s_journals(tmp_path: Path, client: KartraClient) -> None:
    """`bulk-loader forget SHEET --yes`: the journal and its companions are gone."""
    sheet = write(tmp_path / "s.csv", ROWS)
    run(client, sheet)
    (journal,) = find_journals(sheet)
    result = CliRunner().invoke(cli, ["forget", str(sheet), "--yes"])
    assert result.exit_code == 0 and "forgot 1 journal" in result.output
    assert not find_journals(sheet)
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(journal.name)]


def test_forget_asks_first_and_refuses_to_guess_without_a_terminal(
    tmp_path: Path, client: KartraClient
) -> None:
    """No terminal to ask on and no --yes: nothing is deleted, exit 2."""
    sheet = write(tmp_path / "s.csv", ROWS)
    run(client, sheet)
    result = CliRunner().invoke(cli, ["forget", str(sheet)])
    assert result.exit_code == 2 and "add --yes" in result.output
    assert find_journals(sheet)


def test_forget_older_than_purges_only_stale_journals(tmp_path: Path, client: KartraClient) -> None:
    """--older-than 30 FOLDER: a journal untouched for 40 days goes, a fresh one stays."""
    (tmp_path / "old").mkdir()
    old = write(tmp_path / "old" / "a.csv", ROWS[:1])
    fresh = write(tmp_path / "b.csv", ROWS[1:])
    run(client, old)
    run(client, fresh)
    (stale,) = find_journals(old)
    past = time.time() - 40 * 86400
    os.utime(stale, (past, past))
    result = CliRunner().invoke(cli, ["forget", "--older-than", "30", str(tmp_path), "--yes"])
    assert result.exit_code == 0, result.output
    assert not find_journals(old) and find_journals(fresh)


def test_a_journal_in_use_is_not_forgotten(tmp_path: Path, client: KartraClient) -> None:
    """A run holds the journal: forget stops with exit 3 and deletes nothing."""
    from bulk_loader.journal.store import Journal

    sheet = write(tmp_path / "s.csv", ROWS)
    run(client, sheet)
    (path,) = find_journals(sheet)
    held = Journal.open(path, {"sheet": sheet.name})
    try:
        result = CliRunner().invoke(cli, ["forget", str(sheet), "--yes"])
    finally:
        held.close()
    assert result.exit_code == 75 and "another bulk-loader run" in result.output  # later
    assert path.exists()


def test_each_item_of_a_list_cell_leaves_a_keys_only_message() -> None:
    """A checkbox 'red;purple' whose 'purple' is no option: the message names neither."""
    from bulk_loader.outcomes import without_value

    problem = Problem(25, "Colours", "red;purple", "unknown_option",
                      "'purple': not an option of color (red, blue, green)")  # fmt: skip
    assert "purple" not in without_value(problem).message


def test_results_rebuilt_from_a_keys_only_journal_stay_keys_only(
    tmp_path: Path, client: KartraClient
) -> None:
    """`bulk-loader results` without the flag: a keys-only run's results stay keys only."""
    sheet = write(tmp_path / "s.csv", ROWS)
    run(client, sheet, keys_only=True)
    result = CliRunner().invoke(cli, ["results", str(sheet), "--results", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    header = (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("result_status,") and "city" not in header
    assert header.endswith(",result_attempts,row,email")
    assert not (tmp_path / "s.failed.csv").exists()
