"""Fuzz every reader at length (figures, not a test): 10,000 examples per target by default.

The targets and their inputs are the ones the CI fuzz tests run at ~100 examples
(tests/test_fuzz_sheets.py and tests/test_fuzz_template.py): random bytes and mutated
samples into the CSV reader, the XLSX reader and the template loader, and damaged
sheets through the whole `bulk-loader run --dry-run`. Each example ends as valid
rows, a clean error (one line naming the file, exit 3), or a failure: anything else.

Usage: .venv/bin/python bench/bench_fuzz.py [--examples 10000] [--only xlsx] [--show 3]
Failures are counted, not shrunk; the first few are printed with their input's size.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz_sheets  # noqa: E402
import test_fuzz_template  # noqa: E402

TARGETS = {**test_fuzz_sheets.TARGETS, **test_fuzz_template.TARGETS}
VALID, CLEAN = test_fuzz_sheets.VALID, test_fuzz_sheets.CLEAN


def run_target(name: str, examples: int, show: int) -> tuple[Counter[str], float]:
    strategy, check = TARGETS[name]
    counts: Counter[str] = Counter()
    shown = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # count failures; shrinking each would take hours
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy())
    def fuzz(case: Any) -> None:
        nonlocal shown
        try:
            counts[check(case)] += 1
        except Exception:
            counts["failure"] += 1
            if shown < show:
                shown += 1
                size = len(case) if isinstance(case, bytes) else len(repr(case))
                last = traceback.format_exc().strip().splitlines()[-1]
                print(f"  failure in {name} (input of {size:,} bytes): {last[:300]}")

    started = time.monotonic()
    fuzz()
    return counts, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=10_000, help="per target")
    parser.add_argument("--only", default="", help="run targets whose name contains this")
    parser.add_argument("--show", type=int, default=3, help="failures to print per target")
    args = parser.parse_args()

    rows = []
    for name in TARGETS:
        if args.only in name:
            counts, seconds = run_target(name, args.examples, args.show)
            rows.append((name, counts, seconds))
            print(f"  done: {name} ({seconds:.0f} s)", file=sys.stderr)

    width = max(len("target"), *(len(name) for name, *_ in rows))
    header = f"| {'target':<{width}} | examples |  valid | clean errors | failures |   time |"
    print(header)
    print("|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|")
    total: Counter[str] = Counter()
    for name, counts, seconds in rows:
        total += counts
        examples = sum(counts.values())
        print(
            f"| {name:<{width}} | {examples:>8,} | {counts[VALID]:>6,} | {counts[CLEAN]:>12,} "
            f"| {counts['failure']:>8,} | {seconds:>5.0f}s |"
        )
    print(
        f"| {'total':<{width}} | {sum(total.values()):>8,} | {total[VALID]:>6,} "
        f"| {total[CLEAN]:>12,} | {total['failure']:>8,} |        |"
    )
    sys.exit(1 if total["failure"] else 0)


if __name__ == "__main__":
    main()
