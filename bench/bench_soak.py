"""Soak: 20,000 rows through faults, checked against the sandbox's final state (issue 6).

    python bench/bench_soak.py            # 20,000 rows, create then edit (a few minutes)
    python bench/bench_soak.py --rows 2000

The sandbox (rate limit off) answers 5% of calls with a 503 before acting, loses 5% of
answers after acting, resets 2% of connections before acting, answers 2% with a 502
after acting (a proxy), and adds 2-10 ms of latency. Phase 1 creates every row; phase 2
edits every row (new first name, one more tag). After each phase every row's status
and lead id are compared with what the sandbox holds. Wrong statuses and duplicate leads
must both be 0.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bulk_loader import Credentials, ImportSummary, KartraClient, Loader, RetryPolicy
from bulk_loader.journal.store import Journal
from bulk_loader.sandbox import FaultPlan, RunningSandbox, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
FAULTS = FaultPlan(error_5xx=0.05, lost=0.05, reset=0.02, gateway=0.02, seed=2026)
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


def write_sheet(path: Path, rows: int, phase: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "tags", "lists"])
        tags = "VIP" if phase == 1 else "VIP;Customer"
        for n in range(rows):
            writer.writerow([f"soak{n}@example.com", f"Phase{phase}-{n}", tags, "Events"])


def check(sheet: Path, summary: ImportSummary, sandbox: RunningSandbox, phase: int) -> Counter[str]:
    """Compare every row's outcome with the sandbox: wrong statuses, duplicates, lost rows."""
    expected = "created" if phase == 1 else "updated"
    found: Counter[str] = Counter()
    journal = Journal.open_readonly(summary.journal)
    try:
        for row in journal.rows():
            email = row.cells[0]
            lead = sandbox.state.find(email=email)
            right = (
                lead is not None
                and row.status == expected
                and row.lead_id == lead.id
                and lead.fields.get("first_name") == row.cells[1]
                and sorted(lead.tags) == sorted(row.cells[2].split(";"))
            )
            found["rows"] += 1
            found["wrong statuses"] += not right
            found[f"status {row.status}"] += 1
    finally:
        journal.close()
    by_email = Counter(lead.email.lower() for lead in sandbox.state.leads.values())
    found["duplicates"] = sum(count - 1 for count in by_email.values() if count > 1)
    return found


def phase(folder: Path, sandbox: RunningSandbox, rows: int, number: int) -> None:
    sheet = folder / "soak.csv"
    write_sheet(sheet, rows, number)
    mode = "create" if number == 1 else "edit"
    before = sandbox.stats.snapshot()
    with KartraClient(CREDENTIALS, api_url=sandbox.url, timeout=10) as client:
        summary = Loader(sheet, mode=mode).run(  # type: ignore[arg-type]
            client,
            rate=None,
            workers=8,
            results=folder / "results.csv",
            policy=RetryPolicy(base_delay=0.05, max_delay=0.5),
            memory=False,
        )
    after = sandbox.stats.snapshot()
    faults = {
        k: after["faults"].get(k, 0) - before.get("faults", {}).get(k, 0)
        for k in ("error_5xx", "lost", "reset", "gateway")
    }
    found = check(sheet, summary, sandbox, number)
    print(
        f"\nphase {number}: {mode} {rows:,} rows "
        f"({summary.send_seconds:.0f} s, {summary.sent / summary.send_seconds:,.0f} rows/s)"
    )
    table = [
        ("rows", found["rows"]),
        ("faults: 503 before acting", faults["error_5xx"]),
        ("faults: answer lost after acting", faults["lost"]),
        ("faults: connection reset", faults["reset"]),
        ("faults: 502 after acting", faults["gateway"]),
        ("retries (transient)", summary.retries),
        ("reconciliations (search after a lost answer)", summary.reconciliations),
        ("calls per row", f"{summary.row_calls / max(summary.sent, 1):.3f}"),
        *[(f"rows {k[7:]}", v) for k, v in sorted(found.items()) if k.startswith("status ")],
        ("wrong statuses (must be 0)", found["wrong statuses"]),
        ("duplicate leads (must be 0)", found["duplicates"]),
    ]
    for name, value in table:
        print(f"  {name:<46} {value:>10}")
    if found["wrong statuses"] or found["duplicates"] or found["rows"] != rows:
        sys.exit(f"phase {number}: FAIL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    rows = parser.parse_args().rows
    with (
        tempfile.TemporaryDirectory() as folder,
        serve_in_thread(
            ROOT / "samples" / "account.toml", rate=None, latency_ms=2, jitter_ms=8, faults=FAULTS
        ) as sandbox,
    ):
        for number in (1, 2):
            phase(Path(folder), sandbox, rows, number)
    print("\nsoak: PASS")


if __name__ == "__main__":
    main()
