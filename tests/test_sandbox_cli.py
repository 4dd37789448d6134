"""`bulk-loader sandbox serve`: a standing sandbox the user can point a run at."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from bulk_loader.cli.app import cli
from bulk_loader.kartra.client import Credentials, KartraClient, Outcome

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"


def test_serve_answers_then_stops_on_sigterm(tmp_path: Path) -> None:
    """The server prints its URL and credentials, answers calls, and exits on SIGTERM."""
    command = [sys.executable, "-m", "bulk_loader", "sandbox", "serve", "--account", str(SAMPLE),
               "--port", "0", "--rate", "0", "--db", str(tmp_path / "s.sqlite")]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/api", first)
        assert url, first
        assert "KARTRA_APP_ID=sandbox-app" in server.stdout.readline()
        creds = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
        with KartraClient(creds, api_url=url.group()) as client:
            assert client.search_lead(email="maria.lopez@example.com").outcome is Outcome.OK
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_serve_prints_a_control_token_that_opens_control() -> None:
    """The start banner shows the control token and a curl line; that token is accepted."""
    command = [sys.executable, "-m", "bulk_loader", "sandbox", "serve", "--account", str(SAMPLE),
               "--port", "0", "--rate", "0"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = server.stdout
        assert out is not None
        lines: queue.Queue[str] = queue.Queue()  # read aside: a banner without it never ends
        threading.Thread(target=lambda: list(map(lines.put, out)), daemon=True).start()
        banner = ""
        while "curl" not in banner:
            banner += lines.get(timeout=10)
        token = re.search(r"control token \(this run only\): (\S+)", banner)
        curl = re.search(
            r"curl -H 'X-Sandbox-Token: (\S+)' (http://127\.0\.0\.1:\d+/_control)", banner
        )
        assert token and curl and curl.group(1) == token.group(1), banner
        headers = {"X-Sandbox-Token": token.group(1)}
        assert httpx.get(curl.group(2), headers=headers, timeout=10).status_code == 200
        assert httpx.get(curl.group(2), timeout=10).status_code == 403
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_missing_account_file_exits_3(tmp_path: Path) -> None:
    """An unreadable account file is a one-line error with exit code 3."""
    result = CliRunner().invoke(cli, ["sandbox", "serve", "--account", str(tmp_path / "no.toml")])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: ") and "no.toml" in result.stderr


def test_bad_faults_spec_is_a_usage_error() -> None:
    """An unknown fault name is a usage error (exit 2) naming the option."""
    args = ["sandbox", "serve", "--account", str(SAMPLE), "--faults", "explode=1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "--faults" in result.stderr


def test_clock_and_lead_details_options_reach_the_knobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """--clock, --clock-skew-s and --lead-details-json set the sandbox's knobs."""
    seen: dict[str, Any] = {}

    def serve(sandbox: Any, port: int, on_ready: Any) -> None:
        seen["knobs"] = sandbox.knobs

    monkeypatch.setattr("bulk_loader.sandbox.run_forever", serve)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's own SIGTERM
    args = ["sandbox", "serve", "--account", str(SAMPLE), "--clock", "America/New_York",
            "--clock-skew-s", "-2.5", "--lead-details-json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    knobs = seen["knobs"]
    assert (knobs.clock, knobs.clock_skew_s, knobs.lead_details_json) == (
        "America/New_York", -2.5, True)  # fmt: skip
    assert CliRunner().invoke(cli, [*args[:3], str(SAMPLE), "--clock", "PST"]).exit_code == 2
