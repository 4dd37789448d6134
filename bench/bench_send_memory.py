"""Peak memory of a real import, per phase, at two sheet sizes (issue 10, benchmark d).

    .venv/bin/python bench/bench_send_memory.py            # 20,000 and 200,000 rows (~15 min)
    .venv/bin/python bench/bench_send_memory.py --quick    # 2,000 and 20,000 rows
    .venv/bin/python bench/bench_send_memory.py --sizes 20000,200000 --workers 16

Goal: the send phase's peak RSS over 200,000 pending rows at most 1.2x that over
20,000, and under 250 MB.

What is measured, and how:
- The sandbox (samples/account.toml, no rate limit, no latency) runs in this process,
  `serve_in_thread`, pinned to core 0; each import runs in a fresh child process
  (this script with --child, pinned to core 1): `run_import` of a generated CSV of new
  leads, mode create, `rate=None`, 16 workers, credentials sandbox-app / sandbox-key /
  sandbox-password. The sandbox's own memory (every lead it stores) is not the child's.
- Per phase, in the child, from /proc/self/status (Linux): VmHWM, the peak resident
  set, is reset (`echo 5 > /proc/self/clear_refs`) when the send phase starts and when
  it ends, and read just before each reset and at the end. So "send" is the peak from
  the first to the last row sent (journal reads, the pool, the HTTP client), starting
  from whatever the scan left resident; "scan" is everything before it (start-up,
  preflight, reading and validating the sheet into the journal); "results" is writing
  the results workbook and failed-rows file. "whole run" is the largest of the three
  (getrusage's ru_maxrss cannot serve: on Linux the reset clears it too).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "account.toml"
CREDENTIALS = ("sandbox-app", "sandbox-key", "sandbox-password")
RUN_TIMEOUT = 3600  # seconds: no single import may hang the benchmark
GOAL_RATIO, GOAL_MB = 1.2, 250


def write_sheet(path: Path, rows: int) -> Path:
    """New leads only, with Kartra-named headers (no template needed)."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "tags", "lists"])
        writer.writerows(
            [f"m{rows}-{n}@bench.example.com", f"First{n}", f"Last{n}", "VIP;Customer", "Events"]
            for n in range(rows)
        )
    return path


# -- the child: one import, its peaks per phase ----------------------------------------


def peak_kb() -> int:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := the current RSS


def child(url: str, sheet: Path, workers: int) -> None:
    from bulk_loader import Credentials, KartraClient, Loader
    from bulk_loader.pipeline import importer  # its send phase, wrapped to measure it

    peaks: dict[str, int] = {}
    send = importer._send

    def measured_send(*args: Any, **kwargs: Any) -> None:
        peaks["scan"] = peak_kb()
        reset_peak()
        try:
            send(*args, **kwargs)
        finally:
            peaks["send"] = peak_kb()
            reset_peak()

    importer._send = measured_send
    with KartraClient(Credentials(*CREDENTIALS), api_url=url) as client:
        summary = Loader(sheet, mode="create").run(
            client,
            rate=None,
            workers=workers,
            results=sheet.with_suffix(".results.xlsx"),
            restart=True,
            memory=False,
        )
    peaks["results"] = peak_kb()
    print(
        json.dumps(
            {
                **peaks,
                "whole": max(peaks.values()),
                "created": summary.statuses.get("created", 0),
                "sent": summary.sent,
                "send_seconds": summary.send_seconds,
            }
        )
    )


# -- the parent: the sandbox, one child per size, the table -----------------------------


def measure(url: str, sheet: Path, workers: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", url, str(sheet), "--workers", str(workers)]
    pin = (lambda: os.sched_setaffinity(0, {1})) if _two_cores() else None
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, preexec_fn=pin, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{sheet.name}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _two_cores() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def print_table(sizes: list[int], runs: list[dict[str, Any]]) -> None:
    header = ("rows", "created", "rows/s", "scan MB", "send MB", "results MB", "whole run MB")
    lines = [
        (
            f"{size:,}",
            f"{run['created']:,}",
            f"{run['sent'] / max(run['send_seconds'], 1e-9):.0f}",
            mb(run["scan"]),
            mb(run["send"]),
            mb(run["results"]),
            mb(run["whole"]),
        )
        for size, run in zip(sizes, runs, strict=True)
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))


def verdict(runs: list[dict[str, Any]]) -> str:
    small, large = runs[0]["send"], runs[-1]["send"]
    ratio = large / small
    ok = ratio <= GOAL_RATIO and large / 1024 < GOAL_MB
    goal = f"largest <= {GOAL_RATIO}x smallest and < {GOAL_MB} MB"
    return f"send phase: {ratio:.2f}x, {large / 1024:.0f} MB: {'PASS' if ok else 'FAIL'} ({goal})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 rows")
    parser.add_argument("--sizes", default="20000,200000", help="rows per import, comma-separated")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--child", nargs=2, metavar=("URL", "SHEET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.workers)
        return
    from bulk_loader.sandbox import load_account, serve_in_thread

    if _two_cores():
        os.sched_setaffinity(0, {0})  # the sandbox; the imports run on core 1
    sizes = [2000, 20000] if args.quick else [int(s) for s in args.sizes.split(",")]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-send-memory-") as tmp:
        for size in sizes:
            sheet = write_sheet(Path(tmp) / f"leads-{size}.csv", size)
            started = time.monotonic()
            with serve_in_thread(load_account(SAMPLE), rate=None) as running:
                runs.append(measure(running.url, sheet, args.workers))
            print(f"  {size:,} rows: {time.monotonic() - started:.0f} s", file=sys.stderr)
    print_table(sizes, runs)
    print(f"\n{verdict(runs)}")
    print(
        "Peak RSS (VmHWM) of the import's own process, per phase; the sandbox runs in "
        "another.\nsend: from the first row sent to the last; scan: start-up, preflight "
        "and the sheet into the journal; results: the workbook and failed-rows file."
    )


if __name__ == "__main__":
    main()
