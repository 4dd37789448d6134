"""Where ops teams work (issue 15), simulated on Linux: no fcntl (as on Windows), a
console that cannot show every character, paths with spaces and accents, a disk that
fills up mid-run. Each ends in the usual summary, exit code and resume line."""

from __future__ import annotations

import csv
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.journal.store import Journal
from bulk_loader.sandbox import RunningSandbox, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = ROOT / "samples" / "account.toml"
CREDENTIALS = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
               "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip
NAMES = [("wang.wei@example.com", "王", "伟"), ("ali.hassan@example.com", "علي", "حسن"),
         ("joy@example.com", "😀 Joy", "Smile")]  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(ACCOUNT, rate=None) as running:
        yield running


def write(path: Path, rows: list[tuple[str, ...]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([("email", "first_name", "last_name"), *rows])
    return path


def cli_process(*args: str, env: dict[str, str], cwd: Path, no_fcntl: bool = False) -> Any:
    """The real command in a child process (its own streams and modules)."""
    prelude = "import sys; sys.modules['fcntl'] = None; " if no_fcntl else ""
    code = prelude + "from bulk_loader.cli.app import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **CREDENTIALS, **env},
        cwd=cwd,
        capture_output=True,
        timeout=240,
    )


def test_every_module_imports_without_fcntl() -> None:
    """No POSIX-only module is imported when the package is: as on Windows."""
    code = (
        "import sys, pkgutil, importlib; sys.modules['fcntl'] = None\n"
        "import bulk_loader\n"
        "for info in pkgutil.walk_packages(bulk_loader.__path__, 'bulk_loader.'):\n"
        "    if not info.name.endswith('__main__'):  # that one runs the command\n"
        "        importlib.import_module(info.name)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr


def test_a_real_import_and_its_resume_run_without_fcntl(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """The journal's lock works without fcntl: the import, then the same command again
    (nothing sent twice)."""
    sheet = write(tmp_path / "leads.csv", NAMES)
    args = ("run", "leads.csv", "--api-url", sandbox.url, "--rate", "0", "--no-memory")
    first = cli_process(*args, env={}, cwd=tmp_path, no_fcntl=True)
    assert first.returncode == 0, first.stderr.decode()
    again = cli_process(*args, env={}, cwd=tmp_path, no_fcntl=True)
    assert again.returncode == 0, again.stderr.decode()
    assert b"Resumed:   3 rows done by an earlier run" in again.stdout
    assert sandbox.stats.by_cmd["create_lead"] == 3 and sheet.exists()


@pytest.mark.parametrize("command", [("--dry-run",), ("--rate", "0", "--no-memory")])
def test_a_cp1252_console_shows_what_it_can_and_never_crashes(
    tmp_path: Path, sandbox: RunningSandbox, command: tuple[str, ...]
) -> None:
    """Chinese, Arabic and emoji in the cells (and in the problems shown) on a console
    that has none of them: '?' on the terminal, the usual summary and exit code, and the
    results files keep every character."""
    rows = [*NAMES, ("王@example", "王", "伟")]  # one invalid row: its problem shows the cell
    write(tmp_path / "leads.csv", rows)
    env = {"PYTHONIOENCODING": "cp1252"}
    done = cli_process("run", "leads.csv", "--api-url", sandbox.url, *command, env=env,
                       cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr.decode()
    assert b"Traceback" not in done.stderr and b"internal error" not in done.stderr
    assert b"e.g. row 5: email: '?@example' is not a valid email address" in done.stdout
    import openpyxl

    book = openpyxl.load_workbook(tmp_path / "leads.csv.results.xlsx", read_only=True)
    cells = {value for row in book["Results"].iter_rows(values_only=True) for value in row}
    assert {"王", "علي", "😀 Joy"} <= cells


def test_a_folder_with_spaces_and_accents_resumes(tmp_path: Path, sandbox: RunningSandbox) -> None:
    folder = tmp_path / "Équipe ventes" / "Q4 leads (final)"
    sheet = write(folder / "contacts été.csv", NAMES)
    args = ["run", str(sheet), "--api-url", sandbox.url, "--rate", "0", "--no-memory"]
    env = {**CREDENTIALS}
    assert CliRunner().invoke(cli, args, env=env).exit_code == 0
    again = CliRunner().invoke(cli, args, env=env)
    assert again.exit_code == 0 and "Resumed:   3 rows done by an earlier run" in again.stdout
    assert f"(kept until `bulk-loader forget '{sheet}'` deletes it)" in again.stdout
    assert sandbox.stats.by_cmd["create_lead"] == 3


def test_a_disk_that_fills_mid_run_is_exit_3_and_the_resume_creates_each_lead_once(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's disk fills after 10 outcomes: one line naming the journal and the
    cause, the resume command, exit 3; the same command then settles the rest, every
    lead created exactly once."""
    rows = [(f"lead{n}@example.com", f"Lead{n}", "Test") for n in range(40)]
    sheet = write(tmp_path / "leads.csv", rows)
    record = Journal.record
    written = {"n": 0}

    def fills_up(self: Journal, key: str, outcome: Any) -> None:
        written["n"] += 1
        if written["n"] > 10:
            raise sqlite3.OperationalError("database or disk is full")
        record(self, key, outcome)

    monkeypatch.setattr(Journal, "record", fills_up)
    monkeypatch.setattr(sys, "argv", ["bulk-loader", "run", str(sheet), "--api-url", sandbox.url,
                                      "--rate", "0", "--no-memory"])  # fmt: skip
    args = sys.argv[1:]
    full = CliRunner().invoke(cli, args, env=CREDENTIALS)
    assert full.exit_code == 3, full.output
    lines = full.stderr.splitlines()
    assert lines[-2].startswith("error: ") and lines[-2].endswith(
        ".journal.sqlite: the disk is full; the run stopped, and what it sent is kept in the "
        "journal: free the space (or fix the folder), then run the same command again"
    )
    assert (
        lines[-1]
        == f"to resume: bulk-loader run {sheet} --api-url {sandbox.url} --rate 0 --no-memory"
    )
    assert "internal error" not in full.stderr
    assert (tmp_path / "leads.csv.results.xlsx").exists()  # what was recorded, where possible
    monkeypatch.setattr(Journal, "record", record)  # space freed
    resumed = CliRunner().invoke(cli, args, env=CREDENTIALS)
    assert resumed.exit_code == 0, resumed.output
    assert "Created:   40\n" in resumed.stdout
    assert sandbox.stats.by_cmd["create_lead"] == 40  # each lead once, none twice
    assert all(sandbox.state.find(email=email) is not None for email, *_ in rows)


# -- where the journal lives ----------------------------------------------------------------


def run_cli(sandbox: RunningSandbox, sheet: Path, *more: str) -> Any:
    args = ["run", str(sheet), "--api-url", sandbox.url, "--rate", "0", "--no-memory", *more]
    return CliRunner().invoke(cli, args, env=CREDENTIALS)


@pytest.mark.parametrize("synced", ["OneDrive - Contoso", "Dropbox", "Google Drive"])
def test_a_synced_folder_keeps_its_journal_in_the_user_s_data_folder(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, synced: str
) -> None:
    """Nothing but the sheet's own files in the synced folder; the journal in the data
    folder; the run resumes, and `results` finds it."""
    monkeypatch.setenv("BULK_LOADER_DATA", str(tmp_path / "data"))
    sheet = write(tmp_path / synced / "Imports" / "leads.csv", NAMES)
    first = run_cli(sandbox, sheet)
    assert first.exit_code == 0, first.output
    assert str(tmp_path / "data" / "journals") in first.stdout  # the Journal: line
    assert not (sheet.parent / ".bulk-loader").exists()
    again = run_cli(sandbox, sheet)
    assert "Resumed:   3 rows done by an earlier run" in again.stdout
    rebuilt = CliRunner().invoke(cli, ["results", str(sheet)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert sandbox.stats.by_cmd["create_lead"] == 3


def test_journal_dir_keeps_two_sheets_of_one_name_apart_and_follows_a_moved_one(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Two folders' leads.csv, one --journal-dir: two journals, neither resumes the
    other; a folder renamed (its sheet gone from the old place) still resumes."""
    journals = tmp_path / "journals"
    east = write(tmp_path / "east" / "leads.csv", NAMES[:2])
    west = write(tmp_path / "west" / "leads.csv", [("zoe@example.com", "Zoe", "West")])
    assert run_cli(sandbox, east, "--journal-dir", str(journals)).exit_code == 0
    other = run_cli(sandbox, west, "--journal-dir", str(journals))
    assert other.exit_code == 0 and "Resumed" not in other.stdout
    kept = journals / ".bulk-loader"  # DIR's own private folder: DIR itself left as it is
    assert len(list(kept.glob("leads.csv.*.journal.sqlite"))) == 2
    assert not [p for p in kept.iterdir() if p.name.endswith(("-wal", "-shm", ".lock"))]
    assert not (east.parent / ".bulk-loader").exists()
    moved = tmp_path / "east-2026"
    (tmp_path / "east").rename(moved)
    again = run_cli(sandbox, moved / "leads.csv", "--journal-dir", str(journals))
    assert "Resumed:   2 rows done by an earlier run" in again.stdout
    forgotten = CliRunner().invoke(
        cli, ["forget", str(west), "--journal-dir", str(journals), "--yes"]
    )
    assert forgotten.exit_code == 0, forgotten.output
    assert len(list(kept.glob("leads.csv.*.journal.sqlite"))) == 1
    assert sandbox.stats.by_cmd["create_lead"] == 3


def test_a_sheet_of_the_same_name_keeps_its_own_journal_when_the_other_folder_goes(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """November's and December's moves.csv, one journal folder: November's folder
    deleted, December still resumes its own journal, not November's."""
    journals = tmp_path / "journals"
    nov = write(tmp_path / "2026-11" / "leads.csv", NAMES[:2])
    dec = write(tmp_path / "2026-12" / "leads.csv", [("zoe@example.com", "Zoe", "Dec")])
    for sheet in (nov, dec):
        assert run_cli(sandbox, sheet, "--journal-dir", str(journals)).exit_code == 0
    import shutil

    shutil.rmtree(nov.parent)
    again = run_cli(sandbox, dec, "--journal-dir", str(journals))
    assert "Resumed:   1 rows done by an earlier run" in again.stdout
    assert sandbox.stats.by_cmd["create_lead"] == 3


def test_a_shared_journal_dir_keeps_its_own_mode(tmp_path: Path, sandbox: RunningSandbox) -> None:
    shared = tmp_path / "team"
    shared.mkdir(mode=0o775)
    shared.chmod(0o775)
    sheet = write(tmp_path / "leads.csv", NAMES)
    assert run_cli(sandbox, sheet, "--journal-dir", str(shared)).exit_code == 0
    assert (shared.stat().st_mode & 0o777) == 0o775
    assert ((shared / ".bulk-loader").stat().st_mode & 0o777) == 0o700


def test_an_upgrade_moves_a_synced_folder_s_journal_to_the_data_folder(
    tmp_path: Path, sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal an earlier version kept beside a sheet in OneDrive is moved, not lost:
    the same command resumes."""
    from bulk_loader.journal.files import JOURNAL_FOLDER

    monkeypatch.setenv("BULK_LOADER_DATA", str(tmp_path / "data"))
    sheet = write(tmp_path / "OneDrive - Contoso" / "leads.csv", NAMES)
    beside = tmp_path / "elsewhere" / "leads.csv"  # a run made its journal beside a sheet
    write(beside, NAMES)
    assert run_cli(sandbox, beside).exit_code == 0
    (sheet.parent / JOURNAL_FOLDER).mkdir()
    for old in (beside.parent / JOURNAL_FOLDER).glob("leads.csv.*.journal.sqlite"):
        old.rename(sheet.parent / JOURNAL_FOLDER / old.name)
    again = run_cli(sandbox, sheet)
    assert "Resumed:   3 rows done by an earlier run" in again.stdout, again.output
    assert not list((sheet.parent / JOURNAL_FOLDER).glob("*.journal.sqlite"))
    assert sandbox.stats.by_cmd["create_lead"] == 3


def test_without_fcntl_a_run_holding_the_lock_is_seen(tmp_path: Path) -> None:
    """os.lockf, the fallback, locks only files open for writing: the probe too."""
    journal = tmp_path / ".bulk-loader" / "s.csv.0123456789.journal.sqlite"
    journal.parent.mkdir()
    code = (
        "import sys; sys.modules['fcntl'] = None\n"
        "from pathlib import Path\n"
        "from bulk_loader.journal.files import take_run_lock\n"
        f"take_run_lock(Path({str(journal)!r})); print('held', flush=True); sys.stdin.readline()\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        probe = (
            "import sys; sys.modules['fcntl'] = None\n"
            "from pathlib import Path\n"
            "from bulk_loader.journal.files import run_holder\n"
            f"print(run_holder(Path({str(journal)!r})))\n"
        )
        seen = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=60)  # fmt: skip
        assert seen.stdout.strip() == str(holder.pid), seen.stderr
    finally:
        holder.communicate("\n", timeout=60)
