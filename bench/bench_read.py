"""Reading benchmark: our sheet reader against openpyxl alone, and CSV memory at scale.

    .venv/bin/python bench/bench_read.py            # 100k-row XLSX; 100k and 1M-row CSV
    .venv/bin/python bench/bench_read.py --quick    # 10x smaller, for a smoke run

Figures, not assertions (issue 2's goals are printed beside them):
- XLSX: time for openpyxl read-only to iterate every cell, vs our reader turning every
  cell into text and chunking (goal for the whole dry run: at most 1.5x).
- CSV: peak RSS of a fresh process reading every chunk, 100k vs 1M rows
  (goal for the dry run: under 500 MB and under 1.5x the 100k peak).
Generated files are cached in bench/out/ (git-ignored); delete it to regenerate.
The functions are importable so a full dry-run bench can reuse the files and timers.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell

OUT = Path(__file__).parent / "out"
COLUMNS = 20


def lead_row(i: int, columns: int = COLUMNS) -> list[object]:
    """One realistic lead: text, a phone stored as float, a zip, a date, a number, tags."""
    fixed: list[object] = [
        f"lead{i}@example.com",
        f"First{i % 997}",
        f"Last{i % 1999}",
        14155550100.0 + i,
        i % 99_999,
        datetime(2024, 1, 1) + timedelta(minutes=i),
        round(i * 0.37, 2),
        "Europe/Bucharest" if i % 3 else "America/New_York",
        "red;blue" if i % 2 else "green",
        "newsletter",
    ]
    extra = [f"value {c}-{i % 313}" for c in range(len(fixed), columns)]
    return (fixed + extra)[:columns]


def headers(columns: int = COLUMNS) -> list[str]:
    named = ["Email", "First Name", "Last Name", "Phone", "Zip", "Signed Up", "Score"]
    named += ["Time zone", "Tags", "Lists"]
    return (named + [f"Extra {c}" for c in range(len(named), columns)])[:columns]


def make_xlsx(path: Path, rows: int, columns: int = COLUMNS) -> Path:
    """An XLSX like Excel writes (shared strings, number formats), streamed by openpyxl."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Leads")
    sheet.append(headers(columns))
    for i in range(rows):
        values = lead_row(i, columns)
        cells: list[object] = list(values)
        if columns > 4:  # the zip keeps its leading zero only through its format
            zip_cell = WriteOnlyCell(sheet, value=values[4])
            zip_cell.number_format = "00000"
            cells[4] = zip_cell
        if columns > 5:
            date_cell = WriteOnlyCell(sheet, value=values[5])
            date_cell.number_format = "yyyy-mm-dd hh:mm"
            cells[5] = date_cell
        sheet.append(cells)
    partial = path.with_suffix(".part")
    workbook.save(partial)
    partial.rename(path)
    return path


def make_csv(path: Path, rows: int, columns: int = COLUMNS) -> Path:
    """A UTF-8 CSV of `rows` leads (as text: the CSV reader converts nothing)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(headers(columns))
        writer.writerows(lead_row(i, columns) for i in range(rows))
    partial.rename(path)
    return path


def time_openpyxl(path: Path) -> float:
    """Seconds for openpyxl read-only to iterate every cell (the floor for XLSX)."""
    start = time.perf_counter()
    workbook = load_workbook(path, read_only=True, data_only=True)
    worksheet = workbook.worksheets[0]
    for row in worksheet.iter_rows():
        for cell in row:
            cell.value  # noqa: B018 (touch every value, as any reader must)
    workbook.close()
    return time.perf_counter() - start


def time_reader(path: Path) -> tuple[float, int]:
    """Seconds for bulk_loader's sheet reader to read every chunk, and the rows read."""
    from bulk_loader.sheets.opening import open_sheet

    start = time.perf_counter()
    rows = 0
    with open_sheet(path) as sheet:
        for chunk in sheet.chunks():
            rows += len(chunk.rows)
    return time.perf_counter() - start, rows


_CHILD = """
import json, resource, sys, time
from pathlib import Path
start = time.perf_counter()
from bulk_loader.sheets.opening import open_sheet
rows = 0
with open_sheet(Path(sys.argv[1])) as sheet:
    for chunk in sheet.chunks():
        rows += len(chunk.rows)
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - start,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def peak_rss_reading(path: Path) -> dict[str, float]:
    """Peak RSS (MB), seconds and rows of a fresh interpreter reading every chunk."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _step(label: str, make: Callable[[], Path]) -> Path:
    start = time.perf_counter()
    path = make()
    print(f"  {label}: {path.name} ready in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller files")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    xlsx_rows, csv_small, csv_large = 100_000 // scale, 100_000 // scale, 1_000_000 // scale

    print("Generating (cached in bench/out/):")
    xlsx = _step("xlsx", lambda: make_xlsx(OUT / f"leads-{xlsx_rows}.xlsx", xlsx_rows))
    small = _step("csv", lambda: make_csv(OUT / f"leads-{csv_small}.csv", csv_small))
    large = _step("csv", lambda: make_csv(OUT / f"leads-{csv_large}.csv", csv_large))

    print(f"\nXLSX, {xlsx_rows:,} rows x {COLUMNS} columns")
    floor = time_openpyxl(xlsx)
    ours, rows = time_reader(xlsx)
    print(f"  {'openpyxl read-only, every cell':38} {floor:7.1f} s")
    print(f"  {'bulk_loader open_sheet, every chunk':38} {ours:7.1f} s   ({rows:,} rows)")
    print(f"  {'ratio (goal for the dry run: <= 1.5)':38} {ours / floor:7.2f}")

    print(f"\nCSV, {COLUMNS} columns, fresh process per file")
    peaks = {}
    for path, count in ((small, csv_small), (large, csv_large)):
        figures = peak_rss_reading(path)
        peaks[count] = figures["peak_mb"]
        print(
            f"  {count:>9,} rows  peak RSS {figures['peak_mb']:6.1f} MB"
            f"   {figures['seconds']:5.1f} s   ({int(figures['rows']):,} rows read)"
        )
    ratio = peaks[csv_large] / peaks[csv_small]
    print(f"  {'peak ratio (goal: < 1.5, and < 500 MB)':38} {ratio:7.2f}")


if __name__ == "__main__":
    main()
