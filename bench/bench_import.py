"""Import benchmarks from issue 4 ("Run the import"): figures, not a test. About 5 minutes.

(a) 2,000 rows, sandbox at its default 20 calls/s and 150 ms latency, the CLI at its
    defaults (--rate 20, 8 workers): create, then edit the same leads with tags and
    lists. Goals: at least 97% of 20 rows/s, 429s at most 1% of calls, 1.00 calls/row.
(b) Upsert, sandbox limit off and 2 ms latency, --rate 0: a 50/50 mix of new and
    existing leads, shuffled and with the existing rows first (goal: at most 1.5
    calls/row), and shuffled 95/5 mixes either way (1.1). The existing leads are
    created first by a separate create run of just those rows.
(c) Create, sandbox limit off and 20 ms latency, --rate 0: at least 400 rows/s with the
    chosen --workers (16, the default when --rate is 0); 8 workers is reported too.

Usage: .venv/bin/python bench/bench_import.py [--quick] [--rows 2000] [--workers 16]

What is measured, and how:
- The sandbox is `bulk-loader sandbox serve` in its own process (pinned to core 0, see
  _server.py); each import is the real CLI, `python -m bulk_loader run`, in a fresh
  subprocess pinned to core 1, on a fresh sheet with `--restart --yes`.
- calls/row and 429s are counted by the sandbox (its /_control stats, before and after
  each run): row calls are create_lead + edit_lead + search_lead, so the three preflight
  look-ups are left out; 429s are shown as a share of every call the run made.
- rows/s = rows sent / sending time, where sending time is the run's own (Summary sheet:
  "sending time (s)"). As a cross-check, "ext rows/s" is timed from outside:
  from the moment the CLI prints its estimate line (just before sending) to the last
  change of the sandbox's call count (polled every 50 ms).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).parent))
from _server import control_headers, standing_sandbox

ENV = {
    "KARTRA_APP_ID": "sandbox-app",
    "KARTRA_API_KEY": "sandbox-key",
    "KARTRA_API_PASSWORD": "sandbox-password",
}
ROW_CMDS = ("create_lead", "edit_lead", "search_lead")
# The runs' shared budgets and lead memories: the bench's own, not the user's.
CACHE = tempfile.mkdtemp(prefix="bench-import-cache-")
RUN_TIMEOUT = 600  # seconds: no single run may hang the benchmark
POLL_SECONDS = 0.05  # how often the sandbox's call count is read during a run


@dataclass
class Figures:
    """One import run as the table shows it."""

    scenario: str
    rows: int
    calls_per_row: float
    rows_per_s: float
    ext_rows_per_s: float
    rate_limited: int
    calls: int
    summary: dict[str, Any]
    verdict: str = ""


# -- sheets --------------------------------------------------------------------------


def write_sheet(path: Path, emails: list[str], first_name: str) -> Path:
    """A CSV with Kartra-named headers, so no template is needed."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["email", "first_name", "tags", "lists"])
        out.writerows([email, first_name, "VIP;Customer", "Events"] for email in emails)
    return path


def emails(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}@example.com" for n in range(count)]


# -- the sandbox's side --------------------------------------------------------------


def control(api_url: str, op: str, conn: http.client.HTTPConnection | None = None) -> Any:
    """One POST /_control; `conn` reuses a keep-alive connection (no server thread each)."""
    parts = urlsplit(api_url)
    own = conn is None
    conn = conn or http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("POST", "/_control", json.dumps({"op": op}), control_headers(api_url))
        return json.loads(conn.getresponse().read())
    finally:
        if own:
            conn.close()


def stats(api_url: str, conn: http.client.HTTPConnection | None = None) -> dict[str, Any]:
    snapshot: dict[str, Any] = control(api_url, "stats", conn)["stats"]
    return snapshot


