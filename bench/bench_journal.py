"""Journal overhead per row, measured on a real import against the sandbox (issue 5).

    python bench/bench_journal.py            # 100,000 rows (a few minutes)
    python bench/bench_journal.py --quick    # 10,000 rows

The import runs in this process against a standing sandbox in another one (limits off,
pinned to core 0). Every Journal method is wrapped so that the CPU time of the calling
thread spent inside it is added up: the journal is only ever used from the runner's
main thread, so that sum is the journal's whole cost. Target: under 0.3 ms per row.
"""

from __future__ import annotations

import argparse
import csv
import functools
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import standing_sandbox

from bulk_loader import Credentials, KartraClient, Loader
from bulk_loader.journal import store as journal_module

TARGET_MS = 0.3
spent: Counter[str] = Counter()
depth = [0]  # journal methods call each other (mark_sending -> flush): count the outer one


def timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        depth[0] += 1
        start = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                spent[name] += time.thread_time() - start

    return wrapper


def timed_generator(name: str, method: Callable[..., Iterator[Any]]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        inner = method(*args, **kwargs)
        while True:
            start = time.thread_time()
            try:
                item = next(inner)
            except StopIteration:
                spent[name] += time.thread_time() - start
                return
            spent[name] += time.thread_time() - start
            yield item

    return wrapper


def instrument() -> None:
    journal = journal_module.Journal
    for name in ("begin_scan", "add_rows", "add_leads", "invalidate", "finish_scan",
                 "mark_sending", "record", "flush", "count", "headers", "close"):  # fmt: skip
        setattr(journal, name, timed(name, getattr(journal, name)))
    for name in ("to_send", "rows"):
        setattr(journal, name, timed_generator(name, getattr(journal, name)))
    journal.open = classmethod(timed("open", journal.open.__func__))  # type: ignore[assignment]


def make_sheet(folder: Path, rows: int) -> Path:
    path = folder / "leads.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "first_name", "last_name", "city", "tags", "lists"])
        for n in range(rows):
            writer.writerow([f"lead{n}@bench.example.com", f"First{n}", f"Last{n}", "Boston",
                             "VIP;Customer", "Events"])  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10,000 rows instead of 100,000")
    parser.add_argument("--workers", type=int, default=16)
    rows = 10_000 if parser.parse_args().quick else 100_000
    workers = parser.parse_args().workers
    instrument()
    with tempfile.TemporaryDirectory() as folder, standing_sandbox() as (url, _pid):
        sheet = make_sheet(Path(folder), rows)
        credentials = Credentials("sandbox-app", "sandbox-key", "sandbox-password")
        with KartraClient(credentials, api_url=url) as client:
            cpu, wall = time.process_time(), time.perf_counter()
            summary = Loader(sheet, mode="create").run(
                client,
                rate=None,
                workers=workers,
                results=Path(folder) / "results.csv",
                memory=False,
            )
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    journal_ms = sum(spent.values()) * 1000
    print(f"rows imported            {summary.statuses['created']:>10,} of {rows:,}")
    print(f"wall time                {wall:>10.1f} s  ({rows / wall:,.0f} rows/s)")
    print(f"process CPU per row      {cpu * 1000 / rows:>10.3f} ms  (all threads)")
    print(f"journal CPU per row      {journal_ms / rows:>10.3f} ms  (target < {TARGET_MS})")
    for name, seconds in spent.most_common():
        print(f"  {name:<22} {seconds * 1000 / rows:>10.4f} ms/row")
    verdict = "PASS" if journal_ms / rows < TARGET_MS else "FAIL"
    print(f"journal overhead: {verdict}")


if __name__ == "__main__":
    main()
