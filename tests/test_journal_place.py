"""Where the journal lives and what a run leaves beside the sheet (issue 13, items 6 and 9).

The sheet's folder shows the sheet, its results and its failed rows; the journal is in
the hidden, owner-only `.bulk-loader` folder beside them, and no lock file is left once
a run ends. `bulk-loader results` during a run shows that run's rows in flight as
`sending` and does not advise running again (the lock would refuse it).
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.journal import files
from bulk_loader.journal.files import find_journals, release_run_lock, run_holder, take_run_lock
from bulk_loader.kartra.client import CallResult, Credentials, KartraClient
from bulk_loader.outcomes import RowStatus
from bulk_loader.pipeline.importer import ImportOptions, run_import
from bulk_loader.results.summary import ImportSummary, rebuild_results
from bulk_loader.sandbox import RunningSandbox
from bulk_loader.sending.pacing import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes and flock as on POSIX")


def write(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([("email", "first_name"), *rows])
    return path


def run(client: KartraClient, sheet: Path, **more: Any) -> ImportSummary:
    options = ImportOptions(
        sheet=sheet, mode="create", rate=None, policy=RetryPolicy.instant(), **more
    )  # type: ignore[arg-type]
    return run_import(options, client)


def statuses(results: Path) -> list[str]:
    book = openpyxl.load_workbook(results, read_only=True)
    header, *rows = book["Results"].iter_rows(values_only=True)
    column = header.index("result_status")
    return [str(row[column]) for row in rows]


def messages(summary: ImportSummary) -> list[str]:
    book = openpyxl.load_workbook(summary.results or Path(), read_only=True)
    header, *rows = book["Results"].iter_rows(values_only=True)
    column = header.index("result_message")
    return [str(row[column]) for row in rows]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def cli_process(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command in another process (its own locks, as a second terminal has)."""
    return subprocess.run(
        [sys.executable, "-m", "bulk_loader", *args],
        cwd=folder,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- what a run leaves where --------------------------------------------------------------


@posix_only
def test_the_sheet_s_folder_shows_the_sheet_its_results_and_its_failed_rows(
    tmp_path: Path, client: KartraClient
) -> None:
    """Everything else is in `.bulk-loader` (700, its files 600), and no lock file stays."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"], ["bad", "B"]])
    summary = run(client, sheet)
    assert summary.failed is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".bulk-loader",
        "s.csv",
        "s.csv.results.xlsx",
        "s.failed.csv",
    ]
    hidden = tmp_path / ".bulk-loader"
    assert mode(hidden) == 0o700
    assert summary.journal.parent == hidden and summary.journal.exists()
    companions = {summary.journal.name + suffix for suffix in ("", "-wal", "-shm")}
    kept = list(hidden.iterdir())
    assert {p.name for p in kept} <= companions  # no lock file
    assert {mode(p) for p in kept} == {0o600}
    # Rebuilding the results reads the journal: no lock file, nothing beside the sheet.
    result = CliRunner().invoke(cli, ["results", str(sheet)])
    assert result.exit_code == 1, result.output
    kept = list(hidden.iterdir())
    assert {p.name for p in kept} <= companions and {mode(p) for p in kept} == {0o600}
    assert len(list(tmp_path.iterdir())) == 4


def test_a_run_with_every_row_done_leaves_no_failed_rows_file(
    tmp_path: Path, client: KartraClient
) -> None:
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    run(client, sheet)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".bulk-loader",
        "s.csv",
        "s.csv.results.xlsx",
    ]


def test_a_lock_file_left_by_a_killed_run_is_gone_after_the_next_run(
    tmp_path: Path, client: KartraClient
) -> None:
    """A killed run cannot remove its lock file; the next run takes it, then removes it."""
    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    summary = run(client, sheet)
    stale = Path(f"{summary.journal}.lock")
    stale.write_text("99999999")
    assert run_holder(summary.journal) is None  # nobody holds it: only a file is there
    run(client, sheet)
    assert not stale.exists()


# -- a journal where an earlier version kept it ------------------------------------------


def move_beside_the_sheet(journal: Path) -> Path:
    """Where versions before the hidden folder kept the journal (its WAL files along)."""
    earlier = journal.parent.parent / journal.name
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{journal}{suffix}").exists():
            Path(f"{journal}{suffix}").rename(f"{earlier}{suffix}")
    return earlier


def test_a_journal_beside_the_sheet_is_moved_in_and_the_run_resumes(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """After the upgrade the next run finds the earlier journal, moves it into the hidden
    folder and carries on: no row is sent twice, and none is left beside the sheet."""
    rows = [["a@example.com", "A"], ["b@example.com", "B"]]
    sheet = write(tmp_path / "s.csv", rows)
    journal = run(client, sheet).journal
    earlier = move_beside_the_sheet(journal)
    Path(f"{earlier}.lock").write_text("99999999")  # the earlier version left its lock file
    assert find_journals(sheet) == [earlier]
    creates = sandbox.stats.by_cmd["create_lead"]
    write(sheet, [*rows, ["c@example.com", "C"]])
    summary = run(client, sheet)
    assert sandbox.stats.by_cmd["create_lead"] == creates + 1  # only the new row
    assert summary.resumed == 2
    assert summary.journal == journal and find_journals(sheet) == [journal]
    assert statuses(summary.results or Path()) == ["created"] * 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".bulk-loader",
        "s.csv",
        "s.csv.results.xlsx",
    ]


def test_a_journal_beside_the_sheet_held_by_a_run_of_the_earlier_version_is_left_alone(
    tmp_path: Path, client: KartraClient
) -> None:
    """Its run still holds it: the new run is refused, naming it, and nothing moves."""
    from bulk_loader.errors import ConfigError

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"]])
    earlier = move_beside_the_sheet(run(client, sheet).journal)
    held = take_run_lock(earlier)  # `<journal>.lock` beside it, as that version takes it
    try:
        with pytest.raises(ConfigError, match=r"another bulk-loader run \(pid \d+\)"):
            run(client, sheet)
    finally:
        release_run_lock(earlier, held)
    assert find_journals(sheet) == [earlier]
    assert not list((tmp_path / ".bulk-loader").iterdir())


def test_results_and_forget_find_a_journal_in_either_place(
    tmp_path: Path, client: KartraClient
) -> None:
    """Before the next run moves it, `results` reads the earlier journal, `forget` deletes it;
    forgetting the last journal of the hidden folder removes the folder too."""
    old = write(tmp_path / "old.csv", [["a@example.com", "A"]])
    new = write(tmp_path / "new.csv", [["b@example.com", "B"]])
    earlier = move_beside_the_sheet(run(client, old).journal)
    journal = run(client, new).journal
    assert statuses(rebuild_results(old).results or Path()) == ["created"]
    assert statuses(rebuild_results(new).results or Path()) == ["created"]
    result = CliRunner().invoke(cli, ["forget", str(old), str(new), "--yes"])
    assert result.exit_code == 0 and "forgot 2 journals" in result.output, result.output
    assert not earlier.exists() and not journal.exists()
    assert not (tmp_path / ".bulk-loader").exists()
    assert not [p for p in tmp_path.iterdir() if ".journal.sqlite" in p.name]


def test_forget_older_than_finds_journals_in_the_hidden_folders(
    tmp_path: Path, client: KartraClient
) -> None:
    (tmp_path / "sub").mkdir()
    sheet = write(tmp_path / "sub" / "s.csv", [["a@example.com", "A"]])
    journal = run(client, sheet).journal
    past = journal.stat().st_mtime - 40 * 86400
    os.utime(journal, (past, past))
    result = CliRunner().invoke(cli, ["forget", "--older-than", "30", str(tmp_path), "--yes"])
    assert result.exit_code == 0 and str(journal) in result.output, result.output
    assert not find_journals(sheet)


# -- the lock: one run at a time, and no file left ----------------------------------------


def test_the_lock_file_is_there_while_held_and_gone_once_let_go(tmp_path: Path) -> None:
    journal = tmp_path / ".bulk-loader" / "s.csv.0123456789.journal.sqlite"
    lock = take_run_lock(journal)  # makes the hidden folder
    try:
        assert Path(f"{journal}.lock").read_text() == str(os.getpid())
        assert run_holder(journal) == str(os.getpid())
    finally:
        release_run_lock(journal, lock)
    assert not Path(f"{journal}.lock").exists()
    assert run_holder(journal) is None
    assert not Path(f"{journal}.lock").exists()  # asking made no file


@posix_only
def test_a_lock_taken_on_a_file_its_holder_removed_does_not_count(tmp_path: Path) -> None:
    """A run that opened the lock file just before its holder let go and removed it gets
    the lock on a file no longer there: it must see so, and lock the path's file."""
    journal = tmp_path / "j.sqlite"
    first = take_run_lock(journal)
    early = os.open(f"{journal}.lock", os.O_RDWR)  # opened while `first` holds it
    try:
        release_run_lock(journal, first)
        assert files._try_lock(early)  # the lock of a removed file: anyone may have it
        assert not files._names(Path(f"{journal}.lock"), early)  # ...and it is seen
        second = take_run_lock(journal)  # a new file, really locked
        try:
            assert run_holder(journal) == str(os.getpid())
        finally:
            release_run_lock(journal, second)
    finally:
        os.close(early)


HOLDER = """
import sys
from pathlib import Path
from bulk_loader.journal.files import release_run_lock, take_run_lock
journal = Path(sys.argv[1])
fd = take_run_lock(journal)
print("held", flush=True)
sys.stdin.readline()
release_run_lock(journal, fd)
"""


@posix_only
def test_another_process_s_lock_is_seen_without_being_disturbed(tmp_path: Path) -> None:
    """Asking whether a run holds the journal (and opening and closing the lock file in
    this process meanwhile) leaves the other process's lock whole; once it lets go, the
    file is gone and the lock free."""
    journal = tmp_path / ".bulk-loader" / "s.csv.0123456789.journal.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(journal)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        for _ in range(3):
            assert run_holder(journal) == str(holder.pid)
            os.close(os.open(f"{journal}.lock", os.O_RDONLY))
        from bulk_loader.errors import ConfigError

        with pytest.raises(ConfigError, match=rf"another bulk-loader run \(pid {holder.pid}\)"):
            take_run_lock(journal)
        assert run_holder(journal) == str(holder.pid)
    finally:
        holder.communicate("\n", timeout=60)
    assert holder.returncode == 0
    assert not Path(f"{journal}.lock").exists()
    assert run_holder(journal) is None
    release_run_lock(journal, take_run_lock(journal))


# -- `bulk-loader results` while a run is sending ----------------------------------------


class HeldClient(KartraClient):
    """A client whose create_lead calls wait at a gate: rows stay in flight until opened."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def create_lead(
        self, lead: Mapping[str, Any], then: Sequence[Mapping[str, Any]] = ()
    ) -> CallResult:
        self.entered.release()
        assert self.gate.wait(120), "the test never opened the gate"
        return super().create_lead(lead, then)


def test_results_during_a_run_show_its_rows_in_flight_as_sending(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """The journal says `sending` and a run holds it: `sending`, in the workbook and the
    summary, no failed-rows file (the run is about to send those rows), and no advice to
    run again (the run's lock would refuse it). Once it ends: every row created, once."""
    sheet = write(tmp_path / "s.csv", [[f"p{n}@example.com", f"P{n}"] for n in range(12)])
    done: list[ImportSummary] = []
    with HeldClient(CREDENTIALS, api_url=sandbox.url, timeout=5) as held:
        going = threading.Thread(target=lambda: done.append(run(held, sheet, workers=2)))
        going.start()
        try:
            for _ in range(2):  # both workers' calls are out, their rows `sending`
                assert held.entered.acquire(timeout=120), "the run never sent a row"
            rebuilt = rebuild_results(sheet)  # in this process: the run is a thread
            assert rebuilt.run_in_progress and rebuilt.run_pid == str(os.getpid())
            assert rebuilt.statuses[RowStatus.SENDING] >= 2
            assert set(rebuilt.statuses) == {RowStatus.SENDING, RowStatus.NOT_SENT}
            assert rebuilt.failed is None and not (tmp_path / "s.failed.csv").exists()
            assert "sending" in statuses(rebuilt.results or Path())
            # Not an earlier run's words ("the run was stopped"): the run is going.
            said = dict(zip(statuses(rebuilt.results or Path()), messages(rebuilt), strict=True))
            assert said["sending"] == "in flight: the run going now is sending it"
            assert said["not_sent"] == "not sent yet: the run going now has not reached it"
            shown = cli_process(tmp_path, "results", "s.csv")  # another terminal
            assert shown.returncode == 75, shown.stderr  # EX_TEMPFAIL: ask again later
            assert f"a run is sending this sheet now (pid {os.getpid()})" in shown.stdout
            sending = rebuilt.statuses[RowStatus.SENDING]
            assert f"{sending} rows in flight show as sending" in shown.stdout
            assert "run `bulk-loader results` again when it ends" in shown.stdout
            assert f"Sending:   {sending}\n" in shown.stdout  # the counts add up
            book = openpyxl.load_workbook(tmp_path / "s.csv.results.xlsx", read_only=True)
            lines = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True)}
            assert str(lines["Failed rows"]).startswith(
                f"none yet: a run is sending this sheet now (pid {os.getpid()})"
            )
            assert "run the same command again" not in shown.stdout
            assert "To fix or retry" not in shown.stdout
            assert "unknown" not in shown.stdout.lower()
        finally:
            held.gate.set()
            going.join(120)
    assert not going.is_alive() and done and done[0].exit_code == 0
    assert sandbox.stats.by_cmd["create_lead"] == 12
    after = cli_process(tmp_path, "results", "s.csv")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "a run is sending" not in after.stdout and "Created:   12" in after.stdout
    assert not [p for p in (tmp_path / ".bulk-loader").iterdir() if p.name.endswith(".lock")]


