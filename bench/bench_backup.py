"""--backup's cost, and undo's (issue 14): calls per row and seconds.

    python bench/bench_backup.py [--rows 1000]

A sandbox at Kartra's 20 calls/s and 150 ms latency holds `rows` leads; a sheet edits
each (a new city, a tag). It is run in edit mode without --backup, then (the account
reset) with it, then undone. Calls per row are all the command's calls (account
look-ups and read-backs included) over its rows.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import tempfile
import time
from pathlib import Path

from bulk_loader import Credentials, KartraClient, Loader
from bulk_loader.sandbox import load_account, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    rows = parser.parse_args().rows
    folder = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    os.environ["BULK_LOADER_CACHE"] = str(folder / "cache")  # the bench's own budget file
    emails = [f"lead{n}@example.com" for n in range(rows)]
    account = load_account(ROOT / "samples" / "account.toml")
    account = dataclasses.replace(account, leads=(*account.leads, *({"email": e} for e in emails)))
    table = []
    with serve_in_thread(account, rate=20, latency_ms=150) as sandbox:
        for label, backup in (("edit", False), ("edit --backup", True), ("undo", None)):
            if backup is not None:
                sandbox.sandbox.reset()
            sheet = folder / f"{'backup' if backup is not False else 'plain'}.csv"
            if backup is not None:
                with sheet.open("w", newline="") as out:
                    csv.writer(out).writerows(
                        [("email", "city", "tags"), *((e, "Oslo", "VIP") for e in emails)]
                    )
            with KartraClient(CREDENTIALS, api_url=sandbox.url) as client:
                started = time.monotonic()
                loader = Loader(sheet, mode="edit")
                if backup is None:
                    calls, code = _undo(loader, client)
                else:
                    summary = loader.run(client, memory=False, backup=backup)
                    calls, code = summary.calls, summary.exit_code
                seconds = time.monotonic() - started
            table.append((label, rows, calls, calls / rows, seconds, code))
    print(f"{'command':<14} {'rows':>6} {'calls':>6} {'calls/row':>9} {'seconds':>8} {'exit':>4}")
    for label, count, calls, per_row, seconds, code in table:
        print(f"{label:<14} {count:>6} {calls:>6} {per_row:>9.3f} {seconds:>8.1f} {code:>4}")


def _undo(loader: Loader, client: KartraClient) -> tuple[int, int]:
    summary = loader.undo(client)
    return summary.calls, summary.exit_code


if __name__ == "__main__":
    main()
