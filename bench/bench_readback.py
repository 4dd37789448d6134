"""The read-back's cost (issue 14): calls per row and seconds, with and without it.

    python bench/bench_readback.py [--rows 2000]

A sandbox at Kartra's 20 calls/s and 150 ms latency; the same new leads created three
times (a fresh account each): --verify 0, the default 5, and 50. Calls per row are all
the run's calls (account look-ups and read-backs included) over its rows.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from bulk_loader import Credentials, KartraClient, Loader
from bulk_loader.sandbox import serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    rows = parser.parse_args().rows
    folder = Path(tempfile.mkdtemp(prefix="bench-readback-"))
    os.environ["BULK_LOADER_CACHE"] = str(folder / "cache")  # the bench's own budget file
    table = []
    with serve_in_thread(ROOT / "samples" / "account.toml", rate=20, latency_ms=150) as sandbox:
        for verify in (0, 5, 50):
            sandbox.sandbox.reset()
            sheet = folder / f"verify{verify}.csv"
            with sheet.open("w", newline="") as out:
                csv.writer(out).writerows(
                    [("email", "first_name", "city"),
                     *((f"lead{n}@example.com", f"Lead{n}", "Oslo") for n in range(rows))]
                )  # fmt: skip
            with KartraClient(CREDENTIALS, api_url=sandbox.url) as client:
                started = time.monotonic()
                summary = Loader(sheet, mode="create").run(client, memory=False, verify=verify)
                seconds = time.monotonic() - started
            calls = summary.calls
            table.append((verify, rows, calls, calls / rows, seconds, summary.exit_code))
    print(f"{'--verify':>8} {'rows':>6} {'calls':>6} {'calls/row':>9} {'seconds':>8} {'exit':>4}")
    for verify, count, calls, per_row, seconds, code in table:
        print(f"{verify:>8} {count:>6} {calls:>6} {per_row:>9.4f} {seconds:>8.1f} {code:>4}")


if __name__ == "__main__":
    main()
