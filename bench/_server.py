"""Start `bulk-loader sandbox serve` in a subprocess pinned to one core (bench helper).

The server prints its control token at start; `control_headers(url)` gives the headers
a /_control request to that server needs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"
_TOKENS: dict[str, str] = {}  # API URL of a running standing sandbox -> its control token


@contextmanager
def standing_sandbox(core: int = 0, *extra: str) -> Iterator[tuple[str, int]]:
    """Yield (API URL, pid) of a sandbox with its limits off, pinned to `core`."""
    command = [sys.executable, "-m", "bulk_loader", "sandbox", "serve", "--account", str(SAMPLE),
               "--port", "0", "--rate", "0", *extra]  # fmt: skip
    pin = (lambda: os.sched_setaffinity(0, {core})) if hasattr(os, "sched_setaffinity") else None
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=pin
    )
    url = ""
    try:
        assert server.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+/api", server.stdout.readline())
        if not found:
            raise RuntimeError("the sandbox did not start")
        url = found.group()
        _TOKENS[url] = _read_token(server.stdout)
        yield url, server.pid
    finally:
        _TOKENS.pop(url, None)
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def control_headers(api_url: str) -> dict[str, str]:
    """Headers for a /_control request to the standing sandbox serving `api_url`."""
    return {"Content-Type": "application/json", "X-Sandbox-Token": _TOKENS[api_url]}


def _read_token(stdout: IO[str]) -> str:
    for _ in range(10):  # the start banner is a handful of lines
        found = re.search(r"control token \(this run only\): (\S+)", stdout.readline())
        if found:
            return found.group(1)
    raise RuntimeError("the sandbox printed no control token")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