class LastCall:
    """Polls the sandbox's call count over one keep-alive connection; notes its last change."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.at = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        parts = urlsplit(self.api_url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        seen = -1
        try:
            while not self._stop.wait(POLL_SECONDS):
                calls = stats(self.api_url, conn)["calls_total"]
                if calls != seen:
                    seen, self.at = calls, time.monotonic()
        finally:
            conn.close()

    def __enter__(self) -> LastCall:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -- one import ------------------------------------------------------------------------


def run_import(
    api_url: str, sheet: Path, mode: str, *, rate: float, workers: int, scenario: str
) -> Figures:
    """`bulk-loader run` in a subprocess; its figures from the sandbox and its Summary."""
    command = [
        sys.executable, "-m", "bulk_loader", "run", str(sheet), "--mode", mode,
        "--api-url", api_url, "--rate", f"{rate:g}", "--workers", str(workers),
        "--restart", "--yes", "--no-memory",  # the upsert guesses are what is measured
    ]  # fmt: skip
    pin = (lambda: os.sched_setaffinity(0, {1})) if _two_cores() else None
    before = stats(api_url)
    with LastCall(api_url) as last:
        child = subprocess.Popen(
            command,
            env={**os.environ, **ENV, "BULK_LOADER_CACHE": CACHE},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=pin,
        )
        try:
            estimate_at, err_lines = _read_stderr(child)
            out, _ = child.communicate(timeout=RUN_TIMEOUT)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    after = stats(api_url)
    if child.returncode != 0 or estimate_at is None:
        raise RuntimeError(f"{scenario}: exit {child.returncode}\n{out}{''.join(err_lines)}")
    summary = read_summary(sheet.with_name(sheet.name.removesuffix(".csv") + ".results.xlsx"))
    by_cmd = {cmd: after["by_cmd"].get(cmd, 0) - before["by_cmd"].get(cmd, 0) for cmd in ROW_CMDS}
    rows = int(summary["rows sent this run"])
    send_seconds = float(summary["sending time (s)"])
    return Figures(
        scenario=scenario,
        rows=rows,
        calls_per_row=sum(by_cmd.values()) / rows,
        rows_per_s=rows / send_seconds,
        ext_rows_per_s=rows / max(last.at - estimate_at, 1e-9),
        rate_limited=after["rate_limited"] - before["rate_limited"],
        calls=after["calls_total"] - before["calls_total"],
        summary=summary,
    )


def _two_cores() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1


def _read_stderr(child: subprocess.Popen[str]) -> tuple[float | None, list[str]]:
    """Wait for the estimate line ("N rows at R calls/s" / "N rows to send"); stamp it.

    The rest of stderr is drained by a thread so the child never blocks on a full pipe.
    """
    assert child.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    for line in child.stderr:
        lines.append(line)
        if " rows at " in line or " rows to send" in line:
            stamp = time.monotonic()
            rest = threading.Thread(target=lambda: lines.extend(child.stderr or ()), daemon=True)
            rest.start()
            return stamp, lines
        if time.monotonic() > deadline:
            break
    return None, lines


def read_summary(results: Path) -> dict[str, Any]:
    """The Summary sheet's key/value lines."""
    book = load_workbook(results, read_only=True)
    try:
        return {
            str(key): value
            for key, value, *_ in book["Summary"].iter_rows(values_only=True)
            if key is not None
        }
    finally:
        book.close()


# -- scenarios -------------------------------------------------------------------------


def scenario_a(folder: Path, rows: int) -> list[Figures]:
    """Create, then edit the same leads, at the defaults against a Kartra-like sandbox."""
    extra = ("--rate", "20", "--latency-ms", "150")  # the serve defaults, stated
    addresses = emails("a", rows)
    with standing_sandbox(0, *extra) as (url, _pid):
        create = write_sheet(folder / "a-create.csv", addresses, "Created")
        edit = write_sheet(folder / "a-edit.csv", addresses, "Edited")
        return [
            run_import(url, create, "create", rate=20, workers=8, scenario="(a) create"),
            run_import(url, edit, "edit", rate=20, workers=8, scenario="(a) edit"),
        ]


