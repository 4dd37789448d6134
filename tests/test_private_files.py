"""What a run leaves behind: no temporary file, no secret in a child, no core dump.

Each test runs the real CLI in a subprocess with its own empty temporary folder
(TMPDIR), stops it or lets it finish, and looks at what is left there.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulk_loader.results import background as results

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="signals and TMPDIR as on POSIX"),
]
SECRETS = {
    "KARTRA_APP_ID": "sandbox-app",
    "KARTRA_API_KEY": "SENTINEL-KEY-9f3e",
    "KARTRA_API_PASSWORD": "SENTINEL-PASSWORD-0c71",
}


def big_sheet(folder: Path, rows: int) -> Path:
    path = folder / "leads.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "city", "tags"])
        for n in range(rows):
            writer.writerow([f"p{n}@example.com", f"First{n}", f"Last{n}", "Oslo", "VIP"])
    return path


@pytest.fixture(scope="module", autouse=True)
def kartra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Kartra these runs reach (a dry run with credentials checks the account): a
    sandbox whose account holds SECRETS, so they travel every path a real run's do."""
    from bulk_loader.sandbox import serve_in_thread

    text = (ROOT / "samples" / "account.toml").read_text()
    text = text.replace('api_key = "sandbox-key"', f'api_key = "{SECRETS["KARTRA_API_KEY"]}"')
    text = text.replace(
        'api_password = "sandbox-password"', f'api_password = "{SECRETS["KARTRA_API_PASSWORD"]}"'
    )
    account = tmp_path_factory.mktemp("account") / "account.toml"
    account.write_text(text)
    with serve_in_thread(account, rate=None) as running:
        SANDBOX_URL.append(running.url)
        yield running.url
        SANDBOX_URL.clear()


SANDBOX_URL: list[str] = []


