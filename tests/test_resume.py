"""Killed or interrupted at random moments, a re-run finishes the import exactly once.

The import runs as a subprocess (the real CLI) against a sandbox in this process, with
faults on: 3% of calls answered 5xx, 3% acted on and their answer lost.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import openpyxl
import pytest

from bulk_loader.sandbox import FaultPlan, RunningSandbox, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
ROWS = 1000
pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    faults = FaultPlan(error_5xx=0.03, lost=0.03, seed=11)
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=None, faults=faults) as running:
        yield running


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "tags", "lists"])
        for n in range(ROWS):
            writer.writerow([f"lead{n}@example.com", f"Lead{n}", "VIP", "Events"])
    return path


def start_import(
    sheet: Path, sandbox: RunningSandbox, stderr: IO[bytes] | int = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KARTRA_APP_ID": "sandbox-app",
        "KARTRA_API_KEY": "sandbox-key",
        "KARTRA_API_PASSWORD": "sandbox-password",
    }
    command = [sys.executable, "-m", "bulk_loader", "run", str(sheet), "--mode", "create",
               "--api-url", sandbox.url, "--rate", "600", "--workers", "4"]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr)


def wait_for_creates(process: subprocess.Popen[bytes], sandbox: RunningSandbox, calls: int) -> bool:
    """Wait (a minute at most) until the sandbox has seen `calls` creates; False if the
    import ended first."""
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if sandbox.stats.by_cmd["create_lead"] >= calls:
            return True
        time.sleep(0.005)
    return False


def stop_when_sent(
    process: subprocess.Popen[bytes], sandbox: RunningSandbox, calls: int, sig: int
) -> tuple[int, str]:
    """Send `sig` once the sandbox has seen `calls` creates; the exit code and stderr."""
    if wait_for_creates(process, sandbox, calls):
        process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    return process.returncode, err.decode()


def finish_import(sheet: Path, sandbox: RunningSandbox, expected_exit: int) -> None:
    """Run the same command again, to the end."""
    final = start_import(sheet, sandbox)
    _, err = final.communicate(timeout=120)
    assert final.returncode == expected_exit, err.decode()


def assert_imported_exactly_once(sheet: Path, sandbox: RunningSandbox) -> None:
    """Every row created once, reported created with the sandbox's id, nothing else."""
    book = openpyxl.load_workbook(sheet.with_name("leads.csv.results.xlsx"), read_only=True)
    rows = list(book["Results"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    results = [dict(zip(header, row, strict=True)) for row in body]
    assert len(results) == ROWS
    assert {r["result_status"] for r in results} == {"created"}
    created = [lead for lead in sandbox.state.leads.values() if lead.source == "api"]
    assert len(created) == ROWS
    for result in results:
        lead = sandbox.state.find(email=result["email"])
        assert lead is not None and result["result_lead_id"] == int(lead.id)
        assert lead.tags == ["VIP"] and lead.lists == {"Events": "1"}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_import_stopped_five_times_then_resumed_is_exactly_once(
    sheet: Path, sandbox: RunningSandbox, sig: int
) -> None:
    """Five stops at random points of the sending; each re-run carries on; then done."""
    moments = sorted(random.Random(sig).sample(range(20, ROWS - 50), 5))
    for moment in moments:
        code, _ = stop_when_sent(start_import(sheet, sandbox), sandbox, moment, sig)
        assert code == (-9 if sig == signal.SIGKILL else 4)
    finish_import(sheet, sandbox, expected_exit=0)
    assert_imported_exactly_once(sheet, sandbox)


def test_interrupted_run_prints_the_command_that_resumes(
    sheet: Path, sandbox: RunningSandbox
) -> None:
    """Ctrl-C: the results are written and the exact command to resume is printed."""
    code, err = stop_when_sent(start_import(sheet, sandbox), sandbox, 100, signal.SIGINT)
    assert code == 4
    resume = f"to resume: bulk-loader run {sheet} --mode create --api-url {sandbox.url} "
    assert resume + "--rate 600 --workers 4\n" in err
    assert sheet.with_name("leads.csv.results.xlsx").exists()


def test_one_signal_delivered_twice_is_still_a_graceful_stop(
    sheet: Path, sandbox: RunningSandbox
) -> None:
    """Two signals a few ms apart (a shell signalling the process group): results written."""
    process = start_import(sheet, sandbox)
    assert wait_for_creates(process, sandbox, 100)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 4
    assert "to resume: bulk-loader run" in err.decode()


def test_second_ctrl_c_stops_at_once_and_the_journal_still_resumes(
    sheet: Path, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Two Ctrl-C: no waiting for slow calls in flight; the next run settles them."""
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        process = start_import(sheet, sandbox, stderr)
        assert wait_for_creates(process, sandbox, 200)
        # The calls in flight now take ten minutes to answer: a run that waited for
        # them could not end within communicate's timeout below.
        sandbox.configure(latency_ms=600_000)
        calls = sandbox.stats.calls_total
        for _ in range(6000):  # until a call under that latency is in flight
            if sandbox.stats.calls_total > calls + 1 or process.poll() is not None:
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        for _ in range(6000):  # until the first Ctrl-C was handled (it says so)
            if b"stopping:" in log.read_bytes() or process.poll() is not None:
                break
            time.sleep(0.01)
        time.sleep(1.2)  # a repeat within a second of the first counts as the same Ctrl-C
        assert process.poll() is None, "still waiting for the slow calls after one Ctrl-C"
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 4 and "stopped at once" in log.read_text()
    sandbox.configure(latency_ms=0)
    finish_import(sheet, sandbox, expected_exit=0)
    assert_imported_exactly_once(sheet, sandbox)


def test_resumed_creates_never_claim_or_touch_leads_that_existed_before(
    sheet: Path, sandbox: RunningSandbox
) -> None:
    """A tenth of the sheet's leads joined Kartra years ago: after five kills and a resume,
    create mode reports those rows failed 244 and leaves their data alone."""
    for n in range(0, ROWS, 10):
        sandbox.state.execute(
            {
                "app_id": "sandbox-app",
                "api_key": "sandbox-key",
                "api_password": "sandbox-password",
                "lead": {"email": f"lead{n}@example.com", "first_name": "Original"},
                "actions": [{"cmd": "create_lead"}],
            }
        )
        old = sandbox.state.find(email=f"lead{n}@example.com")
        assert old is not None
        old.date_joined = "2020-01-02 03:04:05"
    for moment in sorted(random.Random(7).sample(range(20, ROWS - 150), 5)):
        code, _ = stop_when_sent(start_import(sheet, sandbox), sandbox, moment, signal.SIGKILL)
        assert code == -9
    finish_import(sheet, sandbox, expected_exit=1)
    book = openpyxl.load_workbook(sheet.with_name("leads.csv.results.xlsx"), read_only=True)
    header, *rows = book["Results"].iter_rows(values_only=True)
    for row in (dict(zip(header, values, strict=True)) for values in rows):
        lead = sandbox.state.find(email=row["email"])
        assert lead is not None
        if int(row["email"][4:].split("@")[0]) % 10 == 0:
            assert (row["result_status"], row["result_error_type"]) == ("failed", "244")
            assert lead.fields["first_name"] == "Original" and lead.tags == []
        else:
            assert (row["result_status"], row["result_lead_id"]) == ("created", int(lead.id))