def scenario_b(folder: Path, rows: int, mixes: list[tuple[int, bool]]) -> list[Figures]:
    """Upsert on mixes of new and existing leads: (percent new, shuffled or existing first)."""
    results = []
    with standing_sandbox(0, "--latency-ms", "2") as (url, _pid):
        for new_pct, shuffled in mixes:
            tag = f"b{new_pct}-{'mixed' if shuffled else 'sorted'}-"
            existing = emails(tag + "old", rows * (100 - new_pct) // 100)
            fresh = emails(tag + "new", rows - len(existing))
            seed = write_sheet(folder / f"{tag}seed.csv", existing, "Seeded")
            run_import(url, seed, "create", rate=0, workers=8, scenario="seed")
            mixed = existing + fresh
            if shuffled:
                random.Random(4).shuffle(mixed)
            sheet = write_sheet(folder / f"{tag}upsert.csv", mixed, "Upserted")
            order = "shuffled" if shuffled else "existing first"
            name = f"(b) upsert {new_pct}/{100 - new_pct} new/existing, {order}"
            results.append(run_import(url, sheet, "upsert", rate=0, workers=8, scenario=name))
    return results


def scenario_c(folder: Path, rows: int, workers: list[int]) -> list[Figures]:
    """Create with no limit anywhere: how fast the tool itself can go."""
    results = []
    with standing_sandbox(0, "--latency-ms", "20") as (url, _pid):
        for count in workers:
            sheet = write_sheet(folder / f"c-w{count}.csv", emails(f"c{count}-", rows), "Fast")
            name = f"(c) create, --workers {count}"
            results.append(run_import(url, sheet, "create", rate=0, workers=count, scenario=name))
    return results


# -- verdicts and the table ------------------------------------------------------------


def judge_a(fig: Figures) -> str:
    checks = [
        fig.rows_per_s >= 0.97 * 20,
        fig.rate_limited <= 0.01 * fig.calls,
        round(fig.calls_per_row, 2) == 1.00,
    ]
    return _verdict(checks, ">=19.4 rows/s, <=1% 429, 1.00 calls/row")


def judge_b(fig: Figures, limit: float) -> str:
    return _verdict([fig.calls_per_row <= limit], f"<={limit} calls/row")


def judge_c(fig: Figures, chosen: bool) -> str:
    if not chosen:
        return "(info) 8 workers, the default at Kartra's rate; goal 400 rows/s"
    return _verdict([fig.rows_per_s >= 400], ">=400 rows/s")


def _verdict(checks: list[bool], goal: str) -> str:
    return f"{'PASS' if all(checks) else 'FAIL'} ({goal})"


def print_table(figures: list[Figures]) -> None:
    header = ("scenario", "rows", "calls/row", "rows/s", "ext rows/s", "429s (% calls)", "target")
    lines = [
        (
            fig.scenario,
            str(fig.rows),
            f"{fig.calls_per_row:.3f}",
            f"{fig.rows_per_s:.1f}",
            f"{fig.ext_rows_per_s:.1f}",
            f"{fig.rate_limited} ({100 * fig.rate_limited / max(fig.calls, 1):.2f}%)",
            fig.verdict,
        )
        for fig in figures
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *lines]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sheets: a smoke run")
    parser.add_argument("--rows", type=int, default=2000, help="rows for (a) and (b)")
    parser.add_argument("--fast-rows", type=int, default=4000, help="rows for (c)")
    parser.add_argument("--workers", type=int, default=16, help="workers for (c)'s goal")
    parser.add_argument("--only", default="abc", help="scenarios to run, e.g. 'bc'")
    args = parser.parse_args()
    rows, fast_rows = (200, 800) if args.quick else (args.rows, args.fast_rows)
    figures: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        if "a" in args.only:
            for fig in scenario_a(folder, rows):
                fig.verdict = judge_a(fig)
                figures.append(fig)
        if "b" in args.only:
            mixes = [(50, True), (50, False), (95, True), (5, True)]
            for fig, limit in zip(
                scenario_b(folder, rows, mixes), (1.5, 1.5, 1.1, 1.1), strict=True
            ):
                fig.verdict = judge_b(fig, limit)
                figures.append(fig)
        if "c" in args.only:
            for fig in scenario_c(folder, fast_rows, sorted({8, args.workers})):
                fig.verdict = judge_c(fig, chosen=fig.scenario.endswith(f" {args.workers}"))
                figures.append(fig)
    print_table(figures)
    print(
        "\nrows/s: rows sent / the run's own sending time (Summary sheet); ext rows/s: from "
        "the estimate line to the sandbox's last call.\ncalls/row and 429s: counted by the "
        "sandbox (row calls only; preflight look-ups left out)."
    )


if __name__ == "__main__":
    main()