def test_a_row_a_stopped_run_left_in_flight_is_unknown(
    tmp_path: Path, client: KartraClient
) -> None:
    """No run holds the journal (a killed one left its lock file): the row left `sending`
    is `unknown`, and the next run is the advice, since it settles it first."""
    import sqlite3

    sheet = write(tmp_path / "s.csv", [["a@example.com", "A"], ["b@example.com", "B"]])
    journal = run(client, sheet).journal
    db = sqlite3.connect(journal)
    with db:
        db.execute("UPDATE leads SET state = 'sending', final = 0 WHERE lead_key LIKE 'b%'")
    db.close()
    Path(f"{journal}.lock").write_text("99999999")
    rebuilt = rebuild_results(sheet)
    assert not rebuilt.run_in_progress
    assert statuses(rebuilt.results or Path()) == ["created", "unknown"]
    assert rebuilt.failed is not None and rebuilt.failed.exists()
    result = CliRunner().invoke(cli, ["results", str(sheet)])
    assert "1 rows are unknown" in result.output and "run the same command again" in result.output
    assert "a run is sending" not in result.output


def test_a_copied_folder_keeps_its_hidden_journal(
    tmp_path: Path, client: KartraClient, sandbox: RunningSandbox
) -> None:
    """The hidden folder travels with the sheet's folder (copied whole): nothing sent again."""
    (tmp_path / "a").mkdir()
    sheet = write(tmp_path / "a" / "s.csv", [["a@example.com", "A"]])
    run(client, sheet)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    creates = sandbox.stats.by_cmd["create_lead"]
    again = run(client, tmp_path / "b" / "s.csv")
    assert sandbox.stats.by_cmd["create_lead"] == creates and again.resumed == 1
