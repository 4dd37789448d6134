"""bulk_loader from Python: the README's example, and what the Loader promises."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import bulk_loader
from bulk_loader import Credentials, KartraClient, Loader, RowOutcome, RowStatus
from bulk_loader.sandbox import (
    RunningSandbox,
    SandboxState,
    load_account,
    serve_in_thread,
    transport,
)

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = ROOT / "samples" / "account.toml"
GOOD = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
FAST = bulk_loader.RetryPolicy.instant()


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with serve_in_thread(ACCOUNT, rate=None) as running:
        yield running


def sheet(tmp_path: Path, count: int, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    with path.open("w", newline="") as out:
        rows = [[f"lead{n}@example.com", f"Lead{n}", "VIP"] for n in range(count)]
        csv.writer(out).writerows([("email", "first_name", "tags"), *rows])
    return path


def test_the_readme_example_runs_and_prints_what_the_readme_shows(tmp_path: Path) -> None:
    section = readme_section("Use from Python")
    code = re.search(r"```python\n(.*?)```", section, re.S)
    shown = re.search(r"It prints:\n\n```\n(.*?)```", section, re.S)
    assert code is not None and shown is not None
    environment = {**os.environ, "BULK_LOADER_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown.group(1)


def test_check_hands_back_the_problems_as_data_and_sends_nothing(tmp_path: Path) -> None:
    path = sheet(tmp_path, 3)
    path.write_text(path.read_text() + "not-an-email,Bad,VIP\n")
    checked = Loader(path).check(results=tmp_path / "r.csv")
    assert (checked.report.rows_read, checked.report.rows_invalid, checked.valid) == (4, 1, False)
    [problem] = checked.problems
    assert (problem.row, problem.column, problem.code) == (5, "email", "invalid_email")
    assert checked.results_path == tmp_path / "r.csv" and checked.exit_code == 1
    # No journal; CSV results keep their Summary beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv", "r.csv", "r.summary.csv"]


def test_a_function_of_each_outcome_is_a_progress(tmp_path: Path, sandbox: RunningSandbox) -> None:
    seen: list[RowOutcome] = []
    with KartraClient(GOOD, api_url=sandbox.url) as client:
        summary = Loader(sheet(tmp_path, 5), mode="create").run(
            client, rate=None, progress=seen.append, memory=False, policy=FAST
        )
    assert sorted(o.row for o in seen) == [2, 3, 4, 5, 6]
    assert {o.status for o in seen} == {RowStatus.CREATED}
    assert summary.statuses[RowStatus.CREATED] == 5 and summary.exit_code == 0


def test_the_in_process_transport_serves_as_a_client(tmp_path: Path) -> None:
    """No socket: httpx.MockTransport around the sandbox's own request handler."""
    state = SandboxState(load_account(ACCOUNT))
    http = httpx.Client(transport=transport(state))
    with KartraClient(GOOD, api_url="http://127.0.0.1/api", http=http) as client:
        summary = Loader(sheet(tmp_path, 3), mode="create").run(
            client, rate=None, temporary_journal=True, policy=FAST
        )
    assert summary.statuses[RowStatus.CREATED] == 3


def test_a_set_stop_event_sends_nothing_and_the_next_run_carries_on(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    path = sheet(tmp_path, 4)
    loader = Loader(path, mode="create")
    stop = threading.Event()
    stop.set()
    with KartraClient(GOOD, api_url=sandbox.url) as client:
        first = loader.run(client, rate=None, stop=stop, memory=False, policy=FAST)
        assert first.interrupted and first.exit_code == 4
        assert first.statuses[RowStatus.NOT_SENT] == 4
        second = loader.run(client, rate=None, memory=False, policy=FAST)
    assert second.statuses[RowStatus.CREATED] == 4 and second.exit_code == 0
    assert len(sandbox.state.leads) == 4 + len(load_account(ACCOUNT).leads)


def test_a_run_installs_no_signal_handler(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """The caller's process keeps its own Ctrl-C and SIGTERM; only the CLI sets them."""
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    during: list[tuple[object, object]] = []

    def look(outcome: RowOutcome) -> None:
        during.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))

    with KartraClient(GOOD, api_url=sandbox.url) as client:
        Loader(sheet(tmp_path, 2), mode="create").run(
            client, rate=None, progress=look, memory=False, policy=FAST
        )
    assert during and set(during) == {before}
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_the_package_imports_cheaply_and_names_its_api() -> None:
    """`import bulk_loader` loads no pandas nor httpx: the command line starts fast."""
    code = (
        "import sys, bulk_loader\n"
        "heavy = [m for m in ('pandas', 'pandera', 'httpx', 'openpyxl') if m in sys.modules]\n"
        "print(heavy, bulk_loader.Loader.__module__, sorted(bulk_loader.__all__)[:3])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == (
        "[] bulk_loader.api ['BulkLoaderError', 'CallLog', 'CheckSummary']"
    ), done.stderr
