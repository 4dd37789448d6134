"""Dry-run benchmarks from issue 2 (figures, not a test). Takes several minutes.

1. A dry run of a 100,000-row, 20-column XLSX against the time openpyxl alone needs to
   iterate that file's cells in read-only mode (goal: at most 1.5x).
2. Peak memory of a dry run of a 1,000,000-row CSV with CSV results against a
   100,000-row one (goal: under 500 MB, and under 1.5x the 100,000-row peak).

Usage: .venv/bin/python bench/bench_dry_run.py [--rows 100000] [--big-rows 1000000]
Inputs are generated in a temporary directory; every run is a fresh subprocess.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADERS = [
    "Email", "First Name", "Last Name", "Phone", "Country Code", "Company", "Address",
    "City", "State", "Zip Code", "Country", "Time zone", "Website", "LinkedIn", "Colours",
    "Plan", "Source", "Favorite Dish", "Tags", "Lists",
]  # fmt: skip
TEMPLATE = """
[fields]
email = "Email"
first_name = "First Name"
last_name = "Last Name"
phone = "Phone"
phone_country_code = "Country Code"
company = "Company"
address = "Address"
city = "City"
state = "State"
zip = "Zip Code"
country = "Country"
lead_preferred_time_zone = "Time zone"
website = "Website"
linkedin = "LinkedIn"
[custom_fields.color]
column = "Colours"
type = "checkbox"
separator = ";"
options = { red = 620, blue = 621, green = 622 }
[custom_fields.plan]
column = "Plan"
type = "drop_down"
options = { basic = 630, pro = 631, enterprise = 632 }
[custom_fields.source_channel]
column = "Source"
type = "radio_button"
options = { web = 640, event = 641, referral = 642 }
[custom_fields.favorite_dish]
column = "Favorite Dish"
type = "input_field"
[actions]
tags = { column = "Tags", separator = ";" }
lists = { column = "Lists", separator = ";" }
"""
ZONES = ["America/New_York", "Europe/London", "Asia/Tokyo", "Europe/Paris"]  # 1 in 4 bad


def row(n: int) -> list[object]:
    """One lead; every 50th row has a bad email so problems are exercised too."""
    email = f"lead{n}@example{'' if n % 50 == 0 else '.com'}"
    return [
        email, f"First{n}", f"Last{n}", float(14155550000 + n), "+1", "Example Co",
        f"{n} Example Street", "Boston", "MA", 2134 if n % 2 else 60601, "US",
        ZONES[n % 4] if n % 100 == 0 else "America/Chicago", "https://example.com", "",
        "red;blue", "pro", "web", "lasagna", "VIP;Customer", "Events",
    ]  # fmt: skip


def make_xlsx(path: Path, rows: int) -> None:
    """Like a workbook Excel saves: strings in the shared-string table (openpyxl's way)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(HEADERS)
    for n in range(1, rows + 1):
        values = row(n)
        zip_cell = WriteOnlyCell(sheet, value=values[9])
        zip_cell.number_format = "00000"
        values[9] = zip_cell
        sheet.append(values)
    book.save(path)


def make_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADERS)
        for n in range(1, rows + 1):
            values = row(n)
            values[3] = str(int(values[3]))  # type: ignore[call-overload]
            values[9] = f"{values[9]:05d}"
            writer.writerow(values)


# Runs a command in a child and reports its wall time and peak RSS (ru_maxrss, KiB).
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "exit": code}))
"""

OPENPYXL_ITERATE = """
import sys
from openpyxl import load_workbook
book = load_workbook(sys.argv[1], read_only=True)
count = 0
for cells in book.worksheets[0].iter_rows():
    for cell in cells:
        cell.value
        count += 1
book.close()
"""


def measure(*command: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def dry_run(sheet: Path, template: Path, results: Path) -> list[str]:
    return [sys.executable, "-m", "bulk_loader", "run", str(sheet), "--template",
            str(template), "--dry-run", "--results", str(results)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-dry-run-") as tmp:
        work = Path(tmp)
        template = work / "t.toml"
        template.write_text(TEMPLATE, encoding="utf-8")

        xlsx = work / "leads.xlsx"
        make_xlsx(xlsx, args.rows)
        base = measure(sys.executable, "-c", OPENPYXL_ITERATE, str(xlsx))
        run = measure(*dry_run(xlsx, template, work / "r.xlsx"))
        ratio = run["seconds"] / base["seconds"]
        lines.append(f"{'openpyxl read-only iteration':44} {base['seconds']:8.1f} s")
        lines.append(f"{f'dry run, {args.rows:,} x 20 XLSX -> XLSX':44} {run['seconds']:8.1f} s"
                     f"   {ratio:.2f}x  (goal <= 1.5x)  peak {run['peak_mb']:.0f} MB")  # fmt: skip
        xlsx.unlink()

        peaks = {}
        for rows in (args.rows, args.big_rows):
            sheet = work / f"leads{rows}.csv"
            make_csv(sheet, rows)
            peaks[rows] = measure(*dry_run(sheet, template, work / "r.csv"))
            sheet.unlink()
        small, big = peaks[args.rows], peaks[args.big_rows]
        for rows, got in peaks.items():
            label = f"dry run, {rows:,}-row CSV -> CSV"
            lines.append(f"{label:44} {got['seconds']:8.1f} s   peak {got['peak_mb']:.0f} MB")
        lines.append(f"{'peak ratio (big / small)':44} {big['peak_mb'] / small['peak_mb']:8.2f}x"
                     "  (goal < 1.5x, and < 500 MB)")  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")
