"""Start `bulk-loader sandbox serve` in a subprocess pinned to one core (bench helper)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SAMPLE = Path(__file__).parent.parent / "samples" / "account.toml"


@contextmanager
def standing_sandbox(core: int = 0, *extra: str) -> Iterator[tuple[str, int]]:
    """Yield (API URL, pid) of a sandbox with its limits off, pinned to `core`."""
    command = [sys.executable, "-m", "bulk_loader", "sandbox", "serve", "--account", str(SAMPLE),
               "--port", "0", "--rate", "0", *extra]  # fmt: skip
    pin = (lambda: os.sched_setaffinity(0, {core})) if hasattr(os, "sched_setaffinity") else None
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, preexec_fn=pin
    )
    try:
        assert server.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+/api", server.stdout.readline())
        if not found:
            raise RuntimeError("the sandbox did not start")
        yield found.group(), server.pid
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
