"""Upsert with known leads (issue 10, benchmark c): lead-write calls per row, a table.

    python bench/bench_known.py [--rows 2000]

A sandbox (no rate limit) holds half the sheet's leads already. The sheet, shuffled
50/50 new and existing, is imported in upsert mode three ways:
- no hints: the adaptive guess (create first or edit first, from recent rows);
- --known FILE listing the existing half (as a Kartra contacts export would);
- the same rows edited (another city), as a new sheet, with only the lead memory that
  the --known run left (every lead now exists and the memory knows them all).
Lead-write calls = create_lead + edit_lead made by the run, per row. Goal: <= 1.02
with --known and with the memory.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import random
import tempfile
from pathlib import Path

from bulk_loader import Credentials, KartraClient, Loader, RetryPolicy
from bulk_loader.sandbox import load_account, serve_in_thread

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = Credentials("sandbox-app", "sandbox-key", "sandbox-password")


def write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([header, *rows])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    rows = parser.parse_args().rows
    folder = Path(tempfile.mkdtemp(prefix="bench-known-"))
    os.environ["BULK_LOADER_CACHE"] = str(folder / "cache")  # the bench's own memory
    existing = [f"old{n}@example.com" for n in range(rows // 2)]
    new = [f"new{n}@example.com" for n in range(rows - rows // 2)]
    emails = existing + new
    random.Random(2026).shuffle(emails)
    account = load_account(ROOT / "samples" / "account.toml")
    account = dataclasses.replace(
        account, leads=(*account.leads, *({"email": e} for e in existing))
    )
    known = write(folder / "contacts.csv", ("Email",), [(e,) for e in existing])
    table = []
    with (
        serve_in_thread(account, rate=None) as sandbox,
        KartraClient(CREDENTIALS, api_url=sandbox.url) as client,
    ):
        hinted = {"known": known, "memory": True}
        runs = [
            ("no hints (adaptive guess)", "Oslo", {"memory": False}, True),
            ("--known listing the existing half", "Oslo", hinted, True),
            ("edited rows as a new sheet, memory only", "Bergen", {"memory": True}, False),
        ]  # fmt: skip
        for number, (label, city, extra, reset) in enumerate(runs):
            if reset:
                sandbox.sandbox.reset()
            before = sandbox.stats.snapshot()["by_cmd"]
            sheet = write(folder / f"sheet{number}.csv", ("email", "city"),
                          [(e, city) for e in emails])  # fmt: skip
            summary = Loader(sheet, mode="upsert").run(
                client,
                rate=None,
                workers=8,
                policy=RetryPolicy.instant(),
                **extra,  # type: ignore[arg-type]
            )
            after = sandbox.stats.snapshot()["by_cmd"]
            writes = sum(after.get(c, 0) - before.get(c, 0) for c in ("create_lead", "edit_lead"))
            table.append((label, rows, writes / rows, summary.statuses["created"],
                          summary.statuses["updated"]))  # fmt: skip
    print(f"{'scenario':<42} {'rows':>6} {'writes/row':>10} {'created':>8} {'updated':>8}")
    for label, count, per_row, created, updated in table:
        print(f"{label:<42} {count:>6} {per_row:>10.3f} {created:>8} {updated:>8}")


if __name__ == "__main__":
    main()