def start(
    folder: Path, temp: Path, *args: str, secrets: dict[str, str] = SECRETS
) -> subprocess.Popen[bytes]:
    env = {**os.environ, **secrets, "TMPDIR": str(temp), "KARTRA_API_URL": SANDBOX_URL[0]}
    command = [sys.executable, "-m", "bulk_loader", *args]
    return subprocess.Popen(
        command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def wait_for_spill(process: subprocess.Popen[bytes], temp: Path) -> None:
    """Until the run's private folder holds a file (rows spilled to disk), a minute at most."""
    for _ in range(6000):
        if process.poll() is not None or any(p.is_file() for p in temp.rglob("*")):
            break
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be stopped"
    assert any(p.is_file() for p in temp.rglob("*")), "no temporary file seen"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_a_dry_run_stopped_midway_leaves_no_temporary_file(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Stopped while the XLSX results spill rows to disk: the private folder is gone."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    sheet = big_sheet(tmp_path, 200_000)
    process = start(tmp_path, temp, "run", str(sheet), "--dry-run")
    wait_for_spill(process, temp)
    process.send_signal(sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 4, err.decode()
    assert list(temp.iterdir()) == []


def test_a_sandbox_run_stopped_midway_leaves_no_temporary_journal(tmp_path: Path) -> None:
    """--sandbox keeps its journal in the private folder: a Ctrl-C removes it too."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    sheet = big_sheet(tmp_path, 400)
    process = start(tmp_path, temp, "run", str(sheet), "--sandbox", "--mode", "create")
    wait_for_spill(process, temp)  # the journal (and the results' spill) are there
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=120)
    assert process.returncode == 4
    assert list(temp.iterdir()) == []


def test_a_finished_run_and_a_failed_one_leave_no_temporary_file(tmp_path: Path) -> None:
    """Normal ends and errors: nothing left in the temporary folder either."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    sheet = big_sheet(tmp_path, 50)
    done = start(tmp_path, temp, "run", str(sheet), "--dry-run")
    done.communicate(timeout=120)
    failed = start(tmp_path, temp, "run", str(sheet), "--template", "missing.toml")
    failed.communicate(timeout=120)
    assert (done.returncode, failed.returncode) == (0, 3)
    assert list(temp.iterdir()) == []


def test_the_folder_of_a_killed_run_is_removed_by_the_next_one(tmp_path: Path) -> None:
    """SIGKILL leaves the folder; the next run removes it (its process is gone)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, check=True, text=True)  # fmt: skip
    orphan = temp / f"bulk-loader-{gone.stdout.strip()}-abc123"
    orphan.mkdir()
    (orphan / "spill.tmp").write_text("rows of personal data")
    mine = temp / f"bulk-loader-{os.getpid()}-def456"  # a live process's folder stays
    mine.mkdir()
    done = start(tmp_path, temp, "run", str(big_sheet(tmp_path, 5)), "--dry-run")
    done.communicate(timeout=120)
    assert not orphan.exists() and mine.exists()


def test_a_module_planted_beside_the_sheet_never_runs(tmp_path: Path) -> None:
    """An `xlsxwriter.py` in the working folder: the XLSX writer's child ignores it."""
    marker = tmp_path / "stolen.txt"
    (tmp_path / "xlsxwriter.py").write_text(
        "import os, pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text(repr(dict(os.environ)))\n"
        "raise SystemExit('planted module ran')\n"
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    sheet = big_sheet(tmp_path, 5)
    process = start(tmp_path, temp, "run", str(sheet), "--dry-run")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert not marker.exists()
    assert (tmp_path / "leads.csv.results.xlsx").stat().st_size > 0


def test_a_child_process_gets_no_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's environment holds what Python needs, no KARTRA_* nor other variables."""
    for name, value in {**SECRETS, "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/bin"}.items():
        monkeypatch.setenv(name, value)
    env = results._child_environment()
    assert env["PATH"] == "/bin"
    assert not any(name.startswith("KARTRA_") for name in env)
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "-I" in results._child_command()


def test_the_cli_turns_core_dumps_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A core file of a crashed run would hold the password: RLIMIT_CORE is 0."""
    import resource

    from bulk_loader.cli import app as cli

    calls: list[tuple[int, tuple[int, int]]] = []
    codes: list[int | str | None] = []
    monkeypatch.setattr(resource, "setrlimit", lambda which, limits: calls.append((which, limits)))
    monkeypatch.setattr(cli, "_leave", codes.append)  # not os._exit inside pytest
    monkeypatch.setattr(sys, "argv", ["bulk-loader", "--version"])
    cli.main()
    assert calls == [(resource.RLIMIT_CORE, (0, 0))] and codes == [0]


def test_a_dry_run_named_relative_to_the_working_folder_writes_its_xlsx_results(
    tmp_path: Path,
) -> None:
    """`bulk-loader run leads.csv --dry-run` from the sheet's folder: results written there."""
    big_sheet(tmp_path, 5)
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = start(tmp_path, temp, "run", "leads.csv", "--dry-run")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    book = (tmp_path / "leads.csv.results.xlsx").read_bytes()
    assert book.startswith(b"PK") and len(book) > 1000


def test_reading_the_results_while_a_run_goes_on_leaves_the_run_whole(tmp_path: Path) -> None:
    """`bulk-loader results` beside a running import: the run finishes, every row created."""
    from bulk_loader.sandbox import serve_in_thread

    temp = tmp_path / "tmp"
    temp.mkdir()
    sheet = big_sheet(tmp_path, 80)
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=None) as sandbox:
        env_url = ("--api-url", sandbox.url, "--mode", "create", "--rate", "40")
        sandbox_secrets = {"KARTRA_APP_ID": "sandbox-app", "KARTRA_API_KEY": "sandbox-key",
                           "KARTRA_API_PASSWORD": "sandbox-password"}  # fmt: skip
        run = start(tmp_path, temp, "run", str(sheet), *env_url, secrets=sandbox_secrets)
        for _ in range(6000):  # until the run is sending (its journal has rows)
            if sandbox.stats.by_cmd["create_lead"] >= 10 or run.poll() is not None:
                break
            time.sleep(0.01)
        for _ in range(3):
            reader = start(tmp_path, temp, "results", str(sheet))
            reader.communicate(timeout=120)
        _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err.decode()
    assert sandbox.stats.by_cmd["create_lead"] == 80
